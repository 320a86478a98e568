"""The inner pipeline's definition: stable, content-addressed, and acceptable to AWS.

What this proves: the definition builds offline with no AWS call but S3 ListBuckets (the
SDK resolving its default bucket) and HeadObject/PutObject (the code and schema uploads), all
answered by botocore's Stubber, which also checks each request against the S3 model; two
builds are byte-identical; a script change moves only the code hash; a schema change moves
only the schema's key (and so Preprocess's cache key); every job step's arguments satisfy
botocore's own SageMaker model (types, required members, enums, length limits: no container
argument or environment value over 256 characters) once the pipeline's placeholders are
given values of their types.
What it cannot prove: that SageMaker runs the steps. The local executor runs this very
definition (functional and e2e tests); AWS itself is the final judge.

No moto ``mock_aws`` here: it resets moto's process-wide backends, which would wipe a
local cloud that other tests in the session are using.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator

from inner_pipeline import packaging
from inner_pipeline.packaging import ARCHIVE_NAME, CODE_DIR, package_code, upload_code
from shared.config import DataSchema, DualloopConfig, Hyperparameters, Quality
from shared.naming import Names

SNAPSHOT = Path(__file__).parent / "snapshots" / "pipeline_definition.json"
HASH_PLACEHOLDER = "<code-sha256>"
JOB_OPERATIONS = {
    "Processing": ("CreateProcessingJob", {"ProcessingJobName": "dummy-job"}),
    "Training": ("CreateTrainingJob", {"TrainingJobName": "dummy-job"}),
    "RegisterModel": ("CreateModelPackage", {}),
}


# ---- fixtures: three builds, once per module ---------------------------------------------------


class _S3OnlySession(boto3.Session):
    """A boto3 session whose S3 client is stubbed and whose other clients record and refuse calls."""

    def __init__(self, s3: Any, refused: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._s3 = s3
        self._refused = refused

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if service_name == "s3":
            return self._s3
        client = super().client(service_name, *args, **kwargs)  # type: ignore[call-overload]
        client.meta.events.register("before-call.*.*", self._refuse)
        return client

    def _refuse(self, model: Any, **_: Any) -> None:
        self._refused.append(f"{model.service_model.service_name}:{model.name}")
        raise AssertionError(f"building the pipeline called {model.service_model.service_name}:{model.name}")


@dataclass
class Builds:
    config: DualloopConfig
    first: str
    second: str
    changed: str  # train.py edited
    other_config: DualloopConfig  # one feature fewer
    other_schema: str  # built from other_config
    sha: str
    changed_sha: str
    refused_calls: list[str]

    @property
    def definition(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.first)
        return parsed


def _schema_key(config: DualloopConfig) -> str:
    """Spelled out here rather than taken from the module under test."""
    from inner_pipeline.pipeline import schema_json

    digest = hashlib.sha256(schema_json(config).encode()).hexdigest()
    return f"{config.artifact_prefix}schemas/{digest}/schema.json"


def _expect_schema_upload(stub: Stubber, config: DualloopConfig) -> None:
    from inner_pipeline.pipeline import schema_json

    bucket = Names(config).artifact_bucket
    stub.add_client_error("head_object", "404", http_status_code=404)
    stub.add_response(
        "put_object",
        {},
        {
            "Bucket": bucket,
            "Key": _schema_key(config),
            "Body": schema_json(config).encode(),
            "ContentType": "application/json",
        },
    )


def _expect_schema_present(stub: Stubber, config: DualloopConfig) -> None:
    stub.add_response(
        "head_object", {}, {"Bucket": Names(config).artifact_bucket, "Key": _schema_key(config)}
    )


def _expect_upload(stub: Stubber, code_dir: Path, bucket: str, prefix: str) -> None:
    package = package_code(code_dir)
    base = f"{prefix}code/{package.sha256}/"
    stub.add_client_error("head_object", "404", http_status_code=404)
    for name, data in package.files:
        stub.add_response("put_object", {}, {"Bucket": bucket, "Key": base + name, "Body": data})
    stub.add_response(
        "put_object",
        {},
        {
            "Bucket": bucket,
            "Key": base + ARCHIVE_NAME,
            "Body": package.archive,
            "ContentType": "application/gzip",
        },
    )


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    from inner_pipeline.pipeline import pipeline_definition, pipeline_session

    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("DUALLOOP_", "AWS_ENDPOINT_URL")):
                mp.delenv(key)
        cfg = DualloopConfig()
        names = Names(cfg)
        changed_dir = tmp_path_factory.mktemp("code") / "code"
        shutil.copytree(CODE_DIR, changed_dir, ignore=shutil.ignore_patterns("__pycache__"))
        with (changed_dir / "train.py").open("a") as f:
            f.write("\n# a change to one script\n")

        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        s3 = boto3.client("s3", region_name=cfg.region, **creds)  # type: ignore[call-overload]
        refused: list[str] = []
        session = pipeline_session(cfg, _S3OnlySession(s3, refused, region_name=cfg.region, **creds))
        with Stubber(s3) as stub:
            _expect_upload(stub, CODE_DIR, names.artifact_bucket, cfg.artifact_prefix)
            _expect_schema_upload(stub, cfg)
            # The SDK resolves the session's default bucket once (ModelBuilder asks for it).
            stub.add_response(
                "list_buckets",
                {
                    "Buckets": [
                        {"Name": names.artifact_bucket, "CreationDate": datetime(2026, 1, 1, tzinfo=UTC)}
                    ]
                },
                {},
            )
            first = pipeline_definition(cfg, session)
            stub.add_response(
                "head_object", {}, {"Bucket": names.artifact_bucket, "Key": _archive_key(first)}
            )
            _expect_schema_present(stub, cfg)
            second = pipeline_definition(cfg, session)  # already uploaded: HeadObjects, no PutObject

            _expect_upload(stub, changed_dir, names.artifact_bucket, cfg.artifact_prefix)
            _expect_schema_present(stub, cfg)

            def changed_code(config: DualloopConfig, boto_session: boto3.Session) -> packaging.CodeLocation:
                package = package_code(changed_dir)
                return upload_code(
                    package, boto_session.client("s3"), names.artifact_bucket, config.artifact_prefix
                )

            changed = pipeline_definition(cfg, session, code_uri_resolver=changed_code)

            other_cfg = DualloopConfig(dataset=DataSchema(features=cfg.dataset.features[:-1]))
            stub.add_response(
                "head_object", {}, {"Bucket": names.artifact_bucket, "Key": _archive_key(first)}
            )
            _expect_schema_upload(stub, other_cfg)
            other_schema = pipeline_definition(other_cfg, session)
            stub.assert_no_pending_responses()
        yield Builds(
            config=cfg,
            first=first,
            second=second,
            changed=changed,
            other_config=other_cfg,
            other_schema=other_schema,
            sha=package_code().sha256,
            changed_sha=package_code(changed_dir).sha256,
            refused_calls=refused,
        )


def _archive_key(definition: str) -> str:
    match = re.search(r"s3://[^/]+/([^\"]+/sourcedir\.tar\.gz)", definition)
    assert match, "the definition names no sourcedir.tar.gz"
    return match.group(1)


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step by name, the condition's branches included."""
    found: dict[str, dict[str, Any]] = {}

    def walk(steps: list[dict[str, Any]]) -> None:
        for step in steps:
            found[step["Name"]] = step
            walk(step.get("Arguments", {}).get("IfSteps", []))
            walk(step.get("Arguments", {}).get("ElseSteps", []))

    walk(definition["Steps"])
    return found


