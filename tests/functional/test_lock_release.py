"""A retrain that ends without its own clean-up gives its lock back, and only its own.

What this proves, on the local cloud with the project's real state machine, rule and
handler: an execution stopped by hand while it holds the lock (parked in Ingest) emits
``Step Functions Execution Status Change`` ABORTED, the rule hands it to the release-lock
function, the lock is gone within moments and the next retrain takes it (it does not end
``AlreadyRunning``); a failed execution that never held the lock, a repeated delivery of
the stopped execution's event and a late one after a newer retrain took the lock all leave
the lock where it is. Also that the local cloud ends a stopped ``.waitForTaskToken`` task at
once (moto kept waiting for the task's timeout) and emits the event in AWS's shape.

What it does not: a state-machine-level timeout or a service error of the real state
machine (the ASL has no TimeoutSeconds; the handler's decision for every status is in
``tests/unit/test_release_lock.py``), nor AWS's own event delivery.

No Spark: the project's Ingest job runs a small script that waits until its execution
stops (as AWS stops the Glue run of an aborted ``.sync`` task), so the retrain holds the lock
for as long as the test needs.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from event_support import execution_status_event
from wait_support import execution_ended, wait_until

from outer_orchestrator.local_stack import LocalStack
from shared.config import DualloopConfig, load_config
from shared.contracts import RetrainInput
from shared.local_cloud import LocalCloud
from shared.naming import Names

ROLE = "arn:aws:iam::123456789012:role/local-test"
STATUS_CHANGE = "Step Functions Execution Status Change"

# Ingest for these tests: runs until its execution is no longer RUNNING (at most 30 s).
HOLD_SCRIPT = """
import time

import boto3

STATE_MACHINE_ARN = "{state_machine_arn}"


def main(argv):
    curated = argv[argv.index("--curated_uri") + 1]  # s3://<bucket>/curated/<execution name>/data/
    execution = STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:") + ":" + curated.split("/")[-3]
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            return
        time.sleep(0.05)
