"""Step Functions' optimized SageMaker integration on the local cloud, written as AWS's Step
Functions docs write it: ``createProcessingJob.sync`` then ``createTrainingJob.sync`` run both
jobs for real (the training job reads what the processing job wrote) and the training job's
description is the state's result; a failed job fails the task with ``States.TaskFailed``;
the request/response form returns the Create* response at once while the job runs on."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from sagemaker_jobs_support import ROLE, processing_request, training_request, upload_code
from wait_support import execution_ended, job_ended, wait_until

from shared.local_cloud.sagemaker import jobs

if TYPE_CHECKING:
    from shared.local_cloud import LocalCloud

# Keeps every other row: the training job's model says how many rows it saw.
PREP_SCRIPT = """\
import sys
source, target = sys.argv[1], sys.argv[2]
rows = open(source + "/data.csv").read().splitlines()
open(target + "/data.csv", "w").write("\\n".join(rows[::2]) + "\\n")
"""


@pytest.fixture(scope="module")
def cloud(local_cloud: LocalCloud) -> Iterator[LocalCloud]:
    jobs.attach(local_cloud)
    yield local_cloud


@pytest.fixture(scope="module")
def bucket(cloud: LocalCloud) -> str:
    name = f"sfn-sm-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="data/data.csv", Body=b"1,2\n3,4\n5,6\n7,8\n9,10\n")
    upload_code(name, process_script=PREP_SCRIPT)
    return name


def _state_machine(definition: dict[str, Any]) -> str:
    arn = boto3.client("stepfunctions").create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    return str(arn)


def _run(state_machine: str, timeout: float = 90) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=state_machine, input="{}")["executionArn"]
    try:
        return execution_ended(execution, timeout)
    finally:
        if sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
            sfn.stop_execution(executionArn=execution)


def _parameters(request: dict[str, Any], name_key: str, suffix: str) -> dict[str, Any]:
    """The API request as a state's Parameters, the job named after the execution."""
    parameters = {k: v for k, v in request.items() if k != name_key}
    parameters[f"{name_key}.$"] = f"States.Format('{{}}-{suffix}', $$.Execution.Name)"
    return parameters


def test_processing_then_training_sync_runs_both_and_passes_the_description_on(
    cloud: LocalCloud, bucket: str
) -> None:
    # GIVEN createProcessingJob.sync, then createTrainingJob.sync on the processing job's output
    prefix = f"s3://{bucket}/prepared/{uuid.uuid4().hex[:8]}"
    prep = processing_request(bucket, "unused")
    prep["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] = prefix
    train = training_request(bucket, "unused", rounds=2)
    train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri.$"] = (
        "$.Prep.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"
    )
    del train["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    machine = _state_machine(
        {
            "StartAt": "Prep",
            "States": {
                "Prep": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                    "Parameters": _parameters(prep, "ProcessingJobName", "prep"),
                    "ResultPath": "$.Prep",
                    "Next": "Train",
                },
                "Train": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                    "Parameters": _parameters(train, "TrainingJobName", "train"),
                    "End": True,
                },
            },
        }
    )

    # WHEN it runs
    execution = _run(machine)

    # THEN both jobs ran: the training job read the 3 rows the processing job kept
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["TrainingJobStatus"] == "Completed"
    assert output["TrainingJobName"].endswith("-train")
    artifact = output["ModelArtifacts"]["S3ModelArtifacts"]
    bucket_name, key = artifact.removeprefix("s3://").split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket_name, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        model = archive.extractfile("model.txt")
        assert model is not None and model.read() == b"rows=3 rounds=2"
    # AND the state's result is the description, as DescribeTrainingJob answers it
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=output["TrainingJobName"])
    assert output["FinalMetricDataList"][0]["Value"] == described["FinalMetricDataList"][0]["Value"] == 0.875
    assert output["TrainingEndTime"] == described["TrainingEndTime"].isoformat()


def test_a_failed_job_fails_the_sync_task_with_its_reason(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN createTrainingJob.sync with a job whose script fails, and a Catch on States.TaskFailed
    train = training_request(bucket, "unused", rounds=0)
    machine = _state_machine(
        {
            "StartAt": "Train",
            "States": {
                "Train": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                    "Parameters": _parameters(train, "TrainingJobName", "train"),
                    "Catch": [
                        {"ErrorEquals": ["States.TaskFailed"], "Next": "Failed", "ResultPath": "$.error"}
                    ],
                    "End": True,
                },
                "Failed": {"Type": "Pass", "OutputPath": "$.error", "End": True},
            },
        }
    )

    # WHEN it runs THEN the task failed with States.TaskFailed, the job's description as cause
    execution = _run(machine)
    assert execution["status"] == "SUCCEEDED", execution
    error = json.loads(execution["output"])
    assert error["Error"] == "States.TaskFailed"
    cause = json.loads(error["Cause"])
    assert cause["TrainingJobStatus"] == "Failed"
    assert "rounds must be at least 1, got 0" in cause["FailureReason"]


def test_request_response_returns_the_arn_and_the_job_runs_on(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN createProcessingJob without .sync
    name = f"rr-{uuid.uuid4().hex[:8]}"
    prep = processing_request(bucket, name)
    machine = _state_machine(
        {
            "StartAt": "Prep",
            "States": {
                "Prep": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sagemaker:createProcessingJob",
                    "Parameters": prep,
                    "End": True,
                }
            },
        }
    )

    # WHEN it runs THEN its result is CreateProcessingJob's response
    execution = _run(machine)
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"]) == {
        "ProcessingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{name}"
    }
    # AND the job itself runs to completion
    assert job_ended("processing", name)["ProcessingJobStatus"] == "Completed"


def test_an_api_error_is_named_as_step_functions_names_it(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN a training job name already taken
    name = f"taken-{uuid.uuid4().hex[:8]}"
    boto3.client("sagemaker").create_training_job(**training_request(bucket, name, rounds=1))
    machine = _state_machine(
        {
            "StartAt": "Train",
            "States": {
                "Train": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                    "Parameters": training_request(bucket, name, rounds=1),
                    "End": True,
                }
            },
        }
    )

    # WHEN the state machine creates it again THEN the task fails with SageMaker's error name
    execution = _run(machine)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "SageMaker.ResourceInUseException"
    assert name in execution["cause"]


def test_stopping_the_execution_stops_the_job(cloud: LocalCloud, bucket: str) -> None:
    # GIVEN createTrainingJob.sync with a job that takes a minute, running
    name = f"long-{uuid.uuid4().hex[:8]}"
    machine = _state_machine(
        {
            "StartAt": "Train",
            "States": {
                "Train": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                    "Parameters": training_request(bucket, name, rounds=1, sleep=60),
                    "End": True,
                }
            },
        }
    )
    sfn = boto3.client("stepfunctions")
    sm = boto3.client("sagemaker")
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

    def training() -> bool:
        try:
            return sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training"
        except sm.exceptions.ClientError:
            return False  # not created yet

    wait_until(training, what=f"training job {name} training", timeout=30)

    # WHEN the execution is stopped THEN the job is stopped too, as Step Functions does
    sfn.stop_execution(executionArn=execution)
    assert job_ended("training", name, timeout=20)["TrainingJobStatus"] == "Stopped"
