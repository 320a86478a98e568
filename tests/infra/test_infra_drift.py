"""The drift check in the template: the function, its layers and environment, its role, and the
schedule rule; and that the role admits every call the job makes.

What this proves: the function runs the job's handler with the stack's configuration in its
environment, on AWS's Powertools layer pinned by version, well inside Lambda's unzipped size
limit; the rule sends the
Scheduled Event itself on the configured schedule; and, running the real handler against
recording fakes of SageMaker, S3 and CloudWatch with that environment and event, every call
lands inside the role's statements, in the layout the pipeline writes baselines in.
What it does not: IAM's own evaluation (this is a small evaluator of Allow statements with
StringLike/StringEquals conditions), or that the layers' contents fit (see
``test_infra_shipped_code.py`` and ``infra/constructs/drift.py``).
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from synth_support import Resolver, Synth, listify, role_statements

from infra.constructs.drift import (
    CAPTURE_PREFIX,
    POWERTOOLS_LAYER_MB,
    REPORT_PREFIX,
    SIZE_BUDGET_MB,
    UNZIPPED_LIMIT_MB,
    config_environment,
)
from infra.constructs.lambdas import POWERTOOLS_PARAMETER, POWERTOOLS_VERSION
from outer_orchestrator.statemachine.definition import outer_loop_document

if TYPE_CHECKING:
    from infra.pipeline_build import PipelineBuild
    from shared.config import DualloopConfig
    from shared.naming import Names

DRIFT_ACTIONS = {
    "sagemaker:DescribeEndpoint",
    "sagemaker:DescribeEndpointConfig",
    "sagemaker:DescribeModel",
    "sagemaker:DescribeModelPackage",
    "sagemaker:ListModelPackages",
    "s3:ListBucket",
    "s3:GetObject",
    "s3:PutObject",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "cloudwatch:PutMetricData",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sqs:SendMessage",  # a failed run's event, to the dead-letter queue
}


def _function(synth: Synth, resolve: Resolver, names: Names) -> dict[str, Any]:
    _, fn = synth.one("AWS::Lambda::Function", FunctionName=names.drift_function)
    props: dict[str, Any] = resolve(fn["Properties"])
    return props


def _drift_role(synth: Synth, resolve: Resolver, names: Names) -> list[dict[str, Any]]:
    return role_statements(synth, resolve, f"{names.drift_function}-role")


# ---- the function ----------------------------------------------------------------------------


def test_drift_function_runs_the_job_handler_with_pinned_layers(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    props = _function(synth, resolve, names)

    assert props["Handler"] == "outer_orchestrator.drift.job.handler"
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["x86_64"]
    assert props["Role"] == f"arn:aws:iam::{names.account}:role/{names.drift_function}-role"
    # A day of captures: CPU for parsing (Lambda scales it with memory), well inside Lambda's 15 min.
    assert props["MemorySize"] >= 512
    assert 60 <= props["Timeout"] <= 900
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert "KmsKeyArn" in props
    # No reservation: the schedule bounds its concurrency.
    assert "ReservedConcurrentExecutions" not in props

    # Powertools only (no numerical stack), from AWS's public SSM parameter for this runtime and
    # architecture, pinned by version.
    refs = [layer.removeprefix("<Ref:").removesuffix(">") for layer in props["Layers"]]
    (powertools,) = (synth.template["Parameters"][ref] for ref in refs)
    assert powertools["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert powertools["Default"] == f"/aws/service/powertools/python/x86_64/python3.12/{POWERTOOLS_VERSION}"

    _, log_group = synth.one("AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{names.drift_function}")
    assert "KmsKeyId" in log_group["Properties"]
    assert props["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{names.drift_function}"


def _mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def test_function_and_layers_fit_lambdas_unzipped_limit_with_a_margin(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    props = _function(synth, resolve, names)
    # GIVEN the function's code as synthesized (the staged asset directory, unzipped)
    (asset,) = synth.outdir.glob(f"asset.{props['Code']['S3Key'].split('.', 1)[0]}*")
    code_mib = _mib(asset)
    # AND every layer it names, each at its documented size (an undocumented one fails here)
    known = {POWERTOOLS_PARAMETER: POWERTOOLS_LAYER_MB}
    parameters = [
        synth.template["Parameters"][layer.removeprefix("<Ref:").removesuffix(">")]["Default"]
        for layer in props["Layers"]
    ]
    assert set(parameters) <= set(known), f"layers of unknown unzipped size: {set(parameters) - set(known)}"

    # WHEN they are added up
    total = code_mib + sum(known[p] for p in parameters)

    # THEN they stay under the budget, well inside Lambda's 250 MB
    assert SIZE_BUDGET_MB <= UNZIPPED_LIMIT_MB * 0.6
    assert total <= SIZE_BUDGET_MB, f"{code_mib:.1f} MiB of code + layers = {total:.1f} MiB"
    assert code_mib < 2, f"the drift code asset is {code_mib:.1f} MiB"


def test_the_powertools_allowance_covers_the_pinned_release() -> None:
    # GIVEN the installed Powertools release the layer is pinned to, with the extras the layer
    # bundles (parser, tracer, validation) and their dependencies
    powertools = metadata.distribution("aws-lambda-powertools")
    assert powertools.version == POWERTOOLS_VERSION
    layer = (
        "aws-lambda-powertools", "pydantic", "pydantic-core", "typing-extensions", "annotated-types",
        "typing-inspection", "jmespath", "aws-xray-sdk", "wrapt", "fastjsonschema",
    )  # fmt: skip
    # WHEN their installed files are measured
    installed = (
        sum(
            path.stat().st_size
            for name in layer
            for f in metadata.distribution(name).files or ()
            if (path := Path(str(metadata.distribution(name).locate_file(f)))).is_file()
        )
        / 2**20
    )
    # THEN the allowance the size budget counts is at least that, with room for what the layer adds
    assert 5 < installed <= POWERTOOLS_LAYER_MB / 1.5, f"installed: {installed:.1f} MiB"


def test_drift_function_environment_is_the_stack_config(
    synth: Synth, resolve: Resolver, names: Names, cfg: DualloopConfig
) -> None:
    env = _function(synth, resolve, names)["Environment"]["Variables"]

    assert env == config_environment(cfg)
    assert {
        k: env[k] for k in ("DUALLOOP_PROJECT", "DUALLOOP_STAGE", "DUALLOOP_REGION", "DUALLOOP_ACCOUNT_ID")
    } == {
        "DUALLOOP_PROJECT": cfg.project,
        "DUALLOOP_STAGE": cfg.stage.value,
        "DUALLOOP_REGION": cfg.region,
        "DUALLOOP_ACCOUNT_ID": cfg.account_id,
    }


def test_non_default_config_reaches_the_function(custom_synth: Synth, custom_cfg: DualloopConfig) -> None:
    from shared.naming import Names

    names = Names(custom_cfg)
    resolve = Resolver(custom_synth.template, custom_cfg.account_id, custom_cfg.region)
    env = _function(custom_synth, resolve, names)["Environment"]["Variables"]

    assert json.loads(env["DUALLOOP_DRIFT"]) == {
        "schedule": "cron(15 * * * ? *)",
        "psi_threshold": 0.3,
        "window_hours": 12,
    }
    assert env["DUALLOOP_ARTIFACT_BUCKET"] == "driftcheck-artifacts-example"
    assert env["DUALLOOP_ARTIFACT_PREFIX"] == "ml/"


@pytest.mark.parametrize("which", ["default", "custom"])
def test_config_environment_round_trips_through_load_config(
    which: str, cfg: DualloopConfig, custom_cfg: DualloopConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the handler does with the environment: ``load_config()`` rebuilds the very config."""
    from shared.config import load_config

    want = cfg if which == "default" else custom_cfg
    for key in [k for k in os.environ if k.startswith("DUALLOOP_")]:
        monkeypatch.delenv(key)
    for key, value in config_environment(want).items():
        monkeypatch.setenv(key, value)

    assert load_config() == want


