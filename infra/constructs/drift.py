"""The scheduled drift check: ``outer_orchestrator/drift/job.py`` as a Lambda on an EventBridge schedule.

The rule ``Names.drift_schedule_rule`` fires on ``cfg.drift.schedule`` and hands the function
the Scheduled Event itself, with no constant Input: the event's ``time`` ends the window the
job checks, so a retried or late delivery checks the window it was scheduled for. The local
twin (``outer_orchestrator/local_stack.py``) wires the same rule to the same handler.

Dependencies. The job imports numpy and pandas, and merging per-host baselines loads the
container code's ``inner_pipeline/code/common.py`` by path, which imports pyarrow. From
manylinux wheels those three unpack to about 310 MB (numpy 73, pandas 79, pyarrow 156),
over Lambda's 250 MB limit for a function and all its layers unzipped; bundling would also
need the target platform's wheels (network or Docker) at synth. AWS's "AWS SDK for pandas"
(awswrangler) managed layer carries all three with a pyarrow built and trimmed for Lambda
(47 MB zipped for py3.12 as released; about 155 MB unzipped as reported in
aws/aws-sdk-pandas discussion #1727, not measured here), which leaves room for the
Powertools layer (Powertools and pydantic, about 20 MB unzipped) and this code (under 1 MB).
If a layer bump ever crosses 250 MB, the deploy fails on CreateFunction, not at run time.

The layer's ARN is ``arn:aws:lambda:<region>:336392948345:layer:AWSSDKPandas-Python312:<n>``
(``...-Python312-Arm64:<n>`` on arm64), but ``<n>`` differs by region for the same library
release, so a literal ARN would be right in one region only. The stack therefore pins the
library release (``AWS_SDK_PANDAS_VERSION``) and resolves the ARN at deploy time from AWS's
public SSM parameter ``/aws/service/aws-sdk-pandas/<version>/py3.12/<arch>/layer-arn`` in the
stack's region, the way the Powertools layer is resolved: synth stays offline, and a
version bump is one reviewed line.
"""

from __future__ import annotations

import json
import re

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import sources
from infra.constructs.arns import Arns
from infra.constructs.data import DataPlane
from infra.constructs.relays import (
    ARCHITECTURE,
    EVENT_MAX_AGE,
    EVENT_RETRY_ATTEMPTS,
    LAMBDA_EXCLUDES,
    RUNTIME,
    VENDORED,
    acknowledge_xray,
    handler_log_group,
    powertools_layer,
    write_own_logs,
)
from infra.nag import acknowledge, logical_id
from shared.config import DualloopConfig, Stage
from shared.naming import Names