"""


@dataclass
class Project:
    cfg: DualloopConfig
    names: Names
    events_queue: str  # a second target of the release rule: the events it matched

    def start(self, payload: dict[str, Any] | None = None) -> str:
        body = payload if payload is not None else RetrainInput.for_config(self.cfg).model_dump(mode="json")
        return boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.names.state_machine_arn, input=json.dumps(body)
        )["executionArn"]

    def holder(self) -> str | None:
        item = (
            boto3.client("dynamodb")
            .get_item(TableName=self.names.lock_table, Key={"lock_id": {"S": "retrain"}}, ConsistentRead=True)
            .get("Item")
        )
        return item["execution_arn"]["S"] if item else None

    def matched_events(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """The next ``count`` events the release rule matched (waits for them)."""
        sqs, found = boto3.client("sqs"), []

        def all_found() -> bool:
            for message in sqs.receive_message(QueueUrl=self.events_queue, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.events_queue, ReceiptHandle=message["ReceiptHandle"])
            return len(found) >= count

        wait_until(all_found, what=f"the rule matching {count} events", timeout=timeout, interval=0)
        return found

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        """Hand ``event`` to the deployed release-lock function once more, synchronously."""
        response = boto3.client("lambda").invoke(
            FunctionName=self.names.lock_release_function, Payload=json.dumps(event).encode()
        )
        assert "FunctionError" not in response, response["Payload"].read()
        answer: dict[str, Any] = json.loads(response["Payload"].read())
        return answer


@pytest.fixture
def project(local_cloud: LocalCloud) -> Iterator[Project]:
    cfg = load_config(project=f"lock-{uuid.uuid4().hex[:6]}")
    LocalStack(cfg).provision()
    names = Names(cfg)
    key = f"{cfg.artifact_prefix}test/hold_ingest.py"
    boto3.client("s3").put_object(
        Bucket=names.artifact_bucket,
        Key=key,
        Body=HOLD_SCRIPT.format(state_machine_arn=names.state_machine_arn).encode(),
    )
    # The same job with another script (moto 5.2.5 has no UpdateJob: delete, create again).
    glue = boto3.client("glue")
    job = glue.get_job(JobName=names.ingest_job)["Job"]
    glue.delete_job(JobName=names.ingest_job)
    # As on AWS, the job runs as its role: grant what the test's script does (read itself,
    # watch its execution); the stack's role may read exactly the stack's own assets.
    boto3.client("iam").put_role_policy(
        RoleName=job["Role"].rsplit("/", 1)[-1],
        PolicyName="test-hold-script",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{names.artifact_bucket}/{key}",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "states:DescribeExecution",
                        "Resource": names.state_machine_arn.replace(":stateMachine:", ":execution:") + ":*",
                    },
                ],
            }
        ),
    )
    glue.create_job(
        Name=names.ingest_job,
        Role=job["Role"],
        Command={**job["Command"], "ScriptLocation": f"s3://{names.artifact_bucket}/{key}"},
        DefaultArguments=job.get("DefaultArguments", {}),
        GlueVersion=job["GlueVersion"],
        ExecutionProperty=job["ExecutionProperty"],
    )
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName=f"{names.base}-release-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_targets(Rule=names.lock_release_rule, Targets=[{"Id": "capture", "Arn": arn}])
    yield Project(cfg, names, url)
    sfn = boto3.client("stepfunctions")
    for execution in sfn.list_executions(stateMachineArn=names.state_machine_arn)["executions"]:
        if execution["status"] == "RUNNING":
            sfn.stop_execution(executionArn=execution["executionArn"])


def _status(execution_arn: str) -> str:
    return str(boto3.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"])


def _ended(execution_arn: str, timeout: float = 10) -> str:
    return str(execution_ended(execution_arn, timeout)["status"])


def test_a_stopped_retrain_gives_its_lock_back_and_the_next_one_runs(project: Project) -> None:
    first = project.start()
    wait_until(lambda: project.holder() == first, what="the first retrain taking the lock", timeout=10)

    boto3.client("stepfunctions").stop_execution(executionArn=first, cause="operator")

    # Within moments (well under a second here; 5 s allows for a loaded machine).
    wait_until(lambda: project.holder() is None, timeout=5, what="the lock release")
    assert _ended(first) == "ABORTED"
    (event,) = project.matched_events(1)
    assert event["detail"]["executionArn"] == first and event["detail"]["status"] == "ABORTED"

    second = project.start()
    wait_until(lambda: project.holder() == second, what="the next retrain taking the lock", timeout=10)
    assert _status(second) == "RUNNING"  # past AcquireLock, not AlreadyRunning


def test_only_the_holders_end_releases_the_lock_and_redeliveries_change_nothing(project: Project) -> None:
    holder = project.start()
    wait_until(lambda: project.holder() == holder, what="the retrain taking the lock", timeout=10)

    # A retrain that fails without ever holding the lock: its FAILED event reaches the function.
    invalid = project.start({"trigger": "manual"})
    assert _ended(invalid) == "FAILED"
    (failed,) = project.matched_events(1)
    assert failed["detail"]["executionArn"] == invalid
    assert project.deliver(failed) == {"released": False, "status": "FAILED"}
    # A second start while the lock is held ends AlreadyRunning (SUCCEEDED: not matched).
    assert _ended(project.start()) == "SUCCEEDED"
    assert project.holder() == holder

    boto3.client("stepfunctions").stop_execution(executionArn=holder)
    wait_until(lambda: project.holder() is None, timeout=5, what="the lock release")
    (aborted,) = project.matched_events(1)
    assert project.deliver(aborted) == {"released": False, "status": "ABORTED"}  # a duplicate

    newer = project.start()
    wait_until(lambda: project.holder() == newer, what="the newer retrain taking the lock", timeout=10)
    # A late delivery of the old execution's end, twice: the newer retrain keeps its lock.
    assert project.deliver(aborted) == {"released": False, "status": "ABORTED"}
    assert project.deliver(aborted) == {"released": False, "status": "ABORTED"}
    assert project.holder() == newer
    assert _status(newer) == "RUNNING"


def test_a_stopped_task_token_wait_ends_aborted_at_once_with_the_aws_event(local_cloud: LocalCloud) -> None:
    suffix = uuid.uuid4().hex[:6]
    sqs, sfn, events = boto3.client("sqs"), boto3.client("stepfunctions"), boto3.client("events")
    tokens = sqs.create_queue(QueueName=f"tokens-{suffix}")["QueueUrl"]
    captured = sqs.create_queue(QueueName=f"sfn-events-{suffix}")["QueueUrl"]
    captured_arn = sqs.get_queue_attributes(QueueUrl=captured, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": tokens, "MessageBody": {"t.$": "$$.Task.Token"}},
                "TimeoutSeconds": 3600,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    machine = sfn.create_state_machine(
        name=f"token-{suffix}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    events.put_rule(
        Name=f"sfn-events-{suffix}",
        EventPattern=json.dumps(
            {
                "source": ["aws.states"],
                "detail-type": [STATUS_CHANGE],
                "detail": {"stateMachineArn": [machine]},
            }
        ),
    )
    events.put_targets(Rule=f"sfn-events-{suffix}", Targets=[{"Id": "capture", "Arn": captured_arn}])
    execution = sfn.start_execution(stateMachineArn=machine, input='{"x": 1}')["executionArn"]
    wait_until(
        lambda: sqs.receive_message(QueueUrl=tokens).get("Messages"), what="the task waiting", timeout=10
    )

    sfn.stop_execution(executionArn=execution)

    assert _ended(execution, timeout=2) == "ABORTED"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert "Caught" not in {e.get("stateEnteredEventDetails", {}).get("name") for e in history}
    message = wait_until(
        lambda: sqs.receive_message(QueueUrl=captured).get("Messages"), what="the event", timeout=10
    )
    event = json.loads(message[0]["Body"])
    assert event["source"] == "aws.states" and event["detail-type"] == STATUS_CHANGE
    assert event["resources"] == [execution]
    detail = event["detail"]
    assert {k: detail[k] for k in ("executionArn", "stateMachineArn", "status", "input", "output")} == {
        "executionArn": execution,
        "stateMachineArn": machine,
        "status": "ABORTED",
        "input": '{"x":1}',
        "output": None,
    }
    assert detail["name"] == execution.rsplit(":", 1)[-1]
    assert isinstance(detail["startDate"], int) and detail["stopDate"] >= detail["startDate"]
    time.sleep(0.1)
    assert len(sqs.receive_message(QueueUrl=captured, MaxNumberOfMessages=10).get("Messages", [])) == 0


@pytest.mark.bad_input("events")
def test_a_forged_failure_of_the_holder_keeps_its_lock(project: Project) -> None:
    # GIVEN a running retrain holding the lock
    holder = project.start()
    wait_until(lambda: project.holder() == holder, what="the retrain taking the lock", timeout=10)
    forged = execution_status_event(holder, project.names.state_machine_arn, "FAILED")
    # WHEN an event claims it failed (forged, or a stale copy), twice
    for _ in range(2):
        assert project.deliver(forged) == {"released": False, "ignored": "not confirmed by Step Functions"}
    # THEN it keeps the lock, so a second retrain ends AlreadyRunning instead of running beside it
    assert project.holder() == holder and _status(holder) == "RUNNING"
    assert _ended(project.start()) == "SUCCEEDED"
    assert project.holder() == holder