def _input(processing_arguments: dict[str, Any], name: str) -> dict[str, Any]:
    """The S3Input of processing input ``name``."""
    found: dict[str, Any] = next(
        i for i in processing_arguments["ProcessingInputs"] if i["InputName"] == name
    )["S3Input"]
    return found


def _normalised(definition: str, sha: str) -> str:
    return json.dumps(json.loads(definition.replace(sha, HASH_PLACEHOLDER)), indent=2, sort_keys=True) + "\n"


# ---- shape and stability -----------------------------------------------------------------------


def test_definition_has_the_steps_parameters_and_job_types(builds: Builds) -> None:
    steps = _steps(builds.definition)
    assert {name: step["Type"] for name, step in steps.items()} == {
        "Preprocess": "Processing",
        "Train": "Training",
        "Evaluate": "Processing",
        "CheckQuality": "Condition",
        "RegisterModel": "RegisterModel",
        "QualityGateFailed": "Fail",
    }
    params = {p["Name"]: (p["Type"], p.get("DefaultValue")) for p in builds.definition["Parameters"]}
    cfg = builds.config
    assert params == {
        "InputDataUri": ("String", f"s3://{Names(cfg).curated_bucket}/{cfg.curated_prefix}"),
        "ProcessingInstanceType": ("String", cfg.instances.processing_instance_type),
        "ProcessingInstanceCount": ("Integer", cfg.instances.processing_instance_count),
        "TrainingInstanceType": ("String", cfg.instances.training_instance_type),
        "TrainingInstanceCount": ("Integer", cfg.instances.training_instance_count),
        "ModelApprovalStatus": ("String", "PendingManualApproval"),
        "MetricThreshold": ("Float", cfg.quality.threshold),
        "MaxDepth": ("Integer", cfg.hyperparameters.max_depth),
        "Eta": ("Float", cfg.hyperparameters.eta),
        "NumRound": ("Integer", cfg.hyperparameters.num_round),
        "CallbackToken": ("String", ""),
    }
    assert "Parameters.CallbackToken" not in json.dumps(builds.definition["Steps"]), "no step reads the token"