# The awswrangler release whose managed layer the job runs on (numpy 2, pandas 2, pyarrow).
AWS_SDK_PANDAS_VERSION = "3.16.1"
AWS_SDK_PANDAS_PARAMETER = (
    f"/aws/service/aws-sdk-pandas/{AWS_SDK_PANDAS_VERSION}/"
    f"py{RUNTIME.name.removeprefix('python')}/{ARCHITECTURE.name}/layer-arn"
)
HANDLER = "outer_orchestrator.drift.job.handler"
# The job, the config it rebuilds, and the container code it merges per-host baselines with
# (baseline.py loads <code root>/inner_pipeline/code/common.py by path). The CLI is workstation-only.
PACKAGES = ("outer_orchestrator/drift", "shared", "inner_pipeline/code/common.py")
EXCLUDES = ("outer_orchestrator/drift/cli.py", *LAMBDA_EXCLUDES)
# The awswrangler layer warns that under 512 MB may not do; 1 GB also buys CPU for parsing a
# day of captured JSON lines (a day at 1 request/s is ~86k lines, 1-2 thousand S3 objects).
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
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DualloopConfig,
        names: Names,
        data: DataPlane,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        if not _SCHEDULE.match(cfg.drift.schedule.strip()):
            raise ValueError(
                f"drift.schedule {cfg.drift.schedule!r} is not an EventBridge schedule expression "
                "(rate(...) or cron(...))"
            )
        arn = Arns(names)
        strict = cfg.stage is Stage.PROD

        log_group = handler_log_group(self, "Logs", cfg=cfg, data=data, function_name=names.drift_function)

        # Its own role: the relays' role answers task tokens, this one reads captures and publishes.
        self.role = iam.Role(
            self,
            "Role",
            role_name=f"{names.drift_function}-role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="dualloop drift check: read the serving chain, captures and baselines; write reports, metrics",
        )
        endpoint_configs = arn.sagemaker(f"endpoint-config/{names.model_name_prefix}-*")
        models = arn.sagemaker(f"model/{names.model_name_prefix}-*")
        group_packages = arn.sagemaker(f"model-package/{names.model_package_group}/*")
        any_package = arn.sagemaker("model-package/*")
        baseline_keys = f"{cfg.artifact_prefix}{BASELINE_KEYS}"
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                # endpoint -> endpoint config -> model -> model package (baseline.describe_deployment,
                # _deployed_package); configs and models are named <prefix>-<uuid> by the ASL.
                iam.PolicyStatement(
                    sid="DescribeEndpoint",
                    actions=["sagemaker:DescribeEndpoint"],
                    resources=[arn.sagemaker(f"endpoint/{names.endpoint}")],
                ),
                iam.PolicyStatement(
                    sid="DescribeEndpointConfigs",
                    actions=["sagemaker:DescribeEndpointConfig"],
                    resources=[endpoint_configs],
                ),
                iam.PolicyStatement(
                    sid="DescribeModels", actions=["sagemaker:DescribeModel"], resources=[models]
                ),
                iam.PolicyStatement(
                    sid="DescribeModelPackages",
                    actions=["sagemaker:DescribeModelPackage"],
                    resources=[group_packages],
                ),
                # The fallback that finds the package marked deployed to the endpoint (a model not
                # created from a package). A list request names no package ARN of the group to match
                # (only a group *name* filter), so model-package/* of this account and region is the
                # narrowest pattern sure to match; it reveals summaries, not artifacts.
                iam.PolicyStatement(
                    sid="ListModelPackages",
                    actions=["sagemaker:ListModelPackages"],
                    resources=[any_package],
                ),
                iam.PolicyStatement(
                    sid="ListCapturesAndBaselines",
                    actions=["s3:ListBucket"],
                    resources=[data.artifacts.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{CAPTURE_PREFIX}*", baseline_keys]}},
                ),
                iam.PolicyStatement(
                    sid="ReadCapturesAndBaselines",
                    actions=["s3:GetObject"],
                    resources=[
                        data.artifacts.arn_for_objects(f"{CAPTURE_PREFIX}*"),
                        data.artifacts.arn_for_objects(baseline_keys),
                    ],
                ),
                iam.PolicyStatement(
                    sid="WriteReports",
                    actions=["s3:PutObject"],
                    resources=[data.artifacts.arn_for_objects(f"{REPORT_PREFIX}*")],
                ),
                # Decrypt: SSE-KMS objects, and the environment (encrypted with the same key).
                iam.PolicyStatement(
                    sid="ProjectKeyDecrypt", actions=["kms:Decrypt"], resources=[data.key.key_arn]
                ),
                # New data keys only for S3 writing the reports.
                iam.PolicyStatement(
                    sid="ProjectKeyForReports",
                    actions=["kms:GenerateDataKey"],
                    resources=[data.key.key_arn],
                    # S3 (the reports) and SQS (a failed run's event, to the dead-letter queue).
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": [
                                f"s3.{names.region}.amazonaws.com",
                                f"sqs.{names.region}.amazonaws.com",
                            ]
                        }
                    },
                ),
                iam.PolicyStatement(
                    sid="PublishDriftMetrics",
                    actions=["cloudwatch:PutMetricData"],
                    resources=["*"],
                    conditions={"StringEquals": {"cloudwatch:namespace": names.metric_namespace}},
                ),
                write_own_logs(log_group),
            ],
        )
        policy.attach_to_role(self.role)
        artifacts = f"<{logical_id(data.artifacts)}.Arn>"
        for resource, reason in (
            (
                "*",
                "Only cloudwatch:PutMetricData, which has no resource for plain metrics; pinned by the "
                "cloudwatch:namespace condition to the drift namespace.",
            ),
            (
                endpoint_configs,
                "Endpoint configs are named <prefix>-<uuid> per deployment by the ASL; scoped to "
                "the project prefix.",
            ),
            (
                models,
                "Models are named <prefix>-<uuid> per deployment by the ASL; scoped to the project prefix.",
            ),
            (
                group_packages,
                "Model package versions are numbered by the registry; scoped to this project's group.",
            ),
            (
                any_package,
                "ListModelPackages names no package ARN of one group (only a group-name filter): "
                "model-package/* of this account and region is the narrowest pattern sure to match.",
            ),
            (
                f"{artifacts}/{CAPTURE_PREFIX}*",
                "Captured requests sit under <endpoint>/<variant>/yyyy/mm/dd/hh/, "
                "written by SageMaker; read-only, under the capture prefix.",
            ),
            (
                f"{artifacts}/{baseline_keys}",
                "Baselines sit under each pipeline execution's own prefix (execution "
                "ids are minted per run); read-only, the Preprocess baseline output only.",
            ),
            (
                f"{artifacts}/{REPORT_PREFIX}*",
                "Reports are keyed by endpoint and window end; write-only, under the drift report prefix.",
            ),
        ):
            acknowledge(policy, f"AwsSolutions-IAM5[Resource::{resource}]", reason)

        job = sources.REPO / "outer_orchestrator" / "drift" / "job.py"
        if not job.is_file():
            sources.missing_source(self, job, strict=strict)
        code_dir = sources.stage_packages("drift-code", PACKAGES, exclude=EXCLUDES)
        for distribution in VENDORED:
            sources.vendor_pure_python(code_dir, distribution)

        aws_sdk_pandas = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "AwsSdkPandas",
            ssm.StringParameter.value_for_string_parameter(self, AWS_SDK_PANDAS_PARAMETER),
        )
        environment = config_environment(cfg)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=names.drift_function,
            description=f"Drift check of {names.endpoint}: captured requests vs the training baseline",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(code_dir)),
            # Later layers win on a clash: Powertools' pydantic stack over anything older.
            layers=[aws_sdk_pandas, powertools_layer(self)],
            role=self.role,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=EVENT_MAX_AGE,
            dead_letter_queue=dead_letters,  # what it fails on after Lambda's retries
            tracing=lambda_.Tracing.ACTIVE,
            environment=environment,
            environment_encryption=data.key,
            log_group=log_group,
        )
        self.function.node.add_dependency(policy)
        acknowledge_xray(self.role)
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"{RUNTIME.name} is pinned deliberately: the AWS SDK for pandas and Powertools layers are published "
            "per Python version, and the project tests on Python 3.11/3.12.",
        )

        self.schedule_rule = events.Rule(
            self,
            "ScheduleRule",
            rule_name=names.drift_schedule_rule,
            description=f"Drift check of {names.endpoint} ({cfg.drift.schedule}); the event's time ends the window",
            schedule=events.Schedule.expression(cfg.drift.schedule),
            # No Input: the function needs the Scheduled Event's own time.
            targets=[
                targets.LambdaFunction(
                    self.function,
                    retry_attempts=EVENT_RETRY_ATTEMPTS,
                    max_event_age=EVENT_MAX_AGE,
                    dead_letter_queue=dead_letters,
                )
            ],
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
