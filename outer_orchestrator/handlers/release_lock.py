"""Relay: a retrain ended without its own clean-up → release the lock it still holds.

Triggered by ``Step Functions Execution Status Change`` for the outer loop's state machine
with status ABORTED, TIMED_OUT or FAILED. The state machine releases its lock itself
(``ReleaseLock*``) on every path it controls; an execution stopped by hand (StopExecution),
timed out at the state-machine level or killed by a service error never reaches those
states, and without this relay every later retrain would end ``AlreadyRunning``.

The lock is ``AcquireLock``'s item (key ``lock_id = "retrain"``, holder ``execution_arn``)
and it is deleted only if it names the execution the event is about: a retrain that has
since taken the lock keeps it, and a duplicate or late delivery (EventBridge delivers at
least once, and this event is best effort) finds nothing of its own and does nothing. A
FAILED execution that did release its lock, or never took it, is the same no-op.

The event is only a claim: the execution's state machine and status are read with
DescribeExecution (``facts``), and an event Step Functions does not confirm (forged: a
FAILED for a retrain still RUNNING would free its lock and let a second retrain deploy over
it) is logged and ignored.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from outer_orchestrator.handlers import facts
from outer_orchestrator.handlers.clients import Clients
from outer_orchestrator.handlers.events import ExecutionStatusChange, parse

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = Logger(service="dualloop-release-lock")

# AcquireLock's item in outer_orchestrator/statemachine/outer_loop.asl.json (a unit test
# reads the ASL and keeps these equal).
LOCK_KEY: dict[str, Any] = {"lock_id": {"S": "retrain"}}
HOLDER_ATTRIBUTE = "execution_arn"
# The ends that may leave the lock behind. SUCCEEDED never does: every succeeding path
# released it (ReleaseLock) or never held it (AlreadyRunning).
RELEASE_ON = frozenset({"ABORTED", "TIMED_OUT", "FAILED"})


def skip_reason(detail: ExecutionStatusChange, state_machine_arn: str) -> str | None:
    """Why this event releases nothing, or None when the execution's lock must go."""
    if detail.state_machine_arn != state_machine_arn:
        return "another state machine"
    if detail.status not in RELEASE_ON:
        return f"the execution is {detail.status}"
    return None


def release(dynamodb: DynamoDBClient, table: str, execution_arn: str) -> bool:
    """Delete the lock if ``execution_arn`` holds it; False when it holds nothing (no lock, or
    another execution's). The condition is the ASL's own ``ReleaseLock`` condition."""
    try:
        dynamodb.delete_item(
            TableName=table,
            Key=LOCK_KEY,
            ConditionExpression=f"{HOLDER_ATTRIBUTE} = :me",
            ExpressionAttributeValues={":me": {"S": execution_arn}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise  # throttling and the like: the event's retry policy delivers it again
    return True


def handler(event: dict[str, Any], context: Any, *, clients: Clients | None = None) -> dict[str, Any]:
    detail = parse(ExecutionStatusChange, event).detail
    why = skip_reason(detail, os.environ["DUALLOOP_STATE_MACHINE_ARN"])
    if why is not None:
        logger.info("ignored event", extra={"why": why, "execution_arn": detail.execution_arn})
        return {"released": False, "ignored": why}
    claim = facts.Claim("execution", detail.execution_arn, detail.state_machine_arn, detail.status)
    clients = clients or Clients()
    reader = clients.sfn
    if facts.establish(claim, lambda arn: facts.read_execution(reader, arn), logger) is None:
        return {"released": False, "ignored": "not confirmed by Step Functions"}
    table = os.environ["DUALLOOP_LOCK_TABLE"]
    released = release(clients.dynamodb, table, detail.execution_arn)
    logger.info(
        "released the retrain lock" if released else "the execution held no lock",
        extra={"execution_arn": detail.execution_arn, "status": detail.status, "released": released},
    )
    return {"released": released, "status": detail.status}
