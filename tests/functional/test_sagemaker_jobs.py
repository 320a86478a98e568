"""Standalone SageMaker jobs on the local cloud: CreateTrainingJob / CreateProcessingJob called
with boto3 really run (a script-mode job, as the SDK creates it), report InProgress then
Completed or Failed with a FailureReason, write their output to CloudWatch Logs, and can be
stopped. What this cannot catch: the container images themselves (the job runs with the local
Python, see shared/local_cloud/sagemaker/steps/container.py)."""

from __future__ import annotations

import io
import logging
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from names_support import unique_name
from sagemaker_jobs_support import ROLE, TRAIN_SCRIPT, processing_request, training_request, upload_code
from wait_support import execution_ended, job_ended, wait_until

from shared.local_cloud.sagemaker import jobs

if TYPE_CHECKING:
    from shared.local_cloud import LocalCloud


@pytest.fixture(scope="module")
def cloud(local_cloud: LocalCloud) -> Iterator[LocalCloud]:
    """The session's local cloud with the job service attached."""
    jobs.attach(local_cloud)
    yield local_cloud


@pytest.fixture(scope="module")
def bucket(cloud: LocalCloud) -> str:
    name = f"jobs-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="data/data.csv", Body=b"1,2\n3,4\n5,6\n")
    upload_code(name)
    return name


# ---- training -------------------------------------------------------------------------------------


