"""The user's test: a pipeline written the way AWS's abalone example writes it
(aws/amazon-sagemaker-examples, sagemaker-pipelines "abalone"), in our own words with the SDK v3,
runs on the local SageMaker unchanged through ``pipeline.upsert / start / wait / list_steps``.

Preprocess (a ScriptProcessor script with hard-coded ``/opt/ml/processing`` paths) -> Train (the
built-in XGBoost algorithm, ``image_uris.retrieve("xgboost", region, "1.7-1")``, no entry
point) -> Evaluate (a script on the XGBoost image that reads ``model.tar.gz`` and writes
``evaluation.json``, a PropertyFile) -> ``ConditionLessThanOrEqualTo`` on
``regression_metrics.mse.value`` -> register (ModelMetrics) + CreateModel + Transform, or Fail.
The data is scikit-learn's bundled diabetes set (offline). What a fake cannot prove: the images
are not pulled (scripts run with this machine's Python; the built-in XGBoost is our algorithm
mode, xgboost 3 with the container's contract), instance types and IAM.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from shared.local_cloud import LocalCloud

ROLE = "arn:aws:iam::123456789012:role/local-test"
REGION = "us-east-1"

# As abalone's preprocessing.py: the container paths hard-coded, the input URI an argument.
PREPROCESSING = """
import argparse, pathlib
import numpy as np
import pandas as pd

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-data", type=str, required=True)
    args = parser.parse_args()
    base_dir = "/opt/ml/processing"
    df = pd.read_csv(f"{base_dir}/data/diabetes.csv")
    y = df.pop("target")
    X = (df - df.mean()) / df.std()
    table = pd.concat([y, X], axis=1).sample(frac=1.0, random_state=0).to_numpy()
    train, validation, test = np.split(table, [int(0.7 * len(table)), int(0.85 * len(table))])
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        pathlib.Path(f"{base_dir}/{name}").mkdir(parents=True, exist_ok=True)
        pd.DataFrame(part).to_csv(f"{base_dir}/{name}/{name}.csv", header=False, index=False)
    # Batch input for the transform: the test features, without the label.
    pathlib.Path(f"{base_dir}/batch").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(test[:, 1:]).to_csv(f"{base_dir}/batch/batch.csv", header=False, index=False)
    print("preprocessed", len(table), "rows from", args.input_data)
"""

# As abalone's evaluation.py: untar the model, score the test set, write the regression report.
EVALUATION = """
import json, pathlib, tarfile
import numpy as np
import pandas as pd
import xgboost
from sklearn.metrics import mean_squared_error

if __name__ == "__main__":
    with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
        tar.extractall(path=".")
    model = xgboost.Booster()
    model.load_model("xgboost-model")
    df = pd.read_csv("/opt/ml/processing/test/test.csv", header=None)
    y_test = df.iloc[:, 0].to_numpy()
    df.drop(df.columns[0], axis=1, inplace=True)
    predictions = model.predict(xgboost.DMatrix(df.values))
    mse = mean_squared_error(y_test, predictions)
    std = np.std(y_test - predictions)
    report = {"regression_metrics": {"mse": {"value": float(mse), "standard_deviation": float(std)}}}
    pathlib.Path("/opt/ml/processing/evaluation").mkdir(parents=True, exist_ok=True)
    pathlib.Path("/opt/ml/processing/evaluation/evaluation.json").write_text(json.dumps(report))