def test_oversized_config_fails_the_synth_not_the_deploy(cfg: DualloopConfig) -> None:
    features = [{"name": f"feature_{i:03d}_with_a_long_name"} for i in range(200)]
    big = cfg.model_copy(update={"dataset": cfg.dataset.model_validate({"features": features})})

    with pytest.raises(ValueError, match="over Lambda's 4096"):
        config_environment(big)


# ---- the schedule ------------------------------------------------------------------------------


@pytest.mark.parametrize("custom", [False, True])
def test_schedule_rule_sends_the_scheduled_event_to_the_function(
    synth: Synth, custom_synth: Synth, cfg: DualloopConfig, custom_cfg: DualloopConfig, custom: bool
) -> None:
    from shared.naming import Names

    s, c = (custom_synth, custom_cfg) if custom else (synth, cfg)
    names = Names(c)
    resolve = Resolver(s.template, c.account_id, c.region)

    _, rule = s.one("AWS::Events::Rule", Name=names.drift_schedule_rule)
    props = resolve(rule["Properties"])
    assert props["ScheduleExpression"] == c.drift.schedule
    assert props["State"] == "ENABLED"
    (target,) = props["Targets"]
    assert target["Arn"] == names.function_arn(names.drift_function)
    # The handler reads the Scheduled Event's own `time`: nothing may replace the event.
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0

    # EventBridge may invoke exactly this function, from exactly this rule.
    (permission,) = [
        resolve(p["Properties"])
        for p in s.resources("AWS::Lambda::Permission").values()
        if resolve(p["Properties"]["FunctionName"]) == names.function_arn(names.drift_function)
    ]
    assert permission["Principal"] == "events.amazonaws.com"
    rule_id = s.one("AWS::Events::Rule", Name=names.drift_schedule_rule)[0]
    assert permission["SourceArn"] == f"<GetAtt:{rule_id}.Arn>"


