"""The scheduled drift check: ``outer_orchestrator/drift/job.py`` as a Lambda on an EventBridge schedule.

The rule ``Names.drift_schedule_rule`` fires on ``cfg.drift.schedule`` and hands the function
the Scheduled Event itself, with no constant Input: the event's ``time`` ends the window the
job checks, so a retried or late delivery checks the window it was scheduled for. The local
twin (``outer_orchestrator/local_stack.py``) wires the same rule to the same handler.

Dependencies. The job needs only the standard library, boto3 (in the runtime), pydantic
(``shared.config``, ``report.py``) and Powertools' Logger: the Powertools layer, and this code
with the pure-Python pieces of ``VENDORED``. Its statistics and the baseline format
(``shared/feature_baseline.py``, which Preprocess writes through) are written without numpy,
pandas or pyarrow, and it no longer ships the data scientists' ``inner_pipeline/code``: an
edit there cannot break this function. Before, the AWS SDK for pandas layer (numpy, pandas,
pyarrow: about 155 MB unzipped) brought function and layers to about 234 of Lambda's 250 MB
(unzipped, function and all its layers: "Lambda quotas", docs.aws.amazon.com/lambda/latest/dg/
gettingstarted-limits.html). Now: this code (under 2 MB, measured at synth by
tests/infra/test_infra_drift.py) plus the Powertools layer (``POWERTOOLS_LAYER_MB``), held
under ``SIZE_BUDGET_MB`` by that test.
"""

from __future__ import annotations

import json
import re

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import sources
from infra.constructs.lambdas import (
    EVENT_MAX_AGE,
    LAMBDA_EXCLUDES,
    code_asset,
    lambda_target,
    python_function,
)
from infra.constructs.statements import list_prefixes, objects, project_key, put_metric_data
from infra.context import StackContext
from infra.nag import logical_id
from shared.config import DualloopConfig

# Lambda's limit for a function and all its layers, unzipped ("Lambda quotas": 250 MB), and
# the budget the drift function keeps under it, so a layer bump cannot creep up to the limit.
UNZIPPED_LIMIT_MB = 250
SIZE_BUDGET_MB = 150
# The Powertools layer, unzipped. AWS publishes no unzipped size for it; the installed wheels of
# the pinned release with the extras the layer bundles (parser: pydantic and pydantic-core,
# tracer: aws-xray-sdk, validation: fastjsonschema) unpack to 17.5 MB for 3.37.0 (measured by
# tests/infra/test_infra_drift.py); counted as twice that, for what the layer may add.
POWERTOOLS_LAYER_MB = 35
HANDLER = "outer_orchestrator.drift.job.handler"
# The job and the config it rebuilds (shared/feature_baseline.py: the baseline's format and
# merge). Nothing from inner_pipeline. The CLI is workstation-only.
PACKAGES = ("outer_orchestrator/drift", "shared")
EXCLUDES = ("outer_orchestrator/drift/cli.py", *LAMBDA_EXCLUDES)
# 1 GB buys CPU (Lambda allocates it in proportion to memory) for parsing a day of captured
# JSON lines in pure Python (a day at 1 request/s is ~86k lines, 1-2 thousand S3 objects).
MEMORY_MB = 1024
TIMEOUT = Duration.minutes(10)
ASYNC_RETRY_ATTEMPTS = 2  # Lambda's own retries of a failed run (a repeat rewrites the same report)

# Where the job reads and writes in the artifact bucket, spelled again here because
# infrastructure does not import runtime code (tests keep them equal to the job's and the
# pipeline's): captured requests (the ASL's DataCaptureConfig, the job's CAPTURE_PREFIX),
# the Preprocess step's baseline output, and the job's reports.
CAPTURE_PREFIX = "datacapture/"
BASELINE_KEYS = "executions/*/Preprocess/baseline*"  # under cfg.artifact_prefix
REPORT_PREFIX = "drift/"

# Lambda's limit on a function's environment variables, keys and values together.
ENVIRONMENT_LIMIT_BYTES = 4096
# The fields the job's Names are spelled from; always set, defaults or not.
_IDENTITY_FIELDS = ("project", "stage", "region", "account_id")
_SCHEDULE = re.compile(r"^(rate|cron)\(.+\)$")