def test_declared_parameters_are_the_built_definitions(builds: Builds) -> None:
    """`inner run` checks --param against these before building: they must be the same."""
    from inner_pipeline.pipeline import declared_parameters

    assert declared_parameters(builds.config) == builds.definition["Parameters"]


def test_build_calls_no_aws_api_but_s3(builds: Builds) -> None:
    # The Stubber answered (and checked) every S3 call, in order, and no more (it raises on an
    # unexpected one); any other client refuses and records.
    assert builds.refused_calls == []


def test_two_builds_are_byte_identical(builds: Builds) -> None:
    assert builds.first == builds.second


def test_train_arguments_are_content_addressed_and_stable(builds: Builds) -> None:
    train = _steps(builds.definition)["Train"]["Arguments"]
    assert train == _steps(json.loads(builds.second))["Train"]["Arguments"]
    hps = train["HyperParameters"]
    bucket, prefix = Names(builds.config).artifact_bucket, builds.config.artifact_prefix
    assert hps["sagemaker_program"] == "train.py"
    assert hps["sagemaker_submit_directory"] == f"s3://{bucket}/{prefix}code/{builds.sha}/sourcedir.tar.gz"
    assert not any("sm_drivers" in json.dumps(c) for c in train["InputDataConfig"]), "no SDK-uploaded code"
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": builds.config.instances.max_runtime_seconds}


def test_changing_a_script_changes_only_the_code_hash(builds: Builds) -> None:
    assert builds.changed_sha != builds.sha
    assert builds.sha in builds.first and builds.changed_sha in builds.changed
    assert _normalised(builds.changed, builds.changed_sha) == _normalised(builds.first, builds.sha)