def test_a_bad_schedule_fails_the_synth(cfg: DualloopConfig) -> None:
    import aws_cdk as cdk

    from infra.app import cdk_json_context
    from infra.constructs.data import DataPlane
    from infra.constructs.drift import DriftCheck
    from infra.context import StackContext
    from shared.naming import Names

    bad = cfg.model_copy(update={"drift": cfg.drift.model_copy(update={"schedule": "every hour"})})
    app = cdk.App(context=cdk_json_context())
    stack = cdk.Stack(app, "T", env=cdk.Environment(account=cfg.account_id, region=cfg.region))
    data = DataPlane(stack, "Data", cfg=bad, names=Names(bad))

    from aws_cdk import aws_sqs as sqs

    queue = sqs.Queue(stack, "DeadLetters")
    with pytest.raises(ValueError, match="not an EventBridge schedule expression"):
        DriftCheck(stack, "Drift", StackContext(cfg=bad, names=Names(bad), data=data), dead_letters=queue)


# ---- the role ----------------------------------------------------------------------------------


def test_drift_role_statements(synth: Synth, resolve: Resolver, names: Names, cfg: DualloopConfig) -> None:
    stmts = _drift_role(synth, resolve, names)
    by_sid = {s["Sid"]: s for s in stmts if "Sid" in s}
    sm = f"arn:aws:sagemaker:{names.region}:{names.account}"
    bucket = f"arn:aws:s3:::{names.artifact_bucket}"

    assert {a for s in stmts for a in s["Action"]} == DRIFT_ACTIONS
    assert by_sid["DescribeEndpoint"]["Resource"] == [f"{sm}:endpoint/{names.endpoint}"]
    assert by_sid["DescribeEndpointConfigs"]["Resource"] == [
        f"{sm}:endpoint-config/{names.model_name_prefix}-*"
    ]
    assert by_sid["DescribeModels"]["Resource"] == [f"{sm}:model/{names.model_name_prefix}-*"]
    assert by_sid["DescribeModelPackages"]["Resource"] == [
        f"{sm}:model-package/{names.model_package_group}/*"
    ]
    assert by_sid["ListModelPackages"]["Resource"] == [f"{sm}:model-package/*"]

    listing = by_sid["ListCapturesAndBaselines"]
    assert listing["Resource"] == [bucket]
    assert listing["Condition"] == {
        "StringLike": {
            "s3:prefix": ["datacapture/*", f"{cfg.artifact_prefix}executions/*/Preprocess/baseline*"]
        }
    }
    assert by_sid["ReadCapturesAndBaselines"]["Resource"] == [
        f"{bucket}/datacapture/*",
        f"{bucket}/{cfg.artifact_prefix}executions/*/Preprocess/baseline*",
    ]
    assert by_sid["WriteReports"]["Resource"] == [f"{bucket}/drift/*"]

    assert by_sid["ProjectKeyDecrypt"]["Action"] == ["kms:Decrypt"]
    assert by_sid["ProjectKeyForReports"]["Condition"] == {
        "StringEquals": {
            "kms:ViaService": [f"s3.{names.region}.amazonaws.com", f"sqs.{names.region}.amazonaws.com"]
        }
    }
    assert by_sid["PublishDriftMetrics"]["Resource"] == ["*"]
    assert by_sid["PublishDriftMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": names.metric_namespace}
    }
    assert by_sid["WriteOwnLogs"]["Resource"] == [
        f"arn:aws:logs:{names.region}:{names.account}:log-group:/aws/lambda/{names.drift_function}:*"
    ]


