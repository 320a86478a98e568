"""The relay handlers answer a waiting task exactly once, whatever EventBridge delivers:
duplicates, events out of order, other groups and pipelines, malformed payloads, and events
the service does not confirm (forged, or stale): a relay acts on what the model registry and
SageMaker Pipelines say, never on what an event claims."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from event_support import model_package_event, pipeline_event, pipeline_execution_arn
from package_support import package
from pydantic import ValidationError
from table_support import create_table
from wait_support import execution_ended, pipeline_ended, wait_until

from outer_orchestrator.handlers import approval_relay, pipeline_relay, pipeline_tokens, store_token
from outer_orchestrator.handlers.events import MalformedEvent
from shared.local_cloud import LocalCloud

ROLE = "arn:aws:iam::123456789012:role/local-test"
GROUP = "relay-test-models"


@pytest.fixture
def env(local_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    table = create_table(f"tokens-{suffix}", "model_package_arn")
    pipeline_tokens_table = create_table(f"pipeline-tokens-{suffix}", "callback_key")
    topic = boto3.client("sns").create_topic(Name=f"notes-{suffix}")["TopicArn"]
    values = {
        "DUALLOOP_TOKEN_TABLE": table,
        "DUALLOOP_PIPELINE_TOKEN_TABLE": pipeline_tokens_table,
        "DUALLOOP_TOPIC_ARN": topic,
        "DUALLOOP_MODEL_PACKAGE_GROUP": GROUP,
        "DUALLOOP_PIPELINE_NAME": f"pipeline-{suffix}",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


class WaitingTask:
    """A real execution parked on ``.waitForTaskToken``; exposes its token and outcome."""

    def __init__(self) -> None:
        sqs = boto3.client("sqs")
        self.queue = sqs.create_queue(QueueName=f"tok-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        definition = {
            "StartAt": "Wait",
            "States": {
                "Wait": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": self.queue, "MessageBody": {"t.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 3600,
                    "End": True,
                }
            },
        }
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(
            name=f"wait-{uuid.uuid4().hex[:6]}", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        self.execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
        messages = wait_until(
            lambda: sqs.receive_message(QueueUrl=self.queue).get("Messages"),
            what="the task's token",
            timeout=10,
        )
        self.token: str = json.loads(messages[0]["Body"])["t"]

    def outcome(self, timeout: float = 10) -> dict[str, Any]:
        return execution_ended(self.execution, timeout)


def _package_event(
    arn: str, status: str, group: str = GROUP, description: str | None = None
) -> dict[str, Any]:
    return model_package_event(arn, status, group, description)


def _package() -> str:
    """A real model package in the test group, awaiting approval."""
    sm = boto3.client("sagemaker")
    groups = sm.list_model_package_groups(NameContains=GROUP)["ModelPackageGroupSummaryList"]
    if not any(g["ModelPackageGroupName"] == GROUP for g in groups):
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
    return package(GROUP)


def _decide(arn: str, status: str, description: str | None = None) -> dict[str, Any]:
    """Record a decision in the model registry (as `dualloop approve` does) and return its event."""
    extra = {"ApprovalDescription": description} if description else {}
    boto3.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status, **extra)
    return _package_event(arn, status, description=description)


def _waiting_token(env: dict[str, str], arn: str) -> bool:
    item = boto3.client("dynamodb").get_item(
        TableName=env["DUALLOOP_TOKEN_TABLE"], Key={"model_package_arn": {"S": arn}}, ConsistentRead=True
    )
    return "Item" in item


Waiting = tuple[WaitingTask, str]


@pytest.fixture
def waiting(env: dict[str, str]) -> Iterator[Waiting]:
    """A retrain waiting (its token stored) on a new package of the test group, pending approval;
    stopped afterwards if the test left it waiting."""
    task, arn = WaitingTask(), _package()
    _store(task, arn)
    yield task, arn
    sfn = boto3.client("stepfunctions")
    if sfn.describe_execution(executionArn=task.execution)["status"] == "RUNNING":
        sfn.stop_execution(executionArn=task.execution)


def _store(task: WaitingTask, arn: str) -> None:
    store_token.handler(
        {
            "task_token": task.token,
            "execution_arn": task.execution,
            "model_package_arn": arn,
            "metrics": {"auc": 0.93},
            "timeout_seconds": 600,
        },
        None,
    )


@pytest.mark.bad_input("events")
def test_duplicate_approval_events_answer_once(env: dict[str, str], waiting: Waiting) -> None:
    task, arn = waiting
    event = _decide(arn, "Approved", description="ship it")

    first = approval_relay.handler(event, None)
    second = approval_relay.handler(event, None)

    assert first == {"relayed": True, "status": "Approved"}
    assert second["relayed"] is False and "no retrain is waiting" in second["ignored"]
    outcome = task.outcome()
    assert outcome["status"] == "SUCCEEDED"
    assert json.loads(outcome["output"])["approval_status"] == "Approved"


@pytest.mark.bad_input("events")
def test_a_late_rejection_after_approval_changes_nothing(env: dict[str, str], waiting: Waiting) -> None:
    task, arn = waiting
    approval_relay.handler(_decide(arn, "Approved"), None)
    late = approval_relay.handler(_decide(arn, "Rejected", description="oops"), None)
    assert late == {"relayed": False, "ignored": "no retrain is waiting for this package"}
    assert task.outcome()["status"] == "SUCCEEDED"


@pytest.mark.bad_input("events")
def test_rejection_fails_the_task_with_the_reason(env: dict[str, str], waiting: Waiting) -> None:
    task, arn = waiting
    # Pending (the registration event) arrives after the decision: ignored.
    approval_relay.handler(_decide(arn, "Rejected", description="recall too low"), None)
    assert approval_relay.handler(_package_event(arn, "PendingManualApproval"), None)["relayed"] is False
    outcome = task.outcome()
    assert outcome["status"] == "FAILED"
    assert outcome["error"] == "ModelRejected"


@pytest.mark.bad_input("events")
def test_a_decision_made_before_the_token_is_stored_is_not_lost(env: dict[str, str]) -> None:
    task = WaitingTask()
    arn = _package()
    # A quick approver: the package is approved (and its event relayed, finding no token)
    # before AwaitApproval's Lambda has stored the token.
    boto3.client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    assert approval_relay.handler(_package_event(arn, "Approved"), None)["relayed"] is False
    _store(task, arn)
    outcome = task.outcome()
    assert outcome["status"] == "SUCCEEDED"
    assert json.loads(outcome["output"])["approval_status"] == "Approved"


def test_other_groups_are_ignored(env: dict[str, str]) -> None:
    result = approval_relay.handler(_package_event("arn:x", "Approved", group="someone-elses"), None)
    assert result == {"relayed": False, "ignored": "another model package group"}


def test_malformed_events_are_refused_loudly(env: dict[str, str]) -> None:
    # GIVEN an event of the right kind without its status, WHEN relayed, THEN one sentence names it
    event = _package_event("arn:x", "Approved")
    del event["detail"]["ModelApprovalStatus"]
    with pytest.raises(MalformedEvent) as refused:
        approval_relay.handler(event, None)
    assert str(refused.value) == (
        "Not a well-formed 'SageMaker Model Package State Change' EventBridge event: "
        "detail.ModelApprovalStatus (field required)."
    )
    # and a payload that is not an EventBridge event at all names what it lacks
    with pytest.raises(MalformedEvent, match=r"version \(field required\), account .* and \d+ more\.$"):
        approval_relay.handler({"id": "1", "source": "aws.sagemaker", "detail-type": "x", "detail": {}}, None)
    with pytest.raises(ValidationError):
        store_token.handler({"task_token": "t"}, None)


def test_the_token_never_reaches_logs_or_notifications(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    task = WaitingTask()
    arn = _package()
    inbox = boto3.client("sqs").create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    inbox_arn = boto3.client("sqs").get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=env["DUALLOOP_TOPIC_ARN"], Protocol="sqs", Endpoint=inbox_arn)
    _store(task, arn)
    approval_relay.handler(_decide(arn, "Approved"), None)
    note = boto3.client("sqs").receive_message(QueueUrl=inbox)["Messages"][0]["Body"]
    assert f"dualloop approve {arn}" in note
    assert task.token not in note
    assert task.token not in capsys.readouterr().out + capsys.readouterr().err


def _pipeline_event(pipeline: str, status: str, execution: str = "exec-1") -> dict[str, Any]:
    return pipeline_event(pipeline_execution_arn(pipeline, execution), status)


def test_pipeline_relay_ignores_other_pipelines_and_unfinished_runs(env: dict[str, str]) -> None:
    other = pipeline_relay.handler(_pipeline_event("not-ours", "Succeeded"), None)
    assert other["ignored"] == "another pipeline"
    running = pipeline_relay.handler(_pipeline_event(env["DUALLOOP_PIPELINE_NAME"], "Executing"), None)
    assert running["ignored"] == "not finished"


@pytest.mark.bad_input("events")
def test_concurrent_duplicate_deliveries_answer_once(env: dict[str, str], waiting: Waiting) -> None:
    task, arn = waiting
    results: list[dict[str, Any]] = []
    event = _decide(arn, "Approved")
    threads = [
        threading.Thread(target=lambda: results.append(approval_relay.handler(event, None))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(1 for r in results if r["relayed"]) == 1
    assert [r["ignored"] for r in results if not r["relayed"]] == [
        "no retrain is waiting for this package"
    ] * 3
    assert task.outcome()["status"] == "SUCCEEDED"


# ---- events the service does not confirm ---------------------------------------------------------


@pytest.mark.bad_input("events")
def test_a_forged_approval_of_a_pending_package_answers_nothing(
    env: dict[str, str], waiting: Waiting
) -> None:
    # GIVEN a retrain waiting on a package the registry holds PendingManualApproval
    task, arn = waiting
    # WHEN an event claims it was approved (forged: nobody approved it)
    records: list[logging.LogRecord] = []
    log = logging.getLogger("dualloop-approval-relay")
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    log.addHandler(handler)
    try:
        forged = approval_relay.handler(_package_event(arn, "Approved", description="trust me"), None)
    finally:
        log.removeHandler(handler)
    # THEN nothing is relayed, the token still waits, and the retrain still waits
    assert forged == {"relayed": False, "ignored": "not confirmed by the model registry"}
    assert _waiting_token(env, arn)
    assert (
        boto3.client("stepfunctions").describe_execution(executionArn=task.execution)["status"] == "RUNNING"
    )
    # and the mismatch is logged, without the token
    (warning,) = [vars(r) for r in records if r.levelno == logging.WARNING]
    assert warning["claimed_status"] == "Approved" and warning["actual_status"] == "PendingManualApproval"
    assert task.token not in str([vars(r) for r in records])
    # and the real decision, when it comes, is relayed with the registry's own description
    assert approval_relay.handler(_decide(arn, "Approved", description="looked at it"), None)["relayed"]
    outcome = json.loads(task.outcome()["output"])
    assert outcome["approval_status"] == "Approved" and outcome["description"] == "looked at it"


@pytest.mark.bad_input("events")
def test_an_approval_event_for_a_package_of_another_group_answers_nothing(env: dict[str, str]) -> None:
    # GIVEN a token stored under a package ARN of another group, pending there
    arn = package(f"other-{uuid.uuid4().hex[:6]}", create_group=True)
    task = WaitingTask()
    _store(task, arn)
    # WHEN an event claims the package is in this project's group, THEN the registry says otherwise
    result = approval_relay.handler(_package_event(arn, "Approved"), None)
    assert result["ignored"] == "not confirmed by the model registry"
    assert _waiting_token(env, arn)
    boto3.client("stepfunctions").stop_execution(executionArn=task.execution)


@pytest.mark.bad_input("events")
def test_an_approval_overtaken_by_a_rejection_relays_the_rejection(
    env: dict[str, str], waiting: Waiting
) -> None:
    # GIVEN a package approved, then rejected, before the first event is delivered
    task, arn = waiting
    approved = _decide(arn, "Approved")
    rejected = _decide(arn, "Rejected", description="wrong data")
    # WHEN the events arrive in order, the stale approval is ignored and the rejection answers
    assert approval_relay.handler(approved, None)["ignored"] == "not confirmed by the model registry"
    assert approval_relay.handler(rejected, None) == {"relayed": True, "status": "Rejected"}
    outcome = task.outcome()
    assert outcome["status"] == "FAILED" and outcome["error"] == "ModelRejected"


HOLD = "import time\ntime.sleep(60)\n"


def _holding_pipeline(env: dict[str, str], token: str) -> str:
    """A pipeline execution of the relay's pipeline that runs (a 60 s job) until stopped."""
    bucket = f"relay-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="code/hold.py", Body=HOLD.encode())
    code = "/opt/ml/processing/input/code"
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "CallbackToken", "Type": "String", "DefaultValue": ""}],
        "Steps": [
            {
                "Name": "Hold",
                "Type": "Processing",
                "Arguments": {
                    "ProcessingResources": {
                        "ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}
                    },
                    "AppSpecification": {"ImageUri": "python:3.11", "ContainerEntrypoint": ["python3", f"{code}/hold.py"]},
                    "RoleArn": ROLE,
                    "ProcessingInputs": [
                        {
                            "InputName": "code",
                            "S3Input": {
                                "S3Uri": f"s3://{bucket}/code/hold.py", "LocalPath": code, "S3DataType": "S3Prefix",
                                "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
                            },
                        }
                    ],
                },
            }
        ],
    }  # fmt: skip
    sm = boto3.client("sagemaker")
    sm.create_pipeline(
        PipelineName=env["DUALLOOP_PIPELINE_NAME"],
        PipelineDefinition=json.dumps(definition),
        RoleArn=ROLE,
        ClientRequestToken=uuid.uuid4().hex,
    )
    # As RunInnerPipeline does: the token is stored, the pipeline gets only its key.
    key = f"run-{uuid.uuid4().hex[:8]}"
    pipeline_tokens.store(
        boto3.client("dynamodb"),
        key,
        token,
        execution_arn=f"arn:aws:states:::execution:sm:{key}",
        timeout_seconds=600,
    )
    return str(
        sm.start_pipeline_execution(
            PipelineName=env["DUALLOOP_PIPELINE_NAME"],
            PipelineParameters=[{"Name": "CallbackToken", "Value": key}],
            ClientRequestToken=uuid.uuid4().hex,
        )["PipelineExecutionArn"]
    )


