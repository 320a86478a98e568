"""A pipeline written the way AWS's abalone example writes it runs on the local SageMaker.

Built with the SageMaker SDK v3 and run through ``pipeline.upsert / start / wait /
list_steps``: a processing script that hard-codes ``/opt/ml/processing`` (reading a CSV made
from scikit-learn's bundled diabetes dataset), then the built-in XGBoost algorithm
(``image_uris.retrieve("xgboost", region, "1.7-1")``, no entry point, ``text/csv`` channels with
the label first), whose model is deployed on a local endpoint and answers CSV. What a fake
cannot prove: the real container's numbers (our algorithm mode is xgboost 3 with the
container's contract), instance types, IAM.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from typing import Any

import boto3
import pytest
from wait_support import endpoint_settled

from shared.local_cloud import LocalCloud
from shared.local_cloud.sagemaker.steps.container import mount_namespaces_available

ROLE = "arn:aws:iam::123456789012:role/local-test"
REGION = "us-east-1"

# As AWS's abalone preprocessing.py: container paths hard-coded, no arguments for them.
PREPROCESSING = """
import os, pathlib, sys, time
import numpy as np
import pandas as pd

base_dir = "/opt/ml/processing"
df = pd.read_csv(f"{base_dir}/input/data/diabetes.csv")
y = df.pop("target")
X = (df - df.mean()) / df.std()
table = pd.concat([y, X], axis=1).sample(frac=1.0, random_state=0).to_numpy()
n = len(table)
train, validation, test = np.split(table, [int(0.7 * n), int(0.85 * n)])
for name, part in (("train", train), ("validation", validation), ("test", test)):
    pathlib.Path(f"{base_dir}/{name}").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(part).to_csv(f"{base_dir}/{name}/{name}.csv", header=False, index=False)