def test_baseline_keys_follow_the_configured_artifact_prefix(
    custom_synth: Synth, custom_cfg: DualloopConfig
) -> None:
    from shared.naming import Names

    names = Names(custom_cfg)
    resolve = Resolver(custom_synth.template, custom_cfg.account_id, custom_cfg.region)
    by_sid = {s.get("Sid"): s for s in _drift_role(custom_synth, resolve, names)}

    assert by_sid["ReadCapturesAndBaselines"]["Resource"] == [
        "arn:aws:s3:::driftcheck-artifacts-example/datacapture/*",
        "arn:aws:s3:::driftcheck-artifacts-example/ml/executions/*/Preprocess/baseline*",
    ]


def test_prefixes_agree_with_the_job_and_the_asl() -> None:
    job = pytest.importorskip("outer_orchestrator.drift.job")
    asl = outer_loop_document()
    capture_uris = [v for _, v in _walk(asl) if isinstance(v, str) and "datacapture" in v]

    assert f"{job.CAPTURE_PREFIX}/" == CAPTURE_PREFIX
    assert capture_uris == [f"s3://${{ArtifactBucket}}/{job.CAPTURE_PREFIX}"]
    assert REPORT_PREFIX == "drift/"  # the job's report key: drift/<endpoint>/<window end>.json