@pytest.mark.bad_input("events")
def test_a_forged_pipeline_failure_does_not_fail_a_running_retrain(env: dict[str, str]) -> None:
    # GIVEN a retrain waiting on a pipeline execution that is still Executing
    task = WaitingTask()
    sm = boto3.client("sagemaker")
    execution = _holding_pipeline(env, task.token)
    name = execution.rsplit("/", 1)[-1]
    assert (
        sm.describe_pipeline_execution(PipelineExecutionArn=execution)["PipelineExecutionStatus"]
        == "Executing"
    )
    pipeline = env["DUALLOOP_PIPELINE_NAME"]
    try:
        # WHEN events claim it failed, and succeeded (forged or out of order), THEN the retrain still waits
        for claimed in ("Failed", "Succeeded", "Stopped"):
            result = pipeline_relay.handler(_pipeline_event(pipeline, claimed, execution=name), None)
            assert result == {"relayed": False, "ignored": "not confirmed by SageMaker"}, claimed
        # and an event naming an execution that does not exist is no fact either
        ghost = pipeline_relay.handler(_pipeline_event(pipeline, "Failed", execution="no-such-run"), None)
        assert ghost["ignored"] == "not confirmed by SageMaker"
        assert (
            boto3.client("stepfunctions").describe_execution(executionArn=task.execution)["status"]
            == "RUNNING"
        )
    finally:
        sm.stop_pipeline_execution(PipelineExecutionArn=execution, ClientRequestToken=uuid.uuid4().hex)
    # WHEN it really ends (stopped), THEN the confirmed event answers the task
    assert pipeline_ended(execution, timeout=20)["PipelineExecutionStatus"] == "Stopped"
    assert (
        pipeline_relay.handler(_pipeline_event(pipeline, "Stopped", execution=name), None)["relayed"] is True
    )
    outcome = task.outcome()
    assert outcome["status"] == "FAILED" and outcome["error"] == "InnerPipelineFailed"