def test_job_steps_cache_and_retry(builds: Builds) -> None:
    steps = _steps(builds.definition)
    for name in ("Preprocess", "Train", "Evaluate"):
        assert steps[name]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P30D"}
        retried = {e for policy in steps[name]["RetryPolicies"] for e in policy["ExceptionType"]}
        assert {"SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "Step.THROTTLING"} <= retried
        assert steps[name]["Arguments"]["StoppingCondition"]["MaxRuntimeInSeconds"] > 0
    assert {e for p in steps["RegisterModel"]["RetryPolicies"] for e in p["ExceptionType"]} >= {
        "Step.SERVICE_FAULT"
    }


def test_preprocess_shards_its_input_and_writes_every_output(builds: Builds) -> None:
    args = _steps(builds.definition)["Preprocess"]["Arguments"]
    data = next(i for i in args["ProcessingInputs"] if i["InputName"] == "data")["S3Input"]
    assert data["S3Uri"] == {"Get": "Parameters.InputDataUri"}
    assert data["S3DataDistributionType"] == "ShardedByS3Key"
    assert args["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == {
        "Get": "Parameters.ProcessingInstanceCount"
    }
    outputs = [o["OutputName"] for o in args["ProcessingOutputConfig"]["Outputs"]]
    assert outputs == ["train", "validation", "test", "baseline"]


def test_preprocess_reads_the_schema_from_a_content_addressed_file(builds: Builds) -> None:
    # GIVEN the default build
    args = _steps(builds.definition)["Preprocess"]["Arguments"]
    bucket = Names(builds.config).artifact_bucket
    # THEN the script runs plainly and reads the schema file delivered as the "schema" input
    assert args["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/preprocess.py",
    ]
    assert args["AppSpecification"]["ContainerArguments"] == [
        "--schema-file",
        "/opt/ml/processing/input/schema/schema.json",
        "--input-dir",
        "/opt/ml/processing/input/data",
        "--output-dir",
        "/opt/ml/processing/output",
        "--resource-config",
        "/opt/ml/config/resourceconfig.json",
        "--failure-file",
        "/opt/ml/output/message",
    ]
    schema = _input(args, "schema")
    # The fixture's Stubber checked that exactly schema_json(config) was uploaded to this key.
    assert schema["S3Uri"] == f"s3://{bucket}/{_schema_key(builds.config)}"
    assert schema["LocalPath"] == "/opt/ml/processing/input/schema"
    assert (schema["S3DataType"], schema["S3InputMode"]) == ("S3Prefix", "File")
    assert schema["S3DataDistributionType"] == "FullyReplicated", "every instance needs the schema"


def test_evaluate_needs_no_schema_and_names_its_failure_file(builds: Builds) -> None:
    app = _steps(builds.definition)["Evaluate"]["Arguments"]["AppSpecification"]
    assert app["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/evaluate.py"]
    assert app["ContainerArguments"] == [
        "--model-dir",
        "/opt/ml/processing/model",
        "--test-dir",
        "/opt/ml/processing/test",
        "--output-dir",
        "/opt/ml/processing/evaluation",
        "--failure-file",
        "/opt/ml/output/message",
    ]


def test_schema_key_moves_with_the_schema_and_nothing_else(builds: Builds) -> None:
    from inner_pipeline.pipeline import schema_key

    # GIVEN configs that differ outside the schema, and one with a feature fewer
    same = DualloopConfig(hyperparameters=Hyperparameters(max_depth=9), quality=Quality(threshold=0.5))
    # THEN the key follows the schema's bytes alone
    assert schema_key(builds.config) == schema_key(DualloopConfig()) == schema_key(same)
    assert schema_key(builds.other_config) != schema_key(builds.config)
    assert schema_key(builds.config) == _schema_key(builds.config)
    # AND an unchanged schema leaves Preprocess's arguments (its cache key) as they were
    first = _steps(builds.definition)["Preprocess"]["Arguments"]
    assert first == _steps(json.loads(builds.second))["Preprocess"]["Arguments"]
    # AND a changed feature list changes them, through the schema input's S3 URI only
    other = _steps(json.loads(builds.other_schema))["Preprocess"]["Arguments"]
    assert other != first
    first_uri, other_uri = (_input(a, "schema")["S3Uri"] for a in (first, other))
    assert other_uri.endswith(f"/{_schema_key(builds.other_config)}") and other_uri != first_uri
    assert json.loads(json.dumps(other).replace(other_uri, first_uri)) == first


def test_training_takes_the_schema_inline_within_the_hyperparameter_limit(
    builds: Builds, sagemaker_model: Any
) -> None:
    from inner_pipeline.pipeline import schema_json

    hps = _steps(builds.definition)["Train"]["Arguments"]["HyperParameters"]
    limit = sagemaker_model.shape_for("HyperParameterValue").metadata["max"]
    assert limit == 2500
    assert json.loads(hps["schema"]) == schema_json(builds.config)
    assert len(hps["schema"]) <= limit
    assert len(hps["schema"]) > 256, "the reason Preprocess takes it as a file"


def test_quality_gate_reads_the_evaluation_report(builds: Builds) -> None:
    steps = _steps(builds.definition)
    metric = builds.config.quality.metric
    json_get = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"},
            "Path": f"binary_classification_metrics.{metric}.value",
        }
    }
    assert steps["Evaluate"]["PropertyFiles"] == [
        {"PropertyFileName": "EvaluationReport", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    assert steps["CheckQuality"]["Arguments"]["Conditions"] == [
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": json_get,
            "RightValue": {"Get": "Parameters.MetricThreshold"},
        }
    ]
    message = steps["QualityGateFailed"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert metric in message[0] and json_get in message and {"Get": "Parameters.MetricThreshold"} in message


def test_registered_package_carries_metrics_baseline_and_approval_parameter(builds: Builds) -> None:
    args = _steps(builds.definition)["RegisterModel"]["Arguments"]
    assert args["ModelPackageGroupName"] == Names(builds.config).model_package_group
    assert args["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    statistics = args["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"]["Std:Join"]["Values"][-1] == "evaluation.json"
    assert args["CustomerMetadataProperties"]["DriftBaselineS3Uri"] == {
        "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"
    }
    spec = args["InferenceSpecification"]
    assert spec["SupportedContentTypes"] == ["text/csv", "application/json"]
    assert spec["Containers"][0]["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert spec["Containers"][0]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"].endswith(
        f"/code/{builds.sha}/sourcedir.tar.gz"
    )
    assert args["Tags"] == [
        {"Key": "dualloop:project", "Value": builds.config.project},
        {"Key": "dualloop:stage", "Value": builds.config.stage.value},
    ]


# ---- AWS would accept the arguments --------------------------------------------------------------

_EXPRESSIONS = ("Get", "Std:Join", "Std:JsonGet")
_PARAMETER_VALUES = {"String": "dummy", "Integer": 2, "Float": 0.5, "Boolean": True}
_SHAPE_VALUES = {"string": "dummy", "integer": 2, "long": 2, "float": 0.5, "double": 0.5, "boolean": True}


def _concrete(value: Any, shape: Any, params: dict[str, dict[str, Any]]) -> Any:
    """``value`` with every pipeline expression replaced by a value of the type it evaluates to.

    A parameter yields its default (so an Integer parameter in a string field, or a default
    outside a field's enum, fails); a Join is a string; a step property or JsonGet gets a
    value of the field's own type.
    """
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _EXPRESSIONS:
        ((kind, body),) = value.items()
        if kind == "Std:Join":
            return "dummy"
        if kind == "Get" and body.startswith("Parameters."):
            param = params[body.removeprefix("Parameters.")]
            return param.get("DefaultValue", _PARAMETER_VALUES[param["Type"]])
        if shape.type_name == "string" and shape.enum:
            return shape.enum[0]
        return _SHAPE_VALUES.get(shape.type_name, value)  # a structure here stays invalid
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _concrete(v, members[k], params) if k in members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_concrete(v, shape.member, params) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _concrete(v, shape.value, params) for k, v in value.items()}
    return value


def _limits(value: Any, shape: Any, path: str) -> list[str]:
    """What ParamValidator leaves out and the service enforces: max lengths and enums."""
    errors: list[str] = []
    meta = shape.metadata
    if shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} characters > {meta['max']}")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not in {shape.enum}")
    elif shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        for k, v in value.items():
            if k in members:
                errors += _limits(v, members[k], f"{path}.{k}")
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} items > {meta['max']}")
        for i, v in enumerate(value):
            errors += _limits(v, shape.member, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for k, v in value.items():
            errors += _limits(k, shape.key, f"{path}.key({k})")
            errors += _limits(v, shape.value, f"{path}[{k}]")
    return errors


@pytest.fixture(scope="module")
def sagemaker_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("sagemaker")


@pytest.mark.parametrize("step_name", ["Preprocess", "Train", "Evaluate", "RegisterModel"])
def test_job_arguments_validate_against_the_sagemaker_service_model(
    builds: Builds, sagemaker_model: Any, step_name: str
) -> None:
    step = _steps(builds.definition)[step_name]
    operation, names_the_pipeline_sets = JOB_OPERATIONS[step["Type"]]
    shape = sagemaker_model.operation_model(operation).input_shape
    params = {p["Name"]: p for p in builds.definition["Parameters"]}
    request = {**names_the_pipeline_sets, **_concrete(step["Arguments"], shape, params)}

    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert _limits(request, shape, operation) == []
    if step["Type"] == "Processing":
        # Spelled out, in case the model's limits ever move: CreateProcessingJob's caps.
        app = request["AppSpecification"]
        assert "-c" not in app["ContainerEntrypoint"], "a plain script, no inline launcher"
        assert all(len(a) <= 256 for a in app.get("ContainerArguments", [])), app["ContainerArguments"]
        assert all(len(str(v)) <= 256 for v in request.get("Environment", {}).values())


def test_validation_catches_what_aws_would_reject(sagemaker_model: Any) -> None:
    # GIVEN arguments AWS rejects: a String parameter as an instance count, an over-long argument
    shape = sagemaker_model.operation_model("CreateProcessingJob").input_shape
    request = {
        "ProcessingJobName": "j",
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "AppSpecification": {"ImageUri": "i", "ContainerArguments": ["x" * 257]},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": {"Get": "Parameters.Type"},
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
            }
        },
    }
    concrete = _concrete(request, shape, {"Type": {"Type": "String", "DefaultValue": "ml.m5.xlarge"}})
    # THEN both checks speak up
    assert ParamValidator().validate(concrete, shape).has_errors()
    assert _limits(concrete, shape, "r") == ["r.AppSpecification.ContainerArguments[0]: 257 characters > 256"]