def _walk(node: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [x for k, v in node.items() for x in _walk(v, f"{path}/{k}")]
    if isinstance(node, list):
        return [x for i, v in enumerate(node) for x in _walk(v, f"{path}/{i}")]
    return [(path, node)]


# ---- the role admits what the job does ----------------------------------------------------------


def _dicts(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(d for v in node.values() for d in _dicts(v))]
    if isinstance(node, list):
        return [d for v in node for d in _dicts(v)]
    return []


def _baseline_uri(pipeline: Any, execution_id: str) -> str:
    """The DriftBaselineS3Uri RegisterModel records: Preprocess's baseline output, as
    SageMaker renders the definition's Std:Join for one execution."""
    definition = json.loads(pipeline.definition)
    steps = {s["Name"]: s for s in _dicts(definition) if "Name" in s and "Type" in s}
    register = next(s for s in steps.values() if s["Type"] == "RegisterModel")
    ref = register["Arguments"]["CustomerMetadataProperties"]["DriftBaselineS3Uri"]["Get"]
    assert ref == "Steps.Preprocess.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"
    (output,) = [
        o
        for o in steps["Preprocess"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
        if o["OutputName"] == "baseline"
    ]
    join = output["S3Output"]["S3Uri"]["Std:Join"]
    parts = [execution_id if v == {"Get": "Execution.PipelineExecutionId"} else v for v in join["Values"]]
    assert all(isinstance(p, str) for p in parts), parts
    return str(join["On"].join(parts))


class _Recorder:
    """Fakes of the three clients the job takes; each call is recorded as (action, resource, context)."""

    def __init__(self, names: Names, objects: dict[str, bytes], baseline_uri: str) -> None:
        self.names = names
        self.objects = objects
        self.baseline_uri = baseline_uri
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.sm = f"arn:aws:sagemaker:{names.region}:{names.account}"
        self.package = f"{self.sm}:model-package/{names.model_package_group}/3"

    def _call(self, action: str, resource: str, **context: str) -> None:
        self.calls.append((action, resource, context))

    # Keyword arguments as boto3 takes them (CamelCase, hence **kw).

    # SageMaker: the chain the outer loop deploys (configs and models named <prefix>-<uuid>)
    def describe_endpoint(self, **kw: str) -> dict[str, Any]:
        self._call("sagemaker:DescribeEndpoint", f"{self.sm}:endpoint/{kw['EndpointName'].lower()}")
        return {
            "EndpointName": kw["EndpointName"],
            "EndpointConfigName": f"{self.names.model_name_prefix}-cfg-1",
        }

    def describe_endpoint_config(self, **kw: str) -> dict[str, Any]:
        name = kw["EndpointConfigName"].lower()
        self._call("sagemaker:DescribeEndpointConfig", f"{self.sm}:endpoint-config/{name}")
        return {
            "ProductionVariants": [
                {"VariantName": self.names.variant, "ModelName": f"{self.names.model_name_prefix}-model-1"}
            ],
            "DataCaptureConfig": {
                "EnableCapture": True,
                "DestinationS3Uri": f"s3://{self.names.artifact_bucket}/datacapture",
            },
        }

    def describe_model(self, **kw: str) -> dict[str, Any]:
        self._call("sagemaker:DescribeModel", f"{self.sm}:model/{kw['ModelName'].lower()}")
        return {"PrimaryContainer": {"ModelPackageName": self.package}}

    def describe_model_package(self, **kw: str) -> dict[str, Any]:
        self._call("sagemaker:DescribeModelPackage", kw["ModelPackageName"].lower())
        return {
            "ModelPackageArn": self.package,
            "CustomerMetadataProperties": {"DriftBaselineS3Uri": self.baseline_uri},
        }

    # S3
    def get_paginator(self, name: str) -> Any:
        assert name == "list_objects_v2"
        return self

    def paginate(self, **kw: str) -> list[dict[str, Any]]:
        prefix, delimiter = kw["Prefix"], kw.get("Delimiter")
        self._call("s3:ListBucket", f"arn:aws:s3:::{kw['Bucket']}", **{"s3:prefix": prefix})
        keys = sorted(k for k in self.objects if k.startswith(prefix))
        if delimiter is None:
            return [{"Contents": [{"Key": k} for k in keys]}]
        common = sorted({prefix + k[len(prefix) :].split(delimiter, 1)[0] + delimiter for k in keys})
        return [{"CommonPrefixes": [{"Prefix": p} for p in common]}]

    def get_object(self, **kw: str) -> dict[str, Any]:
        key = kw["Key"]
        self._call("s3:GetObject", f"arn:aws:s3:::{kw['Bucket']}/{key}")
        if key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": key}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[key])}

    def put_object(self, **kw: Any) -> dict[str, Any]:
        self._call("s3:PutObject", f"arn:aws:s3:::{kw['Bucket']}/{kw['Key']}")
        return {}

    # CloudWatch
    def put_metric_data(self, **kw: Any) -> None:
        self._call("cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": kw["Namespace"]})


def _allowed(stmts: list[dict[str, Any]], action: str, resource: str, context: dict[str, str]) -> bool:
    for s in stmts:
        if s["Effect"] != "Allow" or action not in s["Action"]:
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in s["Resource"]):
            continue
        ok = True
        for op, pairs in s.get("Condition", {}).items():
            for key, values in pairs.items():
                value = context.get(key)
                match = fnmatch.fnmatchcase if op == "StringLike" else str.__eq__
                assert op in ("StringLike", "StringEquals"), op
                ok &= value is not None and any(match(value, v) for v in listify(values))
        if ok:
            return True
    return False