# ---- more events to mistrust (issue 17's bad-input suite) ----------------------------------------


def _still_waiting(env: dict[str, str], task: WaitingTask, arn: str) -> None:
    """Nothing lost: the token is still stored under the package, and the retrain still waits."""
    assert _waiting_token(env, arn)
    sfn = boto3.client("stepfunctions")
    assert sfn.describe_execution(executionArn=task.execution)["status"] == "RUNNING"


@pytest.mark.bad_input("events")
@pytest.mark.parametrize("claimed", ["Approved", "Rejected"])
def test_an_event_for_a_package_the_registry_does_not_hold_answers_nothing(
    env: dict[str, str], waiting: Waiting, claimed: str
) -> None:
    # GIVEN a retrain waiting on a package of this group
    task, arn = waiting
    # WHEN an event claims a decision about a package of the group the registry does not hold
    ghost = arn.rsplit("/", 1)[0] + "/9999"
    result = approval_relay.handler(_package_event(ghost, claimed), None)
    # THEN nothing is relayed, and the retrain still waits with its token
    assert result == {"relayed": False, "ignored": "not confirmed by the model registry"}
    _still_waiting(env, task, arn)


@pytest.mark.bad_input("events")
def test_a_forged_rejection_of_a_pending_package_answers_nothing(
    env: dict[str, str], waiting: Waiting
) -> None:
    # GIVEN a retrain waiting on a package still PendingManualApproval
    task, arn = waiting
    # WHEN an event claims it was rejected, THEN the registry does not confirm it: nothing happens
    result = approval_relay.handler(_package_event(arn, "Rejected", description="forged"), None)
    assert result == {"relayed": False, "ignored": "not confirmed by the model registry"}
    _still_waiting(env, task, arn)