# ---- snapshot --------------------------------------------------------------------------------------


def test_definition_matches_the_snapshot(builds: Builds) -> None:
    """Regenerate with ``UPDATE_SNAPSHOTS=1 pytest tests/unit/test_pipeline_definition.py``."""
    actual = _normalised(builds.first, builds.sha)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(actual)
    assert SNAPSHOT.is_file(), f"no snapshot yet: run with UPDATE_SNAPSHOTS=1 to write {SNAPSHOT}"
    assert actual == SNAPSHOT.read_text(), "definition changed: review, then UPDATE_SNAPSHOTS=1"


# ---- packaging -------------------------------------------------------------------------------------


def test_package_is_deterministic_and_leaves_out_caches_and_tests(tmp_path: Path) -> None:
    import gzip
    import io
    import tarfile

    code = tmp_path / "code"
    shutil.copytree(CODE_DIR, code, ignore=shutil.ignore_patterns("__pycache__"))
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "common.cpython-311.pyc").write_bytes(b"\0")
    (code / "stale.pyc").write_bytes(b"\0")
    (code / "tests").mkdir()
    (code / "tests" / "test_x.py").write_text("")
    first = package_code(code)
    os.utime(code / "train.py", (0, 1_700_000_000))  # mtimes do not matter
    second = package_code(code)

    assert first == second
    assert first.archive[4:8] == b"\0\0\0\0", "gzip header mtime is 0"
    with tarfile.open(fileobj=io.BytesIO(first.archive)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) == [name for name, _ in first.files]
    assert {"common.py", "preprocess.py", "train.py", "evaluate.py", "inference.py"} <= set(names)
    assert not [n for n in names if n.endswith(".pyc") or n.startswith(("__pycache__/", "tests/"))]
    assert {(m.mtime, m.uid, m.gid, m.mode, m.uname) for m in members} == {(0, 0, 0, 0o644, "")}
    assert len(gzip.decompress(first.archive)) > 0


def test_schema_upload_skips_a_schema_that_is_already_there() -> None:
    from inner_pipeline.pipeline import upload_schema

    cfg = DualloopConfig(artifact_bucket="bucket-b", artifact_prefix="p/")
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    with Stubber(s3) as stub:
        stub.add_response("head_object", {}, {"Bucket": "bucket-b", "Key": _schema_key(cfg)})
        uri = upload_schema(cfg, s3)
        stub.assert_no_pending_responses()
    assert uri == f"s3://bucket-b/{_schema_key(cfg)}"
    assert re.fullmatch(r"s3://bucket-b/p/schemas/[0-9a-f]{64}/schema\.json", uri)


def test_upload_skips_a_package_that_is_already_there() -> None:
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    package = package_code()
    key = f"p/code/{package.sha256}/{ARCHIVE_NAME}"
    with Stubber(s3) as stub:
        stub.add_response("head_object", {}, {"Bucket": "b", "Key": key})
        location = upload_code(package, s3, "b", "p/")
        stub.assert_no_pending_responses()
    assert location.source_dir_uri == f"s3://b/{key}"
    assert location.uri == f"s3://b/p/code/{package.sha256}/"