# What this job sees of /opt/ml: its own files only (another job's marker never shows up).
marker = os.environ["MARKER"]
pathlib.Path(f"{base_dir}/marker-{marker}").write_text(marker)
time.sleep(float(os.environ.get("HOLD_SECONDS", "0")))
seen = sorted(p.name for p in pathlib.Path(base_dir).iterdir())
pathlib.Path(f"{base_dir}/test/seen.txt").write_text(",".join(seen))
print("rows", n, "cwd", os.getcwd())
"""


@pytest.fixture(scope="module")
def bucket(cloud: LocalCloud) -> str:
    from sklearn.datasets import load_diabetes  # ships with scikit-learn: offline

    name = f"containers-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    frame = load_diabetes(as_frame=True).frame
    s3.put_object(Bucket=name, Key="raw/diabetes.csv", Body=frame.to_csv(index=False).encode())
    s3.put_object(Bucket=name, Key="code/preprocessing.py", Body=PREPROCESSING.encode())
    return name


def _session(bucket: str) -> Any:
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    session = PipelineSession(boto_session=boto3.Session(region_name=REGION), default_bucket=bucket)
    session.sagemaker_config = None
    return session


def _preprocess_step(session: Any, bucket: str, name: str, marker: str, hold: float = 0.0) -> Any:
    from sagemaker.core.image_uris import retrieve
    from sagemaker.core.processing import ProcessingInput, ProcessingOutput, Processor
    from sagemaker.core.shapes import ProcessingS3Input, ProcessingS3Output
    from sagemaker.mlops.workflow import ProcessingStep

    processor = Processor(
        role=ROLE,
        image_uri=retrieve("sklearn", REGION, "1.2-1"),
        instance_count=1,
        instance_type="ml.m5.xlarge",
        entrypoint=["python3", "/opt/ml/processing/input/code/preprocessing.py"],
        env={"MARKER": marker, "HOLD_SECONDS": str(hold)},
        sagemaker_session=session,
    )

    def s3_input(input_name: str, uri: str, path: str) -> Any:
        return ProcessingInput(
            input_name=input_name,
            s3_input=ProcessingS3Input(
                s3_uri=uri, local_path=path, s3_data_type="S3Prefix", s3_input_mode="File"
            ),
        )

    def s3_output(output: str) -> Any:
        return ProcessingOutput(
            output_name=output,
            s3_output=ProcessingS3Output(
                s3_uri=f"s3://{bucket}/{name}/{output}",
                local_path=f"/opt/ml/processing/{output}",
                s3_upload_mode="EndOfJob",
            ),
        )

    step_args = processor.run(
        inputs=[
            s3_input("code", f"s3://{bucket}/code/preprocessing.py", "/opt/ml/processing/input/code"),
            s3_input("data", f"s3://{bucket}/raw/", "/opt/ml/processing/input/data"),
        ],
        outputs=[s3_output(o) for o in ("train", "validation", "test")],
    )
    return ProcessingStep(name, step_args=step_args)


def _train_step(session: Any, bucket: str, preprocess: Any, **hyperparameters: str) -> Any:
    from sagemaker.core.image_uris import retrieve
    from sagemaker.core.shapes import StoppingCondition
    from sagemaker.mlops.workflow import TrainingStep
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig
    from sagemaker.train.model_trainer import ModelTrainer

    trainer = ModelTrainer(
        training_image=retrieve("xgboost", REGION, "1.7-1"),
        role=ROLE,
        sagemaker_session=session,
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1, volume_size_in_gb=30),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/models", compression_type="GZIP"),
        hyperparameters=hyperparameters,
    )
    outputs = preprocess.properties.ProcessingOutputConfig.Outputs
    step_args = trainer.train(
        input_data_config=[
            InputData(channel_name=c, data_source=outputs[c].S3Output.S3Uri, content_type="text/csv")
            for c in ("train", "validation")
        ]
    )
    return TrainingStep("Train", step_args=step_args)


def _run(session: Any, steps: list[Any]) -> tuple[Any, dict[str, dict[str, Any]]]:
    from sagemaker.mlops.workflow import Pipeline

    pipeline = Pipeline(name=f"abalone-like-{uuid.uuid4().hex[:8]}", steps=steps, sagemaker_session=session)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    try:
        execution.wait(delay=1, max_attempts=180)
    except Exception:
        pass
    return execution, {s["StepName"]: s for s in execution.list_steps()}


def _job(step: dict[str, Any], kind: str) -> dict[str, Any]:
    name = step["Metadata"][kind]["Arn"].rsplit("/", 1)[-1]
    sm = boto3.client("sagemaker")
    if kind == "TrainingJob":
        return dict(sm.describe_training_job(TrainingJobName=name))
    return dict(sm.describe_processing_job(ProcessingJobName=name))


def _read(bucket: str, key: str) -> bytes:
    body: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


@pytest.fixture(scope="module")
def trained(bucket: str) -> dict[str, dict[str, Any]]:
    """Preprocess (hard-coded paths) -> built-in XGBoost Train, run once for the module."""
    session = _session(bucket)
    preprocess = _preprocess_step(session, bucket, "Preprocess", marker="one")
    train = _train_step(
        session, bucket, preprocess,
        objective="reg:squarederror", num_round="60", max_depth="3", eta="0.2", subsample="0.9",
        early_stopping_rounds="10", eval_metric="rmse",
    )  # fmt: skip
    _, steps = _run(session, [preprocess, train])
    return steps


def test_a_script_with_hard_coded_opt_ml_paths_runs_unchanged(
    trained: dict[str, dict[str, Any]], bucket: str
) -> None:
    # GIVEN the abalone-style script (base_dir = "/opt/ml/processing"), WHEN the pipeline ran
    step = trained["Preprocess"]

    # THEN it succeeded and its outputs reached S3, label first and no header
    assert step["StepStatus"] == "Succeeded", step.get("FailureReason")
    train_csv = _read(bucket, "Preprocess/train/train.csv").decode().splitlines()
    assert len(train_csv) == int(0.7 * 442)
    assert len(train_csv[0].split(",")) == 11  # target + 10 features
    assert _job(step, "ProcessingJob")["ProcessingJobStatus"] == "Completed"


@pytest.mark.skipif(not mount_namespaces_available(), reason="needs root and unshare (the mounted mode)")
def test_the_job_sees_its_own_opt_ml_only_and_the_host_sees_nothing(
    trained: dict[str, dict[str, Any]], bucket: str
) -> None:
    from pathlib import Path

    # GIVEN the job ran in its own mount namespace
    seen = _read(bucket, "Preprocess/test/seen.txt").decode().split(",")
    # THEN it saw exactly its own /opt/ml/processing, and nothing of it reached the host's /opt/ml
    # (which other processes on this machine may use: only this job's files are checked)
    assert seen == ["input", "marker-one", "test", "train", "validation"]
    assert not list(Path("/opt/ml").rglob("marker-one"))


def test_built_in_xgboost_trains_with_validation_and_reports_its_metrics(
    trained: dict[str, dict[str, Any]], bucket: str
) -> None:
    # GIVEN the built-in XGBoost image, no entry point, train + validation text/csv channels
    step = trained["Train"]
    assert step["StepStatus"] == "Succeeded", step.get("FailureReason")
    job = _job(step, "TrainingJob")

    # THEN the model is xgboost-model inside model.tar.gz
    artifacts = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifacts.endswith("/output/model.tar.gz")
    key = artifacts.removeprefix(f"s3://{bucket}/")
    with tarfile.open(fileobj=io.BytesIO(_read(bucket, key))) as archive:
        assert archive.getnames() == ["xgboost-model"]
    # AND the built-in metric names carry the last round's values, as tuning objectives read them
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(metrics) == {"train:rmse", "validation:rmse"}
    assert 0 < metrics["train:rmse"] < metrics["validation:rmse"] < 80  # the target's std is about 77


def test_invalid_hyperparameters_fail_with_the_containers_message(bucket: str) -> None:
    # GIVEN eta outside [0, 1]
    session = _session(bucket)
    preprocess = _preprocess_step(session, bucket, "PreprocessBadEta", marker="bad")
    train = _train_step(session, bucket, preprocess, objective="reg:squarederror", num_round="5", eta="1.5")

    # WHEN the pipeline runs
    _, steps = _run(session, [preprocess, train])

    # THEN the training step fails as the container would say it
    assert steps["Train"]["StepStatus"] == "Failed"
    assert steps["Train"]["FailureReason"] == "ClientError: Hyperparameter eta: 1.5 is not in [0, 1]"


@pytest.mark.skipif(not mount_namespaces_available(), reason="needs root and unshare (the mounted mode)")
def test_two_jobs_at_once_never_see_each_others_files(bucket: str) -> None:
    # GIVEN two independent processing steps that overlap in time (each holds 1.5 s)
    session = _session(bucket)
    left = _preprocess_step(session, bucket, "Left", marker="left", hold=1.5)
    right = _preprocess_step(session, bucket, "Right", marker="right", hold=1.5)

    # WHEN they run in one execution
    started = time.monotonic()
    _, steps = _run(session, [left, right])

    # THEN both succeeded, and each saw only its own marker under the same /opt/ml path
    assert {s["StepStatus"] for s in steps.values()} == {"Succeeded"}
    for name, marker in (("Left", "left"), ("Right", "right")):
        seen = _read(bucket, f"{name}/test/seen.txt").decode().split(",")
        assert [s for s in seen if s.startswith("marker-")] == [f"marker-{marker}"]
    left_job, right_job = _job(steps["Left"], "ProcessingJob"), _job(steps["Right"], "ProcessingJob")
    overlap = min(left_job["ProcessingEndTime"], right_job["ProcessingEndTime"]) - max(
        left_job["ProcessingStartTime"], right_job["ProcessingStartTime"]
    )
    assert overlap.total_seconds() > 0.5 or time.monotonic() - started < 3.0  # they ran at the same time


def test_the_built_in_model_serves_csv_on_a_local_endpoint(
    trained: dict[str, dict[str, Any]], bucket: str
) -> None:
    # GIVEN the trained built-in XGBoost model, as a SageMaker model on the same image
    from sagemaker.core.image_uris import retrieve

    job = _job(trained["Train"], "TrainingJob")
    sm = boto3.client("sagemaker")
    name = f"xgb-{uuid.uuid4().hex[:8]}"
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": retrieve("xgboost", REGION, "1.7-1"),
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    described = endpoint_settled(name, timeout=90)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")

    # WHEN three test rows (features only) are sent as text/csv
    rows = _read(bucket, "Preprocess/test/test.csv").decode().splitlines()[:3]
    features = "\n".join(row.split(",", 1)[1] for row in rows)
    runtime = boto3.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(EndpointName=name, Body=features, ContentType="text/csv")

    # THEN it answers one prediction per line, near the true targets' scale
    predictions = [float(v) for v in answer["Body"].read().decode().splitlines()]
    assert len(predictions) == 3
    assert all(20 < p < 350 for p in predictions)  # diabetes targets range 25..346
    as_json = runtime.invoke_endpoint(
        EndpointName=name, Body=features, ContentType="text/csv", Accept="application/json"
    )
    scores = [p["score"] for p in json.loads(as_json["Body"].read())["predictions"]]
    assert scores == pytest.approx(predictions, rel=1e-6)
    # AND a request with the wrong number of features is the client's error (4XX)
    with pytest.raises(runtime.exceptions.ModelError) as error:
        runtime.invoke_endpoint(EndpointName=name, Body="1,2", ContentType="text/csv")
    assert "takes 10 features" in str(error.value)
    sm.delete_endpoint(EndpointName=name)


HARD_CODED_TRAIN = """
import json, os, pathlib
import numpy as np
hps = json.loads(pathlib.Path("/opt/ml/input/config/hyperparameters.json").read_text())
rows = np.loadtxt("/opt/ml/input/data/train/train.csv", delimiter=",")
pathlib.Path("/opt/ml/model/model.json").write_text(json.dumps({
    "rows": len(rows), "alpha": hps["alpha"], "model_dir": os.environ["SM_MODEL_DIR"],
    "channels": json.loads(os.environ["SM_CHANNELS"]), "cwd": os.getcwd(),
}))
"""


@pytest.mark.skipif(not mount_namespaces_available(), reason="needs root and unshare (the mounted mode)")
def test_a_model_trainer_script_with_hard_coded_paths_and_requirements(
    trained: dict[str, dict[str, Any]], bucket: str, tmp_path: Any
) -> None:
    from sagemaker.core.image_uris import retrieve
    from sagemaker.core.shapes import StoppingCondition
    from sagemaker.mlops.workflow import TrainingStep
    from sagemaker.train.configs import Compute, InputData, OutputDataConfig, SourceCode
    from sagemaker.train.model_trainer import ModelTrainer

    # GIVEN a ModelTrainer script (sklearn framework image) that hard-codes its container paths,
    # with a requirements.txt the local interpreter already satisfies
    (tmp_path / "train.py").write_text(HARD_CODED_TRAIN)
    (tmp_path / "requirements.txt").write_text("numpy\n")
    session = _session(bucket)
    trainer = ModelTrainer(
        training_image=retrieve("sklearn", REGION, "1.2-1"),
        role=ROLE,
        sagemaker_session=session,
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
        output_data_config=OutputDataConfig(
            s3_output_path=f"s3://{bucket}/scripted", compression_type="NONE"
        ),
        source_code=SourceCode(
            source_dir=str(tmp_path), entry_script="train.py", requirements="requirements.txt"
        ),
        hyperparameters={"alpha": "0.5"},
    )
    step = TrainingStep(
        "Scripted",
        step_args=trainer.train(
            input_data_config=[
                InputData(channel_name="train", data_source=f"s3://{bucket}/Preprocess/train/")
            ]
        ),
    )

    # WHEN it runs in a pipeline
    _, steps = _run(session, [step])

    # THEN it read and wrote SageMaker's paths, with the toolkit's SM_* variables
    assert steps["Scripted"]["StepStatus"] == "Succeeded", steps["Scripted"].get("FailureReason")
    artifacts = _job(steps["Scripted"], "TrainingJob")["ModelArtifacts"]["S3ModelArtifacts"]
    model = json.loads(_read(bucket, artifacts.removeprefix(f"s3://{bucket}/") + "model.json"))
    assert model == {
        "rows": int(0.7 * 442),
        "alpha": "0.5",  # hyperparameters.json holds strings, as on SageMaker
        "model_dir": "/opt/ml/model",
        "channels": ["code", "sm_drivers", "train"],
        "cwd": "/opt/ml/input/data/code",
    }