@pytest.mark.bad_input("events")
def test_a_pending_event_delivered_late_for_a_waiting_package_changes_nothing(
    env: dict[str, str], waiting: Waiting
) -> None:
    # GIVEN a retrain waiting; WHEN the registration event (PendingManualApproval) arrives, late or twice
    task, arn = waiting
    for _ in range(2):
        assert approval_relay.handler(_package_event(arn, "PendingManualApproval"), None) == {
            "relayed": False,
            "ignored": "no decision yet",
        }
    # THEN the retrain still waits for a real decision
    _still_waiting(env, task, arn)


@pytest.mark.bad_input("events")
def test_duplicate_rejection_events_fail_the_retrain_once(env: dict[str, str], waiting: Waiting) -> None:
    task, arn = waiting
    event = _decide(arn, "Rejected", description="recall too low")
    assert approval_relay.handler(event, None) == {"relayed": True, "status": "Rejected"}
    assert approval_relay.handler(event, None) == {
        "relayed": False,
        "ignored": "no retrain is waiting for this package",
    }
    outcome = task.outcome()
    assert outcome["status"] == "FAILED" and outcome["error"] == "ModelRejected"
    assert "recall too low" in outcome["cause"]


@pytest.mark.bad_input("events")
def test_a_decision_after_the_retrain_stopped_is_answered_nowhere(
    env: dict[str, str], waiting: Waiting
) -> None:
    # GIVEN a retrain that was stopped while it waited (its token is stale, still stored)
    task, arn = waiting
    sfn = boto3.client("stepfunctions")
    sfn.stop_execution(executionArn=task.execution)
    # WHEN the package is approved, THEN the relay answers no one and fails nothing
    result = approval_relay.handler(_decide(arn, "Approved"), None)
    assert result == {"relayed": False, "status": "Approved"}
    assert sfn.describe_execution(executionArn=task.execution)["status"] == "ABORTED"
    # and a duplicate of it finds nothing to answer
    assert approval_relay.handler(_package_event(arn, "Approved"), None)["ignored"] == (
        "no retrain is waiting for this package"
    )


@pytest.mark.bad_input("events")
@pytest.mark.parametrize("claimed", ["Succeeded", "Stopped"])
def test_a_pipeline_event_about_an_execution_sagemaker_does_not_know_answers_nothing(
    env: dict[str, str], claimed: str
) -> None:
    # GIVEN a retrain's token stored for a pipeline callback
    key = f"run-{uuid.uuid4().hex[:8]}"
    dynamodb = boto3.client("dynamodb")
    pipeline_tokens.store(
        dynamodb, key, "token-kept", execution_arn=f"arn:aws:states:::execution:sm:{key}", timeout_seconds=600
    )
    # WHEN an event claims an execution of this pipeline ended, which SageMaker does not know
    result = pipeline_relay.handler(
        _pipeline_event(env["DUALLOOP_PIPELINE_NAME"], claimed, execution=key), None
    )
    # THEN nothing is relayed, and the stored token is kept for the real end
    assert result == {"relayed": False, "ignored": "not confirmed by SageMaker"}
    waiting = pipeline_tokens.waiting(dynamodb, key)
    assert waiting is not None and waiting.token == "token-kept"