def test_training_job_runs_and_its_model_is_in_s3(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN a script-mode training job created with boto3
    sm = boto3.client("sagemaker")
    name = unique_name("train-ok")
    sm.create_training_job(**training_request(bucket, name, rounds=3, sleep=0.5))

    # WHEN it has just been accepted THEN it is in progress, with no results yet
    first = sm.describe_training_job(TrainingJobName=name)
    assert first["TrainingJobStatus"] == "InProgress"
    assert "ModelArtifacts" not in first and "FailureReason" not in first

    # WHEN it ends THEN it completed, and the model its script wrote is in S3
    job = job_ended("training", name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == ["Starting", "Training", "Completed"]
    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{bucket}/models/{name}/output/model.tar.gz"
    body = boto3.client("s3").get_object(Bucket=bucket, Key=f"models/{name}/output/model.tar.gz")["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read()), mode="r:gz") as archive:
        model = archive.extractfile("model.txt")
        assert model is not None and model.read() == b"rows=3 rounds=3"
    assert [(m["MetricName"], m["Value"]) for m in job["FinalMetricDataList"]] == [("validation:auc", 0.875)]
    assert job["TrainingStartTime"] <= job["TrainingEndTime"]
    assert job["TrainingTimeInSeconds"] == job["BillableTimeInSeconds"] >= 1
    listed = sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
    assert [(s["TrainingJobName"], s["TrainingJobStatus"]) for s in listed] == [(name, "Completed")]

    # AND its output is in CloudWatch Logs, where the SDK tails it
    logs = boto3.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )
    (stream,) = streams["logStreams"]
    assert stream["logStreamName"].startswith(f"{name}/algo-1-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"], startFromHead=True
    )["events"]
    assert "validation:auc=0.875" in [e["message"] for e in events]


def test_a_failing_training_job_fails_with_its_reason(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN a training job whose script exits with an error
    sm = boto3.client("sagemaker")
    name = unique_name("train-bad")
    sm.create_training_job(**training_request(bucket, name, rounds=0))

    # WHEN it ends THEN it failed, with the script's message as its reason, and wrote no model
    job = job_ended("training", name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["SecondaryStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: ")
    assert "rounds must be at least 1, got 0" in job["FailureReason"]
    assert "ModelArtifacts" not in job
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"models/{name}/")
    assert listed["KeyCount"] == 0


def test_a_job_is_never_completed_unless_it_ran(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN a training job whose code cannot be found
    sm = boto3.client("sagemaker")
    name = unique_name("train-nocode")
    request = training_request(bucket, name, rounds=1)
    request["HyperParameters"]["sagemaker_submit_directory"] = f'"s3://{bucket}/code/missing.tar.gz"'
    sm.create_training_job(**request)

    # WHEN it ends THEN it failed (moto alone reports every job Completed at once)
    job = job_ended("training", name)
    assert job["TrainingJobStatus"] == "Failed", job
    assert job["FailureReason"]


def test_a_job_name_is_unique(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN a training job
    sm = boto3.client("sagemaker")
    name = unique_name("train-twice")
    sm.create_training_job(**training_request(bucket, name, rounds=1))

    # WHEN another is created with its name THEN SageMaker refuses it (ResourceInUse)
    with pytest.raises(sm.exceptions.ResourceInUse):
        sm.create_training_job(**training_request(bucket, name, rounds=1))
    job_ended("training", name)


def test_stop_training_job_stops_it(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN a long training job that is running
    sm = boto3.client("sagemaker")
    name = unique_name("train-stop")
    sm.create_training_job(**training_request(bucket, name, rounds=1, sleep=60))
    wait_until(
        lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training",
        what=f"training job {name} training",
        timeout=60,
    )
    (running,) = sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
    assert running["TrainingJobStatus"] == "InProgress" and "TrainingEndTime" not in running
    (listed,) = sm.list_training_jobs(StatusEquals="InProgress", NameContains=name)["TrainingJobSummaries"]
    assert listed["TrainingJobName"] == name

    # WHEN it is stopped THEN it ends Stopped, well before its script would have finished
    started = time.monotonic()
    sm.stop_training_job(TrainingJobName=name)
    job = job_ended("training", name, timeout=20)
    assert job["TrainingJobStatus"] == "Stopped"
    assert time.monotonic() - started < 15
    assert "ModelArtifacts" not in job

    # AND stopping it again is refused, as on AWS
    with pytest.raises(sm.exceptions.ClientError, match="is in status Stopped"):
        sm.stop_training_job(TrainingJobName=name)


def test_stopping_an_unknown_job_is_resource_not_found(cloud: LocalCloud) -> None:
    sm = boto3.client("sagemaker")
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.stop_training_job(TrainingJobName=unique_name("nobody"))


# ---- processing -----------------------------------------------------------------------------------


def test_processing_job_runs_and_uploads_its_outputs(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN a processing job created with boto3
    sm = boto3.client("sagemaker")
    name = unique_name("proc")
    sm.create_processing_job(**processing_request(bucket, name))

    # WHEN it ends THEN it completed, its output is in S3 and Describe shows what was asked
    job = job_ended("processing", name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=f"processed/{name}/count.txt")["Body"].read()
    assert body == b"3"
    assert (
        job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == f"s3://{bucket}/processed/{name}"
    )
    assert job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert job["ProcessingStartTime"] <= job["ProcessingEndTime"]
    assert "FailureReason" not in job


# ---- built-in XGBoost: transform and tuning jobs ---------------------------------------------------

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.fixture(scope="module")
def diabetes(bucket: str) -> str:
    """scikit-learn's bundled diabetes data as the built-in XGBoost reads it: CSV, label first, no
    header (train/validation); the batch input has the features only, one row per line."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    rows = [[label, *features] for label, features in zip(y, x, strict=True)]

    def csv(table: list[list[float]]) -> bytes:
        return "\n".join(",".join(f"{v:.6f}" for v in row) for row in table).encode()

    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="xgb/train/train.csv", Body=csv(rows[:300]))
    s3.put_object(Bucket=bucket, Key="xgb/validation/validation.csv", Body=csv(rows[300:400]))
    s3.put_object(Bucket=bucket, Key="xgb/batch/batch.csv", Body=csv([row[1:] for row in rows[400:425]]))
    return f"s3://{bucket}/xgb"


def _xgboost_job(data: str, output: str, **hyperparameters: str) -> dict[str, Any]:
    """A built-in XGBoost training job definition (no entry point), as CreateTrainingJob takes it."""

    def channel(name: str) -> dict[str, Any]:
        source = {
            "S3DataType": "S3Prefix",
            "S3Uri": f"{data}/{name}/",
            "S3DataDistributionType": "FullyReplicated",
        }
        return {"ChannelName": name, "ContentType": "text/csv", "DataSource": {"S3DataSource": source}}

    return {
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "InputDataConfig": [channel("train"), channel("validation")],
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "HyperParameters": hyperparameters,
    }


@pytest.fixture(scope="module")
def xgboost_model(bucket: str, diabetes: str) -> str:
    """A built-in XGBoost model, trained by a standalone training job, as a SageMaker model."""
    sm = boto3.client("sagemaker")
    name = unique_name("xgb")
    request = _xgboost_job(
        diabetes, f"s3://{bucket}/xgb-models", objective="reg:squarederror", num_round="20"
    )
    sm.create_training_job(TrainingJobName=name, **request)
    job = job_ended("training", name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]},
    )
    return name


def _transform_request(name: str, model: str, data: str, output: str) -> dict[str, Any]:
    return {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": output, "Accept": "text/csv", "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
        "BatchStrategy": "MultiRecord",
    }


def test_a_transform_job_on_a_model_that_does_not_exist_fails_with_sagemakers_message(
    cloud: LocalCloud, bucket: str, diabetes: str
) -> None:
    # GIVEN a transform job naming a model nobody created
    sm = boto3.client("sagemaker")
    name = unique_name("transform-nomodel")
    sm.create_transform_job(
        **_transform_request(name, "no-such-model", f"{diabetes}/batch/", f"s3://{bucket}/t/")
    )

    # WHEN it ends THEN it failed, as SageMaker words it, and wrote nothing
    job = job_ended("transform", name)
    assert job["TransformJobStatus"] == "Failed"
    assert (
        job["FailureReason"]
        == 'ClientError: Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/no-such-model".'
    )
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="t/")


def test_a_transform_job_on_a_built_in_xgboost_model_writes_one_prediction_per_row(
    cloud: LocalCloud, bucket: str, diabetes: str, xgboost_model: str
) -> None:
    # GIVEN a standalone transform job on the built-in XGBoost model (no inference script)
    sm = boto3.client("sagemaker")
    name = unique_name("transform-xgb")
    output = f"s3://{bucket}/transformed/{name}"
    sm.create_transform_job(**_transform_request(name, xgboost_model, f"{diabetes}/batch/", output))

    # WHEN it ends THEN it completed, with one prediction per input row in S3
    job = job_ended("transform", name)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    body = (
        boto3.client("s3").get_object(Bucket=bucket, Key=f"transformed/{name}/batch.csv.out")["Body"].read()
    )
    predictions = [float(line) for line in body.decode().splitlines()]
    assert len(predictions) == 25
    assert all(20 < p < 350 for p in predictions)  # diabetes targets range 25..346
    assert len(set(predictions)) > 1  # a model, not a constant


def test_create_transform_job_sync_from_step_functions_waits_for_the_built_in_model(
    cloud: LocalCloud, bucket: str, diabetes: str, xgboost_model: str
) -> None:
    # GIVEN a state machine with the optimised createTransformJob.sync integration
    import json

    request = _transform_request(
        "unused", xgboost_model, f"{diabetes}/batch/", f"s3://{bucket}/sfn-transformed"
    )
    del request["TransformJobName"]
    request["TransformJobName.$"] = "$$.Execution.Name"
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=unique_name("transform-sync"),
        roleArn=ROLE,
        definition=json.dumps(
            {
                "StartAt": "Score",
                "States": {
                    "Score": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::sagemaker:createTransformJob.sync",
                        "Parameters": request,
                        "End": True,
                    }
                },
            }
        ),
    )["stateMachineArn"]

    # WHEN it runs
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    described = execution_ended(execution, timeout=90)

    # THEN the task waited for the job: its result is the completed job's description, and the output is there
    assert described["status"] == "SUCCEEDED", described
    result = json.loads(described["output"])
    assert result["TransformJobStatus"] == "Completed"
    key = "sfn-transformed/batch.csv.out"
    lines = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    assert len(lines) == 25


def test_a_standalone_tuning_job_runs_its_trials_as_training_jobs(
    cloud: LocalCloud, bucket: str, diabetes: str
) -> None:
    # GIVEN a tuning job of the built-in XGBoost, objective validation:rmse, 3 trials, 2 at a time
    sm = boto3.client("sagemaker")
    name = unique_name("hpo")[:32]  # HyperParameterTuningJobName: at most 32 characters
    definition = _xgboost_job(
        diabetes, f"s3://{bucket}/hpo-models", objective="reg:squarederror", num_round="10"
    )
    definition["StaticHyperParameters"] = definition.pop("HyperParameters")
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Grid",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "CategoricalParameterRanges": [{"Name": "max_depth", "Values": ["1", "3", "5"]}]
            },
        },
        TrainingJobDefinition=definition,
    )

    # WHEN it ends
    def done() -> dict[str, Any] | None:
        job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        return job if job["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping") else None

    job = wait_until(done, what=f"the end of tuning job {name}", timeout=120)

    # THEN it completed with three trials, each a training job DescribeTrainingJob knows, completed with its metric
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobStatusCounters"]["Completed"] == 3
    trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    summaries = trials["TrainingJobSummaries"]
    assert sorted(t["TunedHyperParameters"]["max_depth"] for t in summaries) == ["1", "3", "5"]
    for trial in summaries:
        described = sm.describe_training_job(TrainingJobName=trial["TrainingJobName"])
        assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
        assert described["HyperParameters"]["max_depth"] == trial["TunedHyperParameters"]["max_depth"]
        assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith("/output/model.tar.gz")
        assert "validation:rmse" in [m["MetricName"] for m in described["FinalMetricDataList"]]
    listed = {s["TrainingJobName"] for s in sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]}
    assert {t["TrainingJobName"] for t in summaries} <= listed
    best = job["BestTrainingJob"]
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in summaries]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(values)


# ---- the SDK, outside a pipeline ------------------------------------------------------------------


def test_sdk_model_trainer_trains_outside_a_pipeline(
    cloud: LocalCloud, bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a data scientist's ModelTrainer (SDK v3, source_code from a local directory)
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.shapes import StoppingCondition
    from sagemaker.train.configs import Compute, InputData, SourceCode
    from sagemaker.train.model_trainer import ModelTrainer

    (tmp_path / "train.py").write_text(TRAIN_SCRIPT)
    trainer = ModelTrainer(
        training_image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        source_code=SourceCode(source_dir=str(tmp_path), entry_script="train.py"),
        role=ROLE,
        sagemaker_session=Session(boto_session=boto3.Session(), default_bucket=bucket),
        base_job_name="sdk-trainer",
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=300),
        hyperparameters={"rounds": 4},
    )

    # WHEN it trains and waits, as in a notebook
    with caplog.at_level(logging.INFO, logger="sagemaker.core.resources"):
        trainer.train(input_data_config=[InputData(channel_name="train", data_source=f"s3://{bucket}/data/")])

    # THEN the job ran: Completed, with the model its script wrote, and the SDK showed its logs
    job = trainer._latest_training_job
    assert job.training_job_status == "Completed"
    artifact = str(job.model_artifacts.s3_model_artifacts)
    bucket_name, key = artifact.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket_name, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        model = archive.extractfile("model.txt")
        assert model is not None and model.read() == b"rows=3 rounds=4"
    assert "validation:auc=0.875" in caplog.text


def test_sdk_script_processor_runs_outside_a_pipeline(
    cloud: LocalCloud, bucket: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a ScriptProcessor with a local script, as AWS's examples run one from a notebook
    from sagemaker.core.helper.session_helper import Session
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output

    script = tmp_path / "count.py"
    script.write_text(
        "import sys\n"
        "rows = open(sys.argv[1] + '/data.csv').read().splitlines()\n"
        "open(sys.argv[2] + '/count.txt', 'w').write(str(len(rows)))\n"
        "print('counted', len(rows), 'rows')\n"
    )
    destination = f"s3://{bucket}/sdk-processed/{uuid.uuid4().hex[:8]}"
    processor = ScriptProcessor(
        role=ROLE,
        image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        command=["python3"],
        instance_count=1,
        instance_type="ml.m5.large",
        base_job_name="sdk-processor",
        sagemaker_session=Session(boto_session=boto3.Session(), default_bucket=bucket),
    )

    # WHEN it runs and waits (the SDK prints the job's CloudWatch logs as it waits)
    processor.run(
        code=str(script),
        inputs=[
            ProcessingInput(
                input_name="data",
                s3_input=ProcessingS3Input(
                    s3_uri=f"s3://{bucket}/data/",
                    local_path="/opt/ml/processing/input/data",
                    s3_data_type="S3Prefix",
                    s3_input_mode="File",
                ),
            )
        ],
        outputs=[
            ProcessingOutput(
                output_name="counts",
                s3_output=ProcessingS3Output(
                    s3_uri=destination, local_path="/opt/ml/processing/output", s3_upload_mode="EndOfJob"
                ),
            )
        ],
        arguments=["/opt/ml/processing/input/data", "/opt/ml/processing/output"],
    )

    # THEN the job completed and its output is in S3
    name = processor.latest_job.processing_job_name
    job = boto3.client("sagemaker").describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    bucket_name, prefix = destination.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket_name, Key=f"{prefix}/count.txt")["Body"].read()
    assert body == b"3"
    assert "counted 3 rows" in capsys.readouterr().out


def test_stop_processing_job_stops_it(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN a processing job whose script sleeps, running
    sm = boto3.client("sagemaker")
    name = unique_name("proc-stop")
    request = processing_request(bucket, name)
    request["AppSpecification"]["ContainerEntrypoint"] = ["python3", "-c", "import time; time.sleep(60)"]
    request["AppSpecification"].pop("ContainerArguments")
    sm.create_processing_job(**request)
    wait_until(
        lambda: "ProcessingStartTime" in sm.describe_processing_job(ProcessingJobName=name),
        what=f"processing job {name} starting",
        timeout=60,
    )

    # WHEN it is stopped THEN it is Stopping, then Stopped, and uploaded nothing
    sm.stop_processing_job(ProcessingJobName=name)
    assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    job = job_ended("processing", name, timeout=20)
    assert job["ProcessingJobStatus"] == "Stopped"
    assert boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"processed/{name}/")["KeyCount"] == 0


def test_a_running_jobs_output_reaches_cloudwatch_logs_while_it_runs(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN a processing job that prints, then works for a while
    sm = boto3.client("sagemaker")
    logs = boto3.client("logs")
    name = unique_name("proc-logs")
    request = processing_request(bucket, name)
    request["AppSpecification"]["ContainerEntrypoint"] = [
        "python3",
        "-c",
        "import time; print('first line'); print('second line'); time.sleep(4)",
    ]
    request["AppSpecification"].pop("ContainerArguments")
    sm.create_processing_job(**request)

    def streamed() -> list[str]:
        streams = logs.describe_log_streams(
            logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{name}/"
        )["logStreams"]
        if not streams:
            return []
        events = logs.get_log_events(
            logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=streams[0]["logStreamName"]
        )["events"]
        return [e["message"] for e in events]

    # WHEN it is running THEN its lines are already in its log stream, as SageMaker streams them
    lines = wait_until(
        lambda: streamed() if len(streamed()) >= 2 else None, what="two lines in the log stream", timeout=30
    )
    assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] == "InProgress"
    assert lines[:2] == ["first line", "second line"]
    assert job_ended("processing", name)["ProcessingJobStatus"] == "Completed"
    assert streamed() == ["first line", "second line"]


# ---- the job's role ------------------------------------------------------------------------------


def _role(name: str, actions: list[str], bucket: str) -> str:
    """A role SageMaker may assume, allowed ``actions`` on ``bucket`` and its objects only."""
    import json

    from iam_support import trust

    iam = boto3.client("iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(["sagemaker.amazonaws.com"]))[
        "Role"
    ]["Arn"]
    statement = {
        "Effect": "Allow",
        "Action": actions,
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }
    iam.put_role_policy(
        RoleName=name,
        PolicyName="s3",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    return arn


def test_a_job_runs_as_its_role_and_fails_when_the_role_may_not_read_its_input(
    cloud: LocalCloud, bucket: str
) -> None:
    # GIVEN two roles SageMaker may assume: one may list, read and write the bucket, one lacks s3:GetObject
    sm = boto3.client("sagemaker")
    reader = _role(unique_name("reader"), ["s3:ListBucket", "s3:GetObject", "s3:PutObject"], bucket)
    blind = _role(unique_name("blind"), ["s3:ListBucket", "s3:PutObject"], bucket)

    # WHEN the same processing job runs as each
    allowed, denied = unique_name("proc-reader"), unique_name("proc-blind")
    sm.create_processing_job(**{**processing_request(bucket, allowed), "RoleArn": reader})
    sm.create_processing_job(**{**processing_request(bucket, denied), "RoleArn": blind})
    ok, refused = (
        job_ended("processing", allowed),
        job_ended("processing", denied),
    )

    # THEN the role that may read completes; the other fails naming the denied read
    assert ok["ProcessingJobStatus"] == "Completed", ok.get("FailureReason")
    assert refused["ProcessingJobStatus"] == "Failed"
    assert "AccessDenied" in refused["FailureReason"], refused["FailureReason"]
    assert "s3:GetObject" in refused["FailureReason"] and "/data/data.csv" in refused["FailureReason"]


def test_a_job_whose_role_cannot_be_assumed_is_refused_at_create(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN a RoleArn that names no role
    sm = boto3.client("sagemaker")
    missing = "arn:aws:iam::123456789012:role/no-such-role"
    name = unique_name("train-norole")

    # WHEN a training job names it THEN SageMaker refuses it at once, as AWS does, and stores no job
    with pytest.raises(sm.exceptions.ClientError) as refused:
        sm.create_training_job(**{**training_request(bucket, name, rounds=1), "RoleArn": missing})
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == (
        f"Could not assume role {missing}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role."
    )
    with pytest.raises(sm.exceptions.ClientError):
        sm.describe_training_job(TrainingJobName=name)


# ---- MaxConcurrentTransforms ---------------------------------------------------------------------

# An inference script that records when each request ran (one line per request, any process).
TRACING_INFERENCE = """\
import os, time
def model_fn(model_dir):
    return None
def input_fn(body, content_type):
    return body
def predict_fn(data, model):
    started = time.monotonic()
    time.sleep(0.25)
    with open(os.environ["TRACE_FILE"], "a") as trace:
        trace.write("%f %f\\n" % (started, time.monotonic()))
    return data
def output_fn(prediction, accept):
    return prediction
"""


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_a_transform_sends_at_most_max_concurrent_transforms_requests_at_once(
    cloud: LocalCloud, bucket: str, tmp_path: Path
) -> None:
    import os

    from hosting_fixture import tarball

    # GIVEN a model whose every request takes 0.25 s and is traced, and 8 records sent one per request
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    name = unique_name("transform-concurrent")
    s3.put_object(
        Bucket=bucket, Key=f"{name}/code.tar.gz", Body=tarball({"inference.py": TRACING_INFERENCE.encode()})
    )
    s3.put_object(Bucket=bucket, Key=f"{name}/model.tar.gz", Body=tarball({"empty.txt": b""}))
    s3.put_object(Bucket=bucket, Key=f"{name}/in/rows.csv", Body=b"".join(b"%d\n" % i for i in range(8)))
    trace = tmp_path / "trace.txt"
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            "ModelDataUrl": f"s3://{bucket}/{name}/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/{name}/code.tar.gz",
                "TRACE_FILE": str(trace),
            },
        },
    )
    request = _transform_request(name, name, f"s3://{bucket}/{name}/in/", f"s3://{bucket}/{name}/out")

    # WHEN it runs with MaxConcurrentTransforms=2 (bounded by the cores: 2 on a machine with 2 or more)
    expected = min(2, os.cpu_count() or 1)
    sm.create_transform_job(**{**request, "BatchStrategy": "SingleRecord", "MaxConcurrentTransforms": 2})
    job = job_ended("transform", name)

    # THEN every record was scored, in order, and never more requests than that ran at once (but that many)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    out = s3.get_object(Bucket=bucket, Key=f"{name}/out/rows.csv.out")["Body"].read().decode().split()
    assert out == [str(i) for i in range(8)]
    spans = [(float(a), float(b)) for a, b in (line.split() for line in trace.read_text().splitlines())]
    assert len(spans) == 8
    assert _most_at_once(spans) == expected