"""


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
    """The abalone example's get_pipeline(), in our words, with the SDK v3."""
    from sagemaker.core.image_uris import retrieve
    from sagemaker.core.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.core.shapes import (
        MetricsSource,
        ModelMetrics,
        ModelQuality,
        ProcessingS3Input,
        ProcessingS3Output,
    )
    from sagemaker.core.transformer import Transformer
    from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import ConditionStep, FailStep, ModelStep, ProcessingStep, TrainingStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TransformStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train.model_trainer import ModelTrainer

    session = PipelineSession(boto_session=boto3.Session(region_name=REGION), default_bucket=bucket)
    input_data = ParameterString(name="InputDataUrl", default_value=f"s3://{bucket}/raw/")
    approval = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    mse_threshold = ParameterFloat(name="MseThreshold", default_value=6000.0)

    def s3_in(input_name: str, uri: Any, path: str) -> Any:
        source = ProcessingS3Input(s3_uri=uri, local_path=path, s3_data_type="S3Prefix", s3_input_mode="File")
        return ProcessingInput(input_name=input_name, s3_input=source)

    def s3_out(output_name: str) -> Any:
        target = ProcessingS3Output(
            s3_uri=f"s3://{bucket}/{name}/{output_name}",
            local_path=f"/opt/ml/processing/{output_name}",
            s3_upload_mode="EndOfJob",
        )
        return ProcessingOutput(output_name=output_name, s3_output=target)

    # Preprocess: the scikit-learn image, the script uploaded by the SDK.
    preprocess = ProcessingStep(
        name="PreprocessDiabetesData",
        step_args=ScriptProcessor(
            image_uri=retrieve("sklearn", REGION, "1.2-1"),
            command=["python3"],
            instance_type="ml.m5.xlarge",
            instance_count=1,
            base_job_name="sklearn-diabetes-preprocess",
            sagemaker_session=session,
            role=ROLE,
        ).run(
            code=str(code_dir / "preprocessing.py"),
            inputs=[s3_in("data", input_data, "/opt/ml/processing/data")],
            outputs=[s3_out(o) for o in ("train", "validation", "test", "batch")],
            arguments=["--input-data", input_data],
        ),
    )
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs

    # Train: the built-in XGBoost algorithm, hyperparameters only (abalone's, reg:squarederror).
    image_uri = retrieve("xgboost", REGION, "1.7-1")
    trainer = ModelTrainer(
        training_image=image_uri,
        role=ROLE,
        sagemaker_session=session,
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/{name}/model"),
        base_job_name="diabetes-train",
        hyperparameters={
            "objective": "reg:squarederror",
            "num_round": "50",
            "max_depth": "5",
            "eta": "0.2",
            "gamma": "4",
            "min_child_weight": "6",
            "subsample": "0.7",
        },
    )
    train = TrainingStep(
        name="TrainDiabetesModel",
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name=c, data_source=outputs[c].S3Output.S3Uri, content_type="text/csv")
                for c in ("train", "validation")
            ]
        ),
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    # Evaluate: a script on the XGBoost image itself, writing the report as a PropertyFile.
    report = PropertyFile(name="DiabetesEvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="EvaluateDiabetesModel",
        step_args=ScriptProcessor(
            image_uri=image_uri,
            command=["python3"],
            instance_type="ml.m5.xlarge",
            instance_count=1,
            base_job_name="script-diabetes-eval",
            sagemaker_session=session,
            role=ROLE,
        ).run(
            code=str(code_dir / "evaluation.py"),
            inputs=[
                s3_in("model", model_data, "/opt/ml/processing/model"),
                s3_in("test", outputs["test"].S3Output.S3Uri, "/opt/ml/processing/test"),
            ],
            outputs=[s3_out("evaluation")],
        ),
        property_files=[report],
    )
    evaluation_uri = Join(
        on="/",
        values=[
            evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
            "evaluation.json",
        ],
    )

    def builder() -> Any:
        return ModelBuilder(
            image_uri=image_uri,
            s3_model_data_url=model_data,
            role_arn=ROLE,
            sagemaker_session=session,
            instance_type="ml.m5.large",
        )

    register = ModelStep(
        name="RegisterDiabetesModel",
        step_args=builder().register(
            model_package_group_name=name,
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.t2.medium", "ml.m5.large"],
            transform_instances=["ml.m5.large"],
            approval_status=approval,
            model_metrics=ModelMetrics(
                model_quality=ModelQuality(
                    statistics=MetricsSource(content_type="application/json", s3_uri=evaluation_uri)
                )
            ),
        ),
    )
    create = ModelStep(name="CreateDiabetesModel", step_args=builder().build())
    transform = TransformStep(
        name="TransformDiabetes",
        step_args=Transformer(
            model_name=create.properties.ModelName,
            instance_type="ml.m5.xlarge",
            instance_count=1,
            accept="text/csv",
            assemble_with="Line",
            output_path=f"s3://{bucket}/{name}/transform",
            sagemaker_session=session,
        ).transform(data=outputs["batch"].S3Output.S3Uri, content_type="text/csv", split_type="Line"),
    )
    mse = JsonGet(step_name=evaluate.name, property_file=report, json_path="regression_metrics.mse.value")
    gate = ConditionStep(
        name="CheckMSEDiabetesEvaluation",
        conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold)],
        if_steps=[register, create, transform],
        else_steps=[
            FailStep(
                name="DiabetesMSEFail",
                error_message=Join(on=" ", values=["Execution failed due to MSE >", mse_threshold]),
            )
        ],
    )
    return Pipeline(
        name=name,
        parameters=[input_data, approval, mse_threshold],
        steps=[preprocess, train, evaluate, gate],
        sagemaker_session=session,
    )


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
    path = tmp_path_factory.mktemp("byo-code")
    (path / "preprocessing.py").write_text(PREPROCESSING)
    (path / "evaluation.py").write_text(EVALUATION)
    return path


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


def test_the_registered_model_deployed_as_the_outer_loop_deploys_answers_on_a_local_endpoint(
    passed: dict[str, Any], bucket: str
) -> None:
    # GIVEN the package the pipeline registered, approved (what the approval relay does)
    sm = boto3.client("sagemaker")
    name = passed["name"]
    (summary,) = sm.list_model_packages(ModelPackageGroupName=name)["ModelPackageSummaryList"]
    package_arn = summary["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=package_arn, ModelApprovalStatus="Approved")

    # WHEN it is deployed with the outer loop's calls (outer_loop.asl.json: CreateModel from the
    # package alone, CreateEndpointConfig with data capture, CreateEndpoint, DescribeEndpoint)
    model = f"{name}-deployed"
    sm.create_model(
        ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package_arn}
    )
    sm.create_endpoint_config(
        EndpointConfigName=model,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{bucket}/datacapture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        },
    )
    sm.create_endpoint(EndpointName=model, EndpointConfigName=model)
    try:
        deadline = time.monotonic() + 90
        while (status := sm.describe_endpoint(EndpointName=model)["EndpointStatus"]) not in (
            "InService",
            "Failed",
        ):
            assert time.monotonic() < deadline, f"endpoint still {status}"
            time.sleep(0.1)
        assert status == "InService", sm.describe_endpoint(EndpointName=model).get("FailureReason")

        # THEN it answers CSV with the very predictions the pipeline's batch transform wrote
        rows = _read(f"s3://{bucket}/{name}/batch/batch.csv").decode().split()[:5]
        answer = boto3.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=model, Body="\n".join(rows), ContentType="text/csv"
        )
        online = [float(v) for v in answer["Body"].read().decode().split()]
        batch = [
            float(v) for v in _read(f"s3://{bucket}/{name}/transform/batch.csv.out").decode().split()[:5]
        ]
        assert online == pytest.approx(batch, rel=1e-6)
    finally:
        sm.delete_endpoint(EndpointName=model)
