"""The user's test: a pipeline written the way AWS's abalone example writes it
(``tests/byo_abalone.py``: hard-coded ``/opt/ml/processing`` script, built-in XGBoost, evaluation
PropertyFile, MSE gate, register + CreateModel + Transform, or Fail) runs on the local SageMaker
unchanged through ``pipeline.upsert / start / wait / list_steps``. The outer loop deploying what it
registers is ``tests/e2e/test_byo_pipeline_outer_loop.py``.
The data is scikit-learn's bundled diabetes set (offline). What a fake cannot prove: the images
are not pulled (scripts run with this machine's Python; the built-in XGBoost is our algorithm
mode, xgboost 3 with the container's contract), instance types and IAM.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path
from typing import Any

import boto3
import byo_abalone
import pytest
from wait_support import pipeline_ended

from shared.local_cloud import LocalCloud

ROLE = "arn:aws:iam::123456789012:role/local-test"


@pytest.fixture(scope="module")
def bucket(cloud: LocalCloud) -> str:
    from sklearn.datasets import load_diabetes  # ships with scikit-learn: offline

    name = f"byo-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    frame = load_diabetes(as_frame=True).frame
    s3.put_object(Bucket=name, Key="raw/diabetes.csv", Body=frame.to_csv(index=False).encode())
    return name


def _pipeline(bucket: str, code_dir: Path, name: str) -> Any:
    layout = byo_abalone.Layout(
        name=name,
        bucket=bucket,
        role=ROLE,
        group=name,
        input_parameter="InputDataUrl",
        default_input=f"s3://{bucket}/raw/",
        output=lambda output_name: f"s3://{bucket}/{name}/{output_name}",
    )
    return byo_abalone.build(layout, code_dir)


def _run(pipeline: Any, parameters: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start(parameters=parameters)
    try:
        execution.wait(delay=1, max_attempts=300)
    except Exception:  # the waiter raises on Failed: the test reads the status itself
        pass
    described = boto3.client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=execution.arn)
    return dict(described), {s["StepName"]: s for s in execution.list_steps()}


def _read(uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return byo_abalone.write_code(tmp_path_factory.mktemp("byo-code"))


@pytest.fixture(scope="module")
def passed(bucket: str, code_dir: Path) -> dict[str, Any]:
    """The pipeline run once with the default threshold, which the model meets."""
    name = f"diabetes-{uuid.uuid4().hex[:8]}"
    boto3.client("sagemaker").create_model_package_group(ModelPackageGroupName=name)
    pipeline = _pipeline(bucket, code_dir, name)
    described, steps = _run(pipeline, {})
    return {"name": name, "pipeline": pipeline, "execution": described, "steps": steps}


def test_the_abalone_style_pipeline_runs_every_step_on_the_local_sagemaker(passed: dict[str, Any]) -> None:
    # GIVEN the pipeline as a data scientist writes it, WHEN it runs with the defaults
    described, steps = passed["execution"], passed["steps"]

    # THEN it succeeded, every step of the passing branch ran and the Fail step did not
    assert described["PipelineExecutionStatus"] == "Succeeded", {
        n: s.get("FailureReason") for n, s in steps.items()
    }
    assert {n: s["StepStatus"] for n, s in steps.items()} == {
        "PreprocessDiabetesData": "Succeeded",
        "TrainDiabetesModel": "Succeeded",
        "EvaluateDiabetesModel": "Succeeded",
        "CheckMSEDiabetesEvaluation": "Succeeded",
        "RegisterDiabetesModel": "Succeeded",
        "CreateDiabetesModel": "Succeeded",
        "TransformDiabetes": "Succeeded",
    }
    assert steps["CheckMSEDiabetesEvaluation"]["Metadata"]["Condition"]["Outcome"] == "True"


def test_the_evaluation_report_holds_the_models_real_mse(passed: dict[str, Any], bucket: str) -> None:
    import numpy as np
    import xgboost

    # GIVEN the trained model's artifact and the test split the preprocessing wrote
    name = passed["name"]
    training = passed["steps"]["TrainDiabetesModel"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    job = boto3.client("sagemaker").describe_training_job(TrainingJobName=training)
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/sagemaker-xgboost:1.7-1")
    with tarfile.open(fileobj=io.BytesIO(_read(job["ModelArtifacts"]["S3ModelArtifacts"]))) as archive:
        member = archive.extractfile("xgboost-model")
        assert member is not None
        booster = xgboost.Booster(model_file=bytearray(member.read()))
    tests = [
        [float(v) for v in row.split(",")]
        for row in _read(f"s3://{bucket}/{name}/test/test.csv").decode().split()
    ]

    # WHEN the test rows are scored here, independently of the pipeline
    table = np.array(tests)
    predictions = booster.predict(xgboost.DMatrix(table[:, 1:]))
    mse = float(np.mean((table[:, 0] - predictions) ** 2))

    # THEN the report the evaluation step wrote holds that MSE, and the gate compared it
    report = json.loads(_read(f"s3://{bucket}/{name}/evaluation/evaluation.json"))
    assert report["regression_metrics"]["mse"]["value"] == pytest.approx(mse, rel=1e-5)
    assert 1000 < mse < 6000  # the diabetes targets' variance is about 5900
    assert len(tests) == 67  # 15% of 442 rows


def test_the_model_package_is_registered_with_its_model_metrics(passed: dict[str, Any], bucket: str) -> None:
    # GIVEN the succeeded execution, WHEN its model package group is listed
    name = passed["name"]
    sm = boto3.client("sagemaker")
    (summary,) = sm.list_model_packages(ModelPackageGroupName=name)["ModelPackageSummaryList"]

    # THEN one package: the built-in XGBoost image, the trained model, the evaluation report as ModelQuality
    package = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    (container,) = package["InferenceSpecification"]["Containers"]
    assert container["Image"].endswith("/sagemaker-xgboost:1.7-1")
    training = passed["steps"]["TrainDiabetesModel"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    job = sm.describe_training_job(TrainingJobName=training)
    assert container["ModelDataUrl"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics == {
        "ContentType": "application/json",
        "S3Uri": f"s3://{bucket}/{name}/evaluation/evaluation.json",
    }
    assert "regression_metrics" in json.loads(_read(statistics["S3Uri"]))


def test_the_transform_writes_one_prediction_per_input_row(passed: dict[str, Any], bucket: str) -> None:
    # GIVEN the batch input the preprocessing wrote (features only)
    name = passed["name"]
    rows = _read(f"s3://{bucket}/{name}/batch/batch.csv").decode().split()

    # WHEN the transform step's output is read
    scored = _read(f"s3://{bucket}/{name}/transform/batch.csv.out").decode().split()

    # THEN one prediction per input row, on the targets' scale, from the model the pipeline created
    assert len(scored) == len(rows) == 67
    predictions = [float(v) for v in scored]
    assert all(20 < p < 350 for p in predictions)  # diabetes targets range 25..346
    created = passed["steps"]["CreateDiabetesModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[-1]
    transform = passed["steps"]["TransformDiabetes"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[-1]
    job = boto3.client("sagemaker").describe_transform_job(TransformJobName=transform)
    assert job["ModelName"] == created and job["TransformJobStatus"] == "Completed"


def test_a_model_over_the_threshold_stops_at_the_fail_step(passed: dict[str, Any]) -> None:
    # GIVEN the same pipeline, WHEN it runs with a threshold no model meets
    described, steps = _run(passed["pipeline"], {"MseThreshold": 1.0})

    # THEN the gate took the else branch: the Fail step failed the execution with its message,
    # and nothing was registered, created or transformed
    assert described["PipelineExecutionStatus"] == "Failed"
    assert steps["CheckMSEDiabetesEvaluation"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert steps["DiabetesMSEFail"]["StepStatus"] == "Failed"
    assert steps["DiabetesMSEFail"]["FailureReason"] == "Execution failed due to MSE > 1.0"
    assert not {"RegisterDiabetesModel", "TransformDiabetes"} & set(steps)
    packages = boto3.client("sagemaker").list_model_packages(ModelPackageGroupName=passed["name"])
    assert len(packages["ModelPackageSummaryList"]) == 1  # the first run's only


def test_a_parameter_the_pipeline_does_not_declare_fails_the_run_naming_it(passed: dict[str, Any]) -> None:
    from outer_orchestrator.handlers import pipeline_relay

    # GIVEN the pipeline, which declares no CallbackToken (the outer loop passes one)
    sm = boto3.client("sagemaker")

    # WHEN it is started as the outer loop starts it
    arn = sm.start_pipeline_execution(
        PipelineName=passed["name"],
        PipelineParameters=[
            {"Name": "InputDataUrl", "Value": "s3://x/y/"},
            {"Name": "CallbackToken", "Value": "k"},
        ],
    )["PipelineExecutionArn"]
    status = pipeline_ended(arn, timeout=60)["PipelineExecutionStatus"]

    # THEN it fails before any step runs, and what the relay tells the outer loop names the parameter
    assert status == "Failed"
    assert sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"] == []
    assert "CallbackToken" in pipeline_relay.failure_reason(sm, arn)
