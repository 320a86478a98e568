"""The release-lock handler's decision, and its agreement with the ASL's lock.

What this proves: only ABORTED, TIMED_OUT and FAILED ends of this project's state machine
lead to a delete; the delete is conditional on the item naming the execution (the ASL's own
``ReleaseLock`` condition, on ``AcquireLock``'s key and holder attribute, read from the ASL
file); a lock held by someone else, or none at all, ends quietly as ``released: False``;
other DynamoDB errors surface (so EventBridge retries the delivery). What it does not:
DynamoDB's evaluation of the condition (``tests/functional/test_lock_release.py``).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from event_support import execution_status_event

from outer_orchestrator.handlers import release_lock
from outer_orchestrator.handlers.clients import Clients
from outer_orchestrator.handlers.events import MalformedEvent
from outer_orchestrator.statemachine.definition import outer_loop_document

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:dualloop-dev-retrain"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:dualloop-dev-retrain:run-1"
TABLE = "dualloop-dev-retrain-lock"


def _event(status: str, machine: str = MACHINE, execution: str = EXECUTION) -> dict[str, Any]:
    return execution_status_event(execution, machine, status)


class _DynamoDB:
    """Records delete_item calls; answers with ``error`` (a DynamoDB error code) if given."""

    def __init__(self, error: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self._error = error

    def delete_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self._error:
            raise ClientError({"Error": {"Code": self._error, "Message": "no"}}, "DeleteItem")
        return {}


class _StepFunctions:
    """DescribeExecution as Step Functions answers it: the execution's real state machine and status."""

    def __init__(self, status: str, machine: str = MACHINE) -> None:
        self.status, self.machine = status, machine
        self.calls: list[str] = []

    def describe_execution(self, *, executionArn: str) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls.append(executionArn)
        return {"executionArn": executionArn, "stateMachineArn": self.machine, "status": self.status}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUALLOOP_STATE_MACHINE_ARN", MACHINE)
    monkeypatch.setenv("DUALLOOP_LOCK_TABLE", TABLE)


def test_the_lock_item_is_the_asls() -> None:
    states = outer_loop_document()["States"]
    acquire = states["AcquireLock"]["Parameters"]
    assert acquire["ConditionExpression"] == "attribute_not_exists(lock_id)"
    ((key, value),) = release_lock.LOCK_KEY.items()
    assert acquire["Item"][key] == value
    assert acquire["Item"][release_lock.HOLDER_ATTRIBUTE] == {"S.$": "$$.Execution.Id"}
    release = states["ReleaseLock"]["Parameters"]
    assert release["Key"] == release_lock.LOCK_KEY
    assert release["ConditionExpression"] == f"{release_lock.HOLDER_ATTRIBUTE} = :me"


@pytest.mark.parametrize("status", ["ABORTED", "TIMED_OUT", "FAILED"])
def test_an_abnormal_end_deletes_the_lock_only_if_the_execution_holds_it(status: str) -> None:
    dynamodb = _DynamoDB()

    answer = release_lock.handler(
        _event(status), None, clients=Clients(dynamodb=dynamodb, sfn=_StepFunctions(status))
    )

    assert answer == {"released": True, "status": status}
    assert dynamodb.calls == [
        {
            "TableName": TABLE,
            "Key": {"lock_id": {"S": "retrain"}},
            "ConditionExpression": "execution_arn = :me",
            "ExpressionAttributeValues": {":me": {"S": EXECUTION}},
        }
    ]


@pytest.mark.bad_input("events")
@pytest.mark.parametrize("status", ["RUNNING", "SUCCEEDED", "PENDING_REDRIVE"])
def test_other_statuses_touch_nothing(status: str) -> None:
    dynamodb = _DynamoDB()

    answer = release_lock.handler(_event(status), None, clients=Clients(dynamodb=dynamodb))

    assert answer == {"released": False, "ignored": f"the execution is {status}"}
    assert dynamodb.calls == []


@pytest.mark.bad_input("events")
def test_another_state_machine_touches_nothing() -> None:
    dynamodb = _DynamoDB()
    other = MACHINE.replace("dualloop-dev", "other-dev")

    answer = release_lock.handler(_event("ABORTED", machine=other), None, clients=Clients(dynamodb=dynamodb))

    assert answer == {"released": False, "ignored": "another state machine"}
    assert dynamodb.calls == []


@pytest.mark.bad_input("events")
def test_a_lock_held_by_another_execution_or_none_is_left_alone() -> None:
    dynamodb = _DynamoDB(error="ConditionalCheckFailedException")

    answer = release_lock.handler(
        _event("ABORTED"), None, clients=Clients(dynamodb=dynamodb, sfn=_StepFunctions("ABORTED"))
    )

    assert answer == {"released": False, "status": "ABORTED"}
    assert len(dynamodb.calls) == 1


def test_other_dynamodb_errors_surface_for_a_retried_delivery() -> None:
    dynamodb = _DynamoDB(error="ProvisionedThroughputExceededException")

    with pytest.raises(ClientError):
        release_lock.handler(
            _event("FAILED"), None, clients=Clients(dynamodb=dynamodb, sfn=_StepFunctions("FAILED"))
        )


def test_a_malformed_event_is_an_error() -> None:
    event = _event("ABORTED")
    del event["detail"]["executionArn"]

    with pytest.raises(MalformedEvent, match=r"detail\.executionArn \(field required\)\.$"):
        release_lock.handler(event, None, clients=Clients(dynamodb=_DynamoDB()))


@pytest.mark.bad_input("events")
@pytest.mark.parametrize(
    ("claimed", "actual", "machine"),
    [
        ("FAILED", "RUNNING", MACHINE),  # forged: the holder is alive, and keeps its lock
        ("ABORTED", "SUCCEEDED", MACHINE),  # a stale claim about an execution that ended otherwise
        ("FAILED", "FAILED", MACHINE.replace("dualloop-dev", "other-dev")),  # someone else's execution
    ],
)
def test_an_end_step_functions_does_not_confirm_touches_nothing(
    claimed: str, actual: str, machine: str
) -> None:
    # GIVEN an event claiming the holder ended, WHEN DescribeExecution says otherwise
    dynamodb, sfn = _DynamoDB(), _StepFunctions(actual, machine)

    answer = release_lock.handler(_event(claimed), None, clients=Clients(dynamodb=dynamodb, sfn=sfn))

    # THEN the lock is not touched
    assert answer == {"released": False, "ignored": "not confirmed by Step Functions"}
    assert sfn.calls == [EXECUTION] and dynamodb.calls == []


@pytest.mark.bad_input("events")
def test_an_execution_step_functions_does_not_know_touches_nothing() -> None:
    class _Unknown(_StepFunctions):
        def describe_execution(self, *, executionArn: str) -> dict[str, Any]:  # noqa: N803
            raise ClientError(
                {"Error": {"Code": "ExecutionDoesNotExist", "Message": "no"}}, "DescribeExecution"
            )

    dynamodb = _DynamoDB()
    answer = release_lock.handler(
        _event("FAILED"), None, clients=Clients(dynamodb=dynamodb, sfn=_Unknown("FAILED"))
    )
    assert answer["ignored"] == "not confirmed by Step Functions" and dynamodb.calls == []