def test_role_admits_every_call_the_handler_makes(
    synth: Synth,
    resolve: Resolver,
    names: Names,
    cfg: DualloopConfig,
    pipeline: PipelineBuild | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if pipeline is None:
        pytest.skip("inner_pipeline/pipeline.py is absent: no baseline layout to check against")
    job = pytest.importorskip("outer_orchestrator.drift.job")
    from container_code import container_common

    from shared.demo_data import generate_transactions

    # GIVEN what the pipeline writes (two Preprocess hosts' baselines) and an hour of captures
    baseline_uri = _baseline_uri(pipeline, "k3x9example")
    prefix = baseline_uri.split("/", 3)[3]
    common = container_common()
    schema = common.parse_schema(cfg.dataset.model_dump(mode="json"))
    training = generate_transactions(400, seed=0)
    objects = {
        f"{prefix}/baseline-{host}.json": json.dumps(
            common.compute_baseline(part, schema, host=host)
        ).encode()
        for host, part in (("algo-1", training.iloc[:200]), ("algo-2", training.iloc[200:]))
    }
    when = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    hour = when - timedelta(hours=1)
    objects[f"datacapture/{names.endpoint}/{names.variant}/{hour:%Y/%m/%d/%H}/00-00-000-x.jsonl"] = (
        b"not a record\n"
    )
    fake = _Recorder(names, objects, baseline_uri)
    # AND the function's environment and a Scheduled Event as the rule delivers it
    for key in [k for k in os.environ if k.startswith("DUALLOOP_")]:
        monkeypatch.delenv(key)
    for key, value in _function(synth, resolve, names)["Environment"]["Variables"].items():
        monkeypatch.setenv(key, value)
    event = {
        "version": "0",
        "id": "0d3b0a4e-example",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": names.account,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": names.region,
        "resources": [f"arn:aws:events:{names.region}:{names.account}:rule/{names.drift_schedule_rule}"],
        "detail": {},
    }

    # WHEN the handler runs
    result = job.handler(event, None, sagemaker=fake, s3=fake, cloudwatch=fake)

    # THEN it checked the deployed model against the merged baseline and wrote its report
    assert result["endpoint"] == names.endpoint
    assert (
        result["report_uri"] == f"s3://{names.artifact_bucket}/drift/{names.endpoint}/20261124T080000Z.json"
    )
    assert result["malformed"] == 1
    actions = {a for a, _, _ in fake.calls}
    assert {"s3:GetObject", "s3:ListBucket", "s3:PutObject", "cloudwatch:PutMetricData"} <= actions
    assert len([c for c in fake.calls if c[0] == "s3:GetObject"]) == 3  # two baselines, one capture file
    # AND the role allows every one of its calls
    stmts = _drift_role(synth, resolve, names)
    denied = [c for c in fake.calls if not _allowed(stmts, *c)]
    assert denied == []
    # (and the evaluator does deny: reading reports, listing outside the two prefixes)
    bucket = f"arn:aws:s3:::{names.artifact_bucket}"
    assert not _allowed(stmts, "s3:GetObject", f"{bucket}/drift/{names.endpoint}/x.json", {})
    assert not _allowed(stmts, "s3:ListBucket", bucket, {"s3:prefix": cfg.curated_prefix})
    assert not _allowed(stmts, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "AWS/SageMaker"})
