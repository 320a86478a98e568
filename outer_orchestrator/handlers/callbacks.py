"""Answering a waiting Step Functions task, once, without ever logging its token, and what a
relay returns about it.

AWS may deliver an event more than once, and a task may already have been answered or
have timed out: those are expected here and end quietly as ``False``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from mypy_boto3_stepfunctions import SFNClient

_ALREADY_DONE = {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"}
_MAX_CAUSE = 32768  # SendTaskFailure's limit


def succeed(sfn: SFNClient, token: str, output: dict[str, Any]) -> bool:
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps(output))
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _ALREADY_DONE:
            return False
        raise
    return True


def fail(sfn: SFNClient, token: str, error: str, cause: str) -> bool:
    try:
        sfn.send_task_failure(taskToken=token, error=error[:256], cause=cause[:_MAX_CAUSE])
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _ALREADY_DONE:
            return False
        raise
    return True


def relayed(
    logger: Logger, what: str, resource: dict[str, str], status: str, answered: bool
) -> dict[str, Any]:
    """A relay's answer once it answered (``answered``) or found answered the task of ``resource``."""
    logger.info(f"relayed {what}", extra={**resource, "status": status, "answered": answered})
    return {"relayed": answered, "status": status}


def ignored(logger: Logger, why: str, what: str) -> dict[str, Any]:
    """A relay's answer to an event it leaves alone, and why."""
    logger.info("ignored event", extra={"why": why, "what": what})
    return {"relayed": False, "ignored": why}
