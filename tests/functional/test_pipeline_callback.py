"""RunInnerPipeline's token never travels as a pipeline parameter, and the local SageMaker
refuses one that would not fit, as SageMaker does (issue 13, item 5)."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from event_support import pipeline_event
from table_support import create_table
from wait_support import pipeline_ended

from outer_orchestrator.handlers import pipeline_callback, pipeline_relay
from outer_orchestrator.handlers.clients import Clients
from shared.local_cloud import LocalCloud

ROLE = "arn:aws:iam::123456789012:role/local-test"
# A Step Functions task token may be up to 2,048 characters (SendTaskSuccess's taskToken).
TOKEN_2048 = ("AQB8" + "x/+=" * 600)[:2048]


def _pipeline(name: str) -> None:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "InputDataUri", "Type": "String", "DefaultValue": "s3://b/"},
            {"Name": "CallbackToken", "Type": "String", "DefaultValue": ""},
        ],
        "Steps": [],
    }
    boto3.client("sagemaker").create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=ROLE
    )


def test_a_2048_character_parameter_value_is_refused_as_sagemaker_does(local_cloud: LocalCloud) -> None:
    # GIVEN a pipeline WHEN started with a task token as a parameter value
    name = f"limits-{uuid.uuid4().hex[:6]}"
    _pipeline(name)
    sm = boto3.client("sagemaker")
    with pytest.raises(ClientError) as refused:
        sm.start_pipeline_execution(
            PipelineName=name, PipelineParameters=[{"Name": "CallbackToken", "Value": TOKEN_2048}]
        )
    # THEN SageMaker's ValidationException for PipelineParameter.Value (max 1024), token not echoed
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "'pipelineParameters.1.member.value' failed to satisfy constraint" in error["Message"]
    assert "less than or equal to 1024" in error["Message"]
    assert TOKEN_2048 not in error["Message"]
    assert sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"] == []
    # A value of exactly 1,024 characters is fine.
    sm.start_pipeline_execution(
        PipelineName=name, PipelineParameters=[{"Name": "CallbackToken", "Value": "k" * 1024}]
    )


@pytest.fixture
def env(local_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    table = create_table(f"pipeline-tokens-{suffix}", "callback_key")
    values = {"DUALLOOP_PIPELINE_TOKEN_TABLE": table, "DUALLOOP_PIPELINE_NAME": f"cb-{suffix}"}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    _pipeline(values["DUALLOOP_PIPELINE_NAME"])
    return values


class FakeSfn:
    """Records the answers; the real Step Functions is proved end to end (tests/e2e)."""

    def __init__(self) -> None:
        self.answers: list[tuple[str, str, Any]] = []

    def send_task_success(self, taskToken: str, output: str) -> None:  # noqa: N803
        self.answers.append(("success", taskToken, json.loads(output)))

    def send_task_failure(self, taskToken: str, error: str, cause: str) -> None:  # noqa: N803
        self.answers.append(("failure", taskToken, error))


def _ended(execution_arn: str) -> str:
    """The terminal status of a pipeline execution (this pipeline has no steps: it ends at once)."""
    return str(pipeline_ended(execution_arn, timeout=30)["PipelineExecutionStatus"])


def _request(key: str) -> dict[str, Any]:
    return {
        "task_token": TOKEN_2048,
        "pipeline_name": os.environ["DUALLOOP_PIPELINE_NAME"],
        "callback_key": key,
        "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:sm:{key}",
        "input_data_uri": "s3://b/curated/",
        "client_request_token": uuid.uuid4().hex,
        "timeout_seconds": 600,
    }


def test_the_token_is_stored_and_the_pipeline_gets_only_the_key(env: dict[str, str]) -> None:
    # GIVEN RunInnerPipeline's request with a 2,048-character token
    key = f"run-{uuid.uuid4().hex[:8]}"
    # WHEN the callback function starts the pipeline
    started = pipeline_callback.handler(_request(key), None)
    # THEN the pipeline ran with the key as CallbackToken, and the token is in DynamoDB by that key
    assert started["started"] is True
    sm = boto3.client("sagemaker")
    params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=started["pipeline_execution_arn"])
    assert {p["Name"]: p["Value"] for p in params["PipelineParameters"]}["CallbackToken"] == key
    item = boto3.client("dynamodb").get_item(
        TableName=env["DUALLOOP_PIPELINE_TOKEN_TABLE"], Key={"callback_key": {"S": key}}
    )["Item"]
    assert item["task_token"]["S"] == TOKEN_2048
    assert item["pipeline_execution_arn"]["S"] == started["pipeline_execution_arn"]
    assert int(item["expires_at"]["N"]) > 0


def test_a_second_attempt_starts_nothing_and_answers_an_ended_pipeline_at_once(env: dict[str, str]) -> None:
    # GIVEN a pipeline started by a first attempt, which has ended (its relay event lost)
    key = f"run-{uuid.uuid4().hex[:8]}"
    first = pipeline_callback.handler(_request(key), None)
    arn = first["pipeline_execution_arn"]
    sm = boto3.client("sagemaker")
    status = sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
    # WHEN the state machine enters RunInnerPipeline again with a new token
    sfn = FakeSfn()
    again = {**_request(key), "task_token": "second-token"}
    second = pipeline_callback.handler(again, None, clients=Clients(sfn=sfn))
    # THEN no second pipeline execution; if it has ended, the new token was answered now
    executions = sm.list_pipeline_executions(PipelineName=env["DUALLOOP_PIPELINE_NAME"])
    assert [e["PipelineExecutionArn"] for e in executions["PipelineExecutionSummaries"]] == [arn]
    assert second["started"] is False
    if status in ("Succeeded", "Failed", "Stopped"):
        assert [a[1] for a in sfn.answers] == ["second-token"]
    else:
        assert sfn.answers == [] and second["waiting"] == arn


def test_the_relay_answers_the_token_stored_under_the_key(env: dict[str, str]) -> None:
    # GIVEN a stored token for a started pipeline
    key = f"run-{uuid.uuid4().hex[:8]}"
    arn = pipeline_callback.handler(_request(key), None)["pipeline_execution_arn"]
    pipeline = env["DUALLOOP_PIPELINE_NAME"]
    status = _ended(arn)  # the relay believes only the status SageMaker confirms
    event = pipeline_event(arn, status)
    # WHEN the relay hears the pipeline ended (twice: AWS may deliver an event more than once)
    sfn = FakeSfn()
    first = pipeline_relay.handler(event, None, clients=Clients(sfn=sfn))
    second = pipeline_relay.handler(event, None, clients=Clients(sfn=sfn))
    # THEN it answered the stored token once, and the item is gone
    assert first["relayed"] is True and second["relayed"] is False
    assert [(kind, token) for kind, token, _ in sfn.answers] == [("failure", TOKEN_2048)]
    assert pipeline in arn
    item = boto3.client("dynamodb").get_item(
        TableName=env["DUALLOOP_PIPELINE_TOKEN_TABLE"], Key={"callback_key": {"S": key}}
    )
    assert "Item" not in item


@pytest.mark.parametrize(("code", "retried"), [("ThrottlingException", True), ("ValidationException", False)])
def test_throttling_is_retried_and_a_refusal_fails_the_task_at_once(
    env: dict[str, str], code: str, retried: bool
) -> None:
    # GIVEN SageMaker answering StartPipelineExecution with an unmodeled error
    from botocore.stub import Stubber

    sm = boto3.client("sagemaker")
    stub = Stubber(sm)
    stub.add_client_error("start_pipeline_execution", service_error_code=code, service_message="no")
    sfn = FakeSfn()
    key = f"run-{uuid.uuid4().hex[:8]}"
    with stub:
        if retried:
            # WHEN it throttles THEN the Lambda raises the error the ASL retries
            with pytest.raises(pipeline_callback.PipelineStartThrottled):
                pipeline_callback.handler(_request(key), None, clients=Clients(sagemaker=sm, sfn=sfn))
            assert sfn.answers == []
        else:
            # WHEN it refuses the request THEN the task fails now, with SageMaker's reason, no retry
            out = pipeline_callback.handler(_request(key), None, clients=Clients(sagemaker=sm, sfn=sfn))
            assert out == {"started": False, "error": code}
            assert sfn.answers == [("failure", TOKEN_2048, "InnerPipelineNotStarted")]
