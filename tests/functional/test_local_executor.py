"""The local cloud runs SageMaker pipeline executions: StartPipelineExecution -> Executing ->
Succeeded/Failed, with real subprocesses for the jobs, step caching, the step list
(ListPipelineExecutionSteps, which moto lacks) and the EventBridge status-change events.

The definitions are small hand-written ones in SageMaker's definition schema (2020-12-01),
shaped like what the SDK compiles (ModelTrainer's code/sm_drivers channels included), with
tiny scripts: they prove the executor's semantics, not the project's pipeline (tests/e2e
runs that). What a fake cannot prove: container images, instance types and IAM are not
modelled; the scripts run with the local Python.
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
from names_support import unique_name
from wait_support import pipeline_ended, wait_until

from shared.local_cloud import LocalCloud, events
from shared.local_cloud.sagemaker.cache import InMemoryStepCache
from shared.local_cloud.sagemaker.executor import run_definition

ROLE = "arn:aws:iam::123456789012:role/local-test"

PREP_SCRIPT = """
import argparse, json, os, pathlib, sys, time
p = argparse.ArgumentParser()
for name in ("--input", "--output", "--threshold", "--fail", "--sleep", "--resource-config", "--failure-file"):
    p.add_argument(name)
a = p.parse_args()
if a.fail == "yes":
    path = pathlib.Path(a.failure_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("input has no rows\\n")
    sys.exit(1)
if a.fail == "crash":
    raise RuntimeError("unexpected crash")
time.sleep(float(a.sleep or 0))
config = json.load(open(a.resource_config))
files = sorted(str(f.relative_to(a.input)) for f in pathlib.Path(a.input).rglob("*.csv"))
rows = sum(len((pathlib.Path(a.input) / f).read_text().splitlines()) for f in files)
out = pathlib.Path(a.output)
out.mkdir(parents=True, exist_ok=True)
host = config["current_host"]
(out / f"files-{host}.json").write_text(json.dumps({"files": files, "hosts": config["hosts"]}))
if host == "algo-1":
    report = {"metrics": {"score": {"value": rows / 10}}, "greeting": os.environ.get("GREETING")}
    (out / "report.json").write_text(json.dumps(report))
print("rows", rows)
"""

TRAIN_SCRIPT = """
import argparse, json, os, pathlib
p = argparse.ArgumentParser()
p.add_argument("--max_depth", type=int)
p.add_argument("--eta", type=float)
a = p.parse_args()
train = pathlib.Path(os.environ["SM_CHANNEL_TRAIN"])
rows = sum(len(f.read_text().splitlines()) for f in train.rglob("*.csv"))
hps = json.loads((pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"]) / "hyperparameters.json").read_text())
model = pathlib.Path(os.environ["SM_MODEL_DIR"])
(model / "model.json").write_text(json.dumps({"max_depth": a.max_depth, "eta": a.eta, "rows": rows, "hps": hps,
                                              "host": os.environ["SM_CURRENT_HOST"]}))
print(f"validation:auc={0.5 + a.max_depth / 100}")
"""


# ---- fixtures and helpers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bucket(cloud: LocalCloud) -> str:
    name = unique_name("pipe")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="code/prep.py", Body=PREP_SCRIPT.encode())
    for i in range(4):
        s3.put_object(Bucket=name, Key=f"raw/part-{i}.csv", Body=b"a\nb\nc\n")
    return name


def _processing_step(
    bucket: str, *, name: str = "Prep", instances: int = 1, sharded: bool = False
) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceType": "ml.m5.xlarge",
                    "InstanceCount": instances,
                    "VolumeSizeInGB": 30,
                }
            },
            "AppSpecification": {
                "ImageUri": "python:3.11",
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/prep.py"],
                "ContainerArguments": [
                    "--input",
                    "/opt/ml/processing/input/data",
                    "--output",
                    "/opt/ml/processing/output/report",
                    "--threshold",
                    {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.Threshold"}]}},
                    "--fail",
                    {"Get": "Parameters.Mode"},
                    "--sleep",
                    {"Get": "Parameters.Sleep"},
                    "--resource-config",
                    "/opt/ml/config/resourceconfig.json",
                    "--failure-file",
                    "/opt/ml/output/message",
                ],
            },
            "RoleArn": ROLE,
            "ProcessingInputs": [
                {
                    "InputName": "data",
                    "S3Input": {
                        "S3Uri": {"Get": "Parameters.InputData"},
                        "LocalPath": "/opt/ml/processing/input/data",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "ShardedByS3Key" if sharded else "FullyReplicated",
                    },
                },
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": f"s3://{bucket}/code/prep.py",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                        "S3DataDistributionType": "FullyReplicated",
                    },
                },
            ],
            "ProcessingOutputConfig": {
                "Outputs": [
                    {
                        "OutputName": "report",
                        "S3Output": {
                            # Per execution, as the SDK's default output URIs: not part of the cache key.
                            "S3Uri": {
                                "Std:Join": {
                                    "On": "/",
                                    "Values": [
                                        f"s3://{bucket}/out",
                                        {"Get": "Execution.PipelineExecutionId"},
                                        name,
                                        "report",
                                    ],
                                }
                            },
                            "LocalPath": "/opt/ml/processing/output/report",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            "Environment": {"GREETING": "hello"},
        },
        "CacheConfig": {"Enabled": True, "ExpireAfter": "P30D"},
        "PropertyFiles": [{"PropertyFileName": "Report", "OutputName": "report", "FilePath": "report.json"}],
    }


def _parameters(bucket: str) -> list[dict[str, Any]]:
    return [
        {"Name": "InputData", "Type": "String", "DefaultValue": f"s3://{bucket}/raw/"},
        {"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5},
        {"Name": "Mode", "Type": "String", "DefaultValue": "ok"},
        {"Name": "Sleep", "Type": "String", "DefaultValue": "0"},
    ]


def _gated_definition(bucket: str) -> dict[str, Any]:
    """Prep -> Check(score >= Threshold) -> if: Publish (reads Prep's output) | else: TooLow (Fail)."""
    publish = _processing_step(bucket, name="Publish")
    publish["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"] = {
        "Get": "Steps.Prep.ProcessingOutputConfig.Outputs['report'].S3Output.S3Uri"
    }
    del publish["CacheConfig"]
    return {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": _parameters(bucket),
        "Steps": [
            _processing_step(bucket),
            {
                "Name": "Check",
                "Type": "Condition",
                "Arguments": {
                    "Conditions": [
                        {
                            "Type": "GreaterThanOrEqualTo",
                            "LeftValue": {
                                "Std:JsonGet": {
                                    "PropertyFile": {"Get": "Steps.Prep.PropertyFiles.Report"},
                                    "Path": "metrics.score.value",
                                }
                            },
                            "RightValue": {"Get": "Parameters.Threshold"},
                        }
                    ],
                    "IfSteps": [publish],
                    "ElseSteps": [
                        {
                            "Name": "TooLow",
                            "Type": "Fail",
                            "Arguments": {
                                "ErrorMessage": {
                                    "Std:Join": {
                                        "On": " ",
                                        "Values": ["score below", {"Get": "Parameters.Threshold"}],
                                    }
                                }
                            },
                        }
                    ],
                },
            },
        ],
    }


def _pipeline(definition: dict[str, Any]) -> str:
    name = unique_name("pipeline")
    boto3.client("sagemaker").create_pipeline(
        PipelineName=name,
        PipelineDefinition=json.dumps(definition),
        RoleArn=ROLE,
        ClientRequestToken=uuid.uuid4().hex,
    )
    return name


def _start(pipeline: str, **parameters: str) -> str:
    return boto3.client("sagemaker").start_pipeline_execution(
        PipelineName=pipeline,
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
        ClientRequestToken=uuid.uuid4().hex,
    )["PipelineExecutionArn"]


def _steps(execution_arn: str) -> list[dict[str, Any]]:
    listed = boto3.client("sagemaker").list_pipeline_execution_steps(PipelineExecutionArn=execution_arn)
    return [dict(step) for step in listed["PipelineExecutionSteps"]]


def _by_name(execution_arn: str) -> dict[str, dict[str, Any]]:
    return {s["StepName"]: s for s in _steps(execution_arn)}


def _read_json(uri: str) -> Any:
    bucket, _, key = uri[5:].partition("/")
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


# ---- through StartPipelineExecution -------------------------------------------------------------------


def test_execution_runs_the_steps_and_lists_them(cloud: LocalCloud, bucket: str) -> None:
    pipeline = _pipeline(_gated_definition(bucket))
    sm = boto3.client("sagemaker")

    arn = _start(pipeline)

    assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Executing"
    described = pipeline_ended(arn)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert "FailureReason" not in described
    steps = _steps(arn)
    assert [s["StepName"] for s in steps] == ["Publish", "Check", "Prep"]  # newest first, as AWS lists them
    assert {s["StepStatus"] for s in steps} == {"Succeeded"}
    by_name = {s["StepName"]: s for s in steps}
    assert by_name["Check"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    assert by_name["Prep"]["AttemptCount"] == 1
    assert by_name["Prep"]["StartTime"] <= by_name["Prep"]["EndTime"]
    assert "TooLow" not in by_name  # the branch not taken does not run

    job_arn = by_name["Prep"]["Metadata"]["ProcessingJob"]["Arn"]
    job = sm.describe_processing_job(ProcessingJobName=job_arn.rsplit("/", 1)[-1])
    assert job["ProcessingJobStatus"] == "Completed"
    execution_id = arn.rsplit("/", 1)[-1]
    report = _read_json(f"s3://{bucket}/out/{execution_id}/Prep/report/report.json")
    assert report == {"metrics": {"score": {"value": 1.2}}, "greeting": "hello"}
    # Publish read Prep's output through a property reference: it saw Prep's files.
    published = _read_json(f"s3://{bucket}/out/{execution_id}/Publish/report/files-algo-1.json")
    assert published["files"] == []  # Prep wrote JSON, Publish counts CSVs: it read the right prefix
    assert (
        sm.describe_processing_job(
            ProcessingJobName=by_name["Publish"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
        )["ProcessingInputs"][0]["S3Input"]["S3Uri"]
        == f"s3://{bucket}/out/{execution_id}/Prep/report"
    )


def test_rerun_hits_the_cache_and_a_changed_parameter_misses(cloud: LocalCloud, bucket: str) -> None:
    pipeline = _pipeline(_gated_definition(bucket))
    first = _start(pipeline)
    assert pipeline_ended(first)["PipelineExecutionStatus"] == "Succeeded"

    again = _start(pipeline)

    assert pipeline_ended(again)["PipelineExecutionStatus"] == "Succeeded"
    prep = _by_name(again)["Prep"]
    assert prep["CacheHitResult"] == {"SourcePipelineExecutionArn": first}
    # The hit propagates the source run's outputs: Publish reads the first execution's report.
    publish_job = _by_name(again)["Publish"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
    inputs = boto3.client("sagemaker").describe_processing_job(ProcessingJobName=publish_job)[
        "ProcessingInputs"
    ]
    assert inputs[0]["S3Input"]["S3Uri"].endswith(f"/out/{first.rsplit('/', 1)[-1]}/Prep/report")

    changed = _start(pipeline, Threshold="0.6")  # a container argument: part of the key

    assert pipeline_ended(changed)["PipelineExecutionStatus"] == "Succeeded"
    assert "CacheHitResult" not in _by_name(changed)["Prep"]


def test_failing_script_fails_the_execution_with_its_reason(cloud: LocalCloud, bucket: str) -> None:
    pipeline = _pipeline(_gated_definition(bucket))

    arn = _start(pipeline, Mode="yes")

    described = pipeline_ended(arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Step Prep failed: AlgorithmError: input has no rows"
    steps = _by_name(arn)
    assert list(steps) == ["Prep"]
    assert steps["Prep"]["StepStatus"] == "Failed"
    assert steps["Prep"]["FailureReason"] == "AlgorithmError: input has no rows"
    job_name = steps["Prep"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
    job = boto3.client("sagemaker").describe_processing_job(ProcessingJobName=job_name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: input has no rows"


def test_a_crash_without_failure_file_reports_the_output_tail(cloud: LocalCloud, bucket: str) -> None:
    arn = _start(_pipeline(_gated_definition(bucket)), Mode="crash")

    described = pipeline_ended(arn)

    assert described["PipelineExecutionStatus"] == "Failed"
    assert "exit code 1" in described["FailureReason"]
    assert "RuntimeError: unexpected crash" in described["FailureReason"]


def test_fail_step_in_the_else_branch_fails_the_execution(cloud: LocalCloud, bucket: str) -> None:
    arn = _start(_pipeline(_gated_definition(bucket)), Threshold="5")

    described = pipeline_ended(arn)

    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Step TooLow failed: score below 5.0"
    steps = _by_name(arn)
    assert steps["Check"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert steps["TooLow"]["Metadata"] == {"Fail": {"ErrorMessage": "score below 5.0"}}
    assert "Publish" not in steps


def test_unknown_step_type_fails_with_an_error_naming_it(cloud: LocalCloud, bucket: str) -> None:
    definition = _gated_definition(bucket)
    definition["Steps"].append({"Name": "Score", "Type": "Endpoint", "Arguments": {}})

    described = pipeline_ended(_start(_pipeline(definition)))

    assert described["PipelineExecutionStatus"] == "Failed"
    assert (
        "step 'Score' has type 'Endpoint', which the local executor does not support"
        in described["FailureReason"]
    )


def test_status_change_events_reach_an_eventbridge_rule(cloud: LocalCloud, bucket: str) -> None:
    pipeline = _pipeline(_gated_definition(bucket))
    pipeline_arn = boto3.client("sagemaker").describe_pipeline(PipelineName=pipeline)["PipelineArn"]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=unique_name("pipeline-events"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = unique_name("pipeline-rule")
    eb = boto3.client("events")
    eb.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.sagemaker"],
                "detail-type": [events.PIPELINE_STATUS, events.PIPELINE_STEP_STATUS],
                "detail": {"pipelineArn": [pipeline_arn]},
            }
        ),
    )
    eb.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])

    arn = _start(pipeline)
    assert pipeline_ended(arn)["PipelineExecutionStatus"] == "Succeeded"

    received: list[dict[str, Any]] = []

    def execution_done() -> bool:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            received.append(json.loads(message["Body"]))
        return any(e["detail"].get("currentPipelineExecutionStatus") == "Succeeded" for e in received)

    wait_until(execution_done, what="the Succeeded pipeline event", timeout=10)
    execution_statuses = [
        e["detail"]["currentPipelineExecutionStatus"]
        for e in received
        if e["detail-type"] == events.PIPELINE_STATUS
    ]
    assert execution_statuses == ["Executing", "Succeeded"]
    prep = [
        e["detail"]
        for e in received
        if e["detail-type"] == events.PIPELINE_STEP_STATUS and e["detail"]["stepName"] == "Prep"
    ]
    assert [d["currentStepStatus"] for d in prep] == ["Starting", "Executing", "Succeeded"]
    assert prep[-1]["pipelineExecutionArn"] == arn
    assert prep[-1]["metadata"]["ProcessingJob"]["Arn"].startswith("arn:aws:sagemaker:")
    assert {e["detail"]["stepName"] for e in received if e["detail-type"] == events.PIPELINE_STEP_STATUS} == {
        "Prep",
        "Check",
        "Publish",
    }


def test_stop_pipeline_execution_stops_the_running_job(cloud: LocalCloud, bucket: str) -> None:
    arn = _start(_pipeline(_gated_definition(bucket)), Sleep="30")
    sm = boto3.client("sagemaker")
    wait_until(
        lambda: _by_name(arn).get("Prep", {}).get("StepStatus") == "Executing",
        what="Prep executing",
        timeout=60,
    )
    started = time.monotonic()

    sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)

    described = pipeline_ended(arn, timeout=20)
    assert time.monotonic() - started < 10
    assert described["PipelineExecutionStatus"] == "Stopped"
    assert _by_name(arn)["Prep"]["StepStatus"] == "Stopped"
    with pytest.raises(sm.exceptions.ClientError, match="terminal state"):
        sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)


# ---- training, registry, several instances ------------------------------------------------------------


def _upload_training_code(bucket: str) -> tuple[str, str]:
    """ModelTrainer's layout (a code prefix + sm_drivers/sourcecode.json) and SDK v2's
    (sourcedir.tar.gz named by sagemaker_submit_directory)."""
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="train/v3/code/train.py", Body=TRAIN_SCRIPT.encode())
    s3.put_object(
        Bucket=bucket,
        Key="train/v3/sm_drivers/sourcecode.json",
        Body=json.dumps(
            {"source_dir": "src", "entry_script": "train.py", "command": None, "requirements": None}
        ).encode(),
    )
    s3.put_object(Bucket=bucket, Key="train/v3/sm_drivers/sm_train.sh", Body=b"exit 1  # not run locally\n")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("train.py")
        info.size = len(TRAIN_SCRIPT.encode())
        archive.addfile(info, io.BytesIO(TRAIN_SCRIPT.encode()))
    s3.put_object(Bucket=bucket, Key="train/v2/sourcedir.tar.gz", Body=buffer.getvalue())
    return f"s3://{bucket}/train/v3", f"s3://{bucket}/train/v2/sourcedir.tar.gz"


def _training_step(
    name: str, bucket: str, hyperparameters: dict[str, str], channels: list[dict[str, Any]]
) -> dict[str, Any]:
    def channel(channel_name: str, uri: Any) -> dict[str, Any]:
        return {
            "ChannelName": channel_name,
            "InputMode": "File",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": uri,
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }

    return {
        "Name": name,
        "Type": "Training",
        "Arguments": {
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "TrainingImage": "xgboost:latest",
                "ContainerEntrypoint": ["/bin/bash"],
                "ContainerArguments": ["-c", "/opt/ml/input/data/sm_drivers/sm_train.sh"],
                "MetricDefinitions": [{"Name": "validation:auc", "Regex": r"validation:auc=([0-9.]+)"}],
            },
            "HyperParameters": hyperparameters,
            "InputDataConfig": [channel(c["name"], c["uri"]) for c in channels],
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/models", "CompressionType": "GZIP"},
            "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            "RoleArn": ROLE,
        },
        "CacheConfig": {"Enabled": True, "ExpireAfter": "PT1H"},
    }


def test_training_then_register_model_and_model(cloud: LocalCloud, bucket: str) -> None:
    v3_code, v2_code = _upload_training_code(bucket)
    group = unique_name("group")
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=group)
    train_data = {"name": "train", "uri": f"s3://{bucket}/raw/"}
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            _training_step(
                "Train",
                bucket,
                {"max_depth": "5", "eta": "0.2"},
                [
                    train_data,
                    {"name": "code", "uri": f"{v3_code}/code"},
                    {"name": "sm_drivers", "uri": f"{v3_code}/sm_drivers"},
                ],
            ),
            _training_step(
                "TrainV2",
                bucket,
                {
                    "max_depth": "3",
                    "eta": "0.1",
                    "sagemaker_program": '"train.py"',
                    "sagemaker_submit_directory": json.dumps(v2_code),
                },
                [train_data],
            ),
            {
                "Name": "Register",
                "Type": "RegisterModel",
                "Arguments": {
                    "ModelPackageGroupName": group,
                    "InferenceSpecification": {
                        "Containers": [
                            {
                                "Image": "xgboost:latest",
                                "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"},
                            }
                        ],
                        "SupportedContentTypes": ["text/csv"],
                        "SupportedResponseMIMETypes": ["text/csv"],
                    },
                    "ModelApprovalStatus": "PendingManualApproval",
                    "CustomerMetadataProperties": {
                        "auc": {
                            "Std:Join": {
                                "On": "",
                                "Values": [
                                    {"Get": "Steps.Train.FinalMetricDataList['validation:auc'].Value"}
                                ],
                            }
                        }
                    },
                },
            },
            {
                "Name": "CreateModel",
                "Type": "Model",
                "Arguments": {
                    "ExecutionRoleArn": ROLE,
                    "PrimaryContainer": {
                        "Image": "xgboost:latest",
                        "ModelDataUrl": {"Get": "Steps.TrainV2.ModelArtifacts.S3ModelArtifacts"},
                    },
                },
            },
        ],
    }

    arn = _start(_pipeline(definition))

    described = pipeline_ended(arn)
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    steps = _by_name(arn)
    job = sm.describe_training_job(
        TrainingJobName=steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    )
    assert job["TrainingJobStatus"] == "Completed"
    artifacts = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifacts == f"s3://{bucket}/models/{job['TrainingJobName']}/output/model.tar.gz"
    assert job["FinalMetricDataList"][0]["MetricName"] == "validation:auc"
    assert job["FinalMetricDataList"][0]["Value"] == pytest.approx(0.55)
    model = _model_json(artifacts)
    assert model == {
        "max_depth": 5,
        "eta": 0.2,
        "rows": 12,
        "hps": {"max_depth": "5", "eta": "0.2"},
        "host": "algo-1",
    }
    v2_job = steps["TrainV2"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    v2_model = _model_json(
        sm.describe_training_job(TrainingJobName=v2_job)["ModelArtifacts"]["S3ModelArtifacts"]
    )
    assert (v2_model["max_depth"], v2_model["eta"]) == (3, 0.1)  # sagemaker_* hyperparameters not passed on

    package_arn = steps["Register"]["Metadata"]["RegisterModel"]["Arn"]
    package = sm.describe_model_package(ModelPackageName=package_arn)
    assert package["ModelPackageGroupName"] == group
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == artifacts
    model_arn = steps["CreateModel"]["Metadata"]["Model"]["Arn"]
    assert sm.describe_model(ModelName=model_arn.rsplit("/", 1)[-1])["ModelArn"] == model_arn


def _model_json(uri: str) -> Any:
    bucket, _, key = uri[5:].partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        return json.loads(member.read())


def test_several_instances_shard_the_input_by_key(cloud: LocalCloud, bucket: str) -> None:
    definition = {
        "Version": "2020-12-01",
        "Parameters": _parameters(bucket),
        "Steps": [_processing_step(bucket, instances=2, sharded=True)],
    }

    result = run_definition(
        definition,
        {},
        s3=boto3.client("s3"),
        sagemaker=boto3.client("sagemaker"),
        container_env=cloud.env(),
        cache=InMemoryStepCache(),
    )

    assert result.status == "Succeeded", result.failure_reason
    execution_id = result.execution_arn.rsplit("/", 1)[-1]
    prefix = f"s3://{bucket}/out/{execution_id}/Prep/report"
    first, second = _read_json(f"{prefix}/files-algo-1.json"), _read_json(f"{prefix}/files-algo-2.json")
    assert first == {"files": ["part-0.csv", "part-2.csv"], "hosts": ["algo-1", "algo-2"]}
    assert second == {"files": ["part-1.csv", "part-3.csv"], "hosts": ["algo-1", "algo-2"]}
    assert _read_json(f"{prefix}/report.json")["metrics"]["score"]["value"] == 0.6  # algo-1's shard


def test_run_definition_shares_a_cache_between_direct_runs(cloud: LocalCloud, bucket: str) -> None:
    definition = {
        "Version": "2020-12-01",
        "Parameters": _parameters(bucket),
        "Steps": [_processing_step(bucket)],
    }
    cache = InMemoryStepCache()
    s3, sagemaker = boto3.client("s3"), boto3.client("sagemaker")

    first = run_definition(definition, {}, s3=s3, sagemaker=sagemaker, cache=cache, container_env=cloud.env())
    second = run_definition(
        definition, {}, s3=s3, sagemaker=sagemaker, cache=cache, container_env=cloud.env()
    )

    assert second.step("Prep").cache_source_execution_arn == first.execution_arn
    assert second.properties["Prep"] == first.properties["Prep"]