class DriftCheck(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, ctx: StackContext, *, dead_letters: sqs.IQueue
    ) -> None:
        super().__init__(scope, construct_id)
        cfg, names, data = ctx.cfg, ctx.names, ctx.data
        if not _SCHEDULE.match(cfg.drift.schedule.strip()):
            raise ValueError(
                f"drift.schedule {cfg.drift.schedule!r} is not an EventBridge schedule expression "
                "(rate(...) or cron(...))"
            )
        arn = ctx.arns
        endpoint_configs = arn.sagemaker(f"endpoint-config/{names.model_name_prefix}-*")
        models = arn.sagemaker(f"model/{names.model_name_prefix}-*")
        group_packages = arn.sagemaker(f"model-package/{names.model_package_group}/*")
        any_package = arn.sagemaker("model-package/*")
        baseline_keys = f"{cfg.artifact_prefix}{BASELINE_KEYS}"
        artifacts = f"<{logical_id(data.artifacts)}.Arn>"
        # endpoint -> endpoint config -> model -> model package (baseline.describe_deployment,
        # _deployed_package); configs and models are named <prefix>-<uuid> by the ASL.
        serving_chain = (
            ("DescribeEndpoint", "sagemaker:DescribeEndpoint", arn.sagemaker(f"endpoint/{names.endpoint}")),
            ("DescribeEndpointConfigs", "sagemaker:DescribeEndpointConfig", endpoint_configs),
            ("DescribeModels", "sagemaker:DescribeModel", models),
            ("DescribeModelPackages", "sagemaker:DescribeModelPackage", group_packages),
            # The fallback that finds the package marked deployed to the endpoint (a model not
            # created from a package). A list request names no package ARN of the group to match
            # (only a group *name* filter), so model-package/* of this account and region is the
            # narrowest pattern sure to match; it reveals summaries, not artifacts.
            ("ListModelPackages", "sagemaker:ListModelPackages", any_package),
        )
        # Its own role: the relays' role answers task tokens, this one reads captures and publishes.
        check = python_function(
            self,
            ctx,
            "",
            function_name=names.drift_function,
            role_name=names.drift_role,
            role_description="dualloop drift check: read the serving chain, captures and baselines; write reports, metrics",
            statements=[
                *(
                    iam.PolicyStatement(sid=sid, actions=[action], resources=[resource])
                    for sid, action, resource in serving_chain
                ),
                list_prefixes(
                    "ListCapturesAndBaselines", data.artifacts, f"{CAPTURE_PREFIX}*", baseline_keys
                ),
                objects("ReadCapturesAndBaselines", data.artifacts, f"{CAPTURE_PREFIX}*", baseline_keys),
                objects("WriteReports", data.artifacts, f"{REPORT_PREFIX}*", action="s3:PutObject"),
                # Decrypt: SSE-KMS objects, and the environment (encrypted with the same key).
                project_key(data.key, ["kms:Decrypt"], sid="ProjectKeyDecrypt"),
                # New data keys only for S3 writing the reports, and SQS (a failed run's event, to the
                # dead-letter queue).
                project_key(
                    data.key,
                    ["kms:GenerateDataKey"],
                    sid="ProjectKeyForReports",
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": [
                                f"s3.{names.region}.amazonaws.com",
                                f"sqs.{names.region}.amazonaws.com",
                            ]
                        }
                    },
                ),
                put_metric_data("PublishDriftMetrics", names.metric_namespace),
            ],
            wildcards={
                "*": "Only cloudwatch:PutMetricData, which has no resource for plain metrics; pinned by the "
                "cloudwatch:namespace condition to the drift namespace.",
                endpoint_configs: "Endpoint configs are named <prefix>-<uuid> per deployment by the ASL; scoped to "
                "the project prefix.",
                models: "Models are named <prefix>-<uuid> per deployment by the ASL; scoped to the project prefix.",
                group_packages: "Model package versions are numbered by the registry; scoped to this project's group.",
                any_package: "ListModelPackages names no package ARN of one group (only a group-name filter): "
                "model-package/* of this account and region is the narrowest pattern sure to match.",
                f"{artifacts}/{CAPTURE_PREFIX}*": "Captured requests sit under <endpoint>/<variant>/yyyy/mm/dd/hh/, "
                "written by SageMaker; read-only, under the capture prefix.",
                f"{artifacts}/{baseline_keys}": "Baselines sit under each pipeline execution's own prefix (execution "
                "ids are minted per run); read-only, the Preprocess baseline output only.",
                f"{artifacts}/{REPORT_PREFIX}*": "Reports are keyed by endpoint and window end; write-only, under the "
                "drift report prefix.",
            },
            handler=HANDLER,
            code=code_asset(
                self,
                ctx,
                "drift-code",
                PACKAGES,
                exclude=EXCLUDES,
                required=[sources.REPO / "outer_orchestrator" / "drift" / "job.py"],
            ),
            description=f"Drift check of {names.endpoint}: captured requests vs the training baseline",
            # Only the config it rebuilds (config_environment): its Logger names its service in code.
            environment=config_environment(cfg),
            powertools_service=False,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=EVENT_MAX_AGE,
            dead_letter_queue=dead_letters,  # what it fails on after Lambda's retries
        )
        self.role, self.function = check.role, check.function

        self.schedule_rule = events.Rule(
            self,
            "ScheduleRule",
            rule_name=names.drift_schedule_rule,
            description=f"Drift check of {names.endpoint} ({cfg.drift.schedule}); the event's time ends the window",
            schedule=events.Schedule.expression(cfg.drift.schedule),
            # No Input: the function needs the Scheduled Event's own time.
            targets=[lambda_target(self.function, dead_letters)],
        )


def config_environment(cfg: DualloopConfig) -> dict[str, str]:
    """``DUALLOOP_*`` variables from which ``shared.config.load_config()`` rebuilds ``cfg``.

    The identity fields always; any other top-level field only where it differs from the
    default (the deployed code has the same defaults), JSON for nested sections, as
    pydantic-settings reads them. So the job sees the stack's thresholds, schema and bucket
    names, not the defaults.
    """
    values = cfg.model_dump(mode="json", exclude_defaults=True)
    full = cfg.model_dump(mode="json", include=set(_IDENTITY_FIELDS))
    values = {**{k: full[k] for k in _IDENTITY_FIELDS}, **values}
    env = {
        f"DUALLOOP_{key.upper()}": value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"))
        for key, value in values.items()
    }
    size = sum(len(k) + len(v) for k, v in env.items())
    if size > ENVIRONMENT_LIMIT_BYTES:
        raise ValueError(
            f"the drift function's configuration takes {size} bytes of environment, over Lambda's "
            f"{ENVIRONMENT_LIMIT_BYTES}: {sorted(env)}"
        )
    return env
