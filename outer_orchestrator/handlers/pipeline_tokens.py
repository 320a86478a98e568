"""The ``RunInnerPipeline`` task tokens, kept in DynamoDB by a short key.

A Step Functions task token may be up to 2,048 characters, a pipeline parameter's value at
most 1,024 (botocore's ``sagemaker`` model: ``PipelineParameter.Value`` max 1024). So the
token never travels as a parameter: it is stored here under the retrain's execution name
(its *callback key*, at most 80 characters), and the pipeline gets the key as its
``CallbackToken`` parameter. Nothing here logs a token.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

TABLE_ENV = "DUALLOOP_PIPELINE_TOKEN_TABLE"
EXPIRY_SLACK_SECONDS = 86400  # the item outlives the pipeline timeout by a day, then TTL drops it


@dataclass(frozen=True)
class Waiting:
    token: str
    pipeline_execution_arn: str | None


def _table() -> str:
    return os.environ[TABLE_ENV]


def store(dynamodb: Any, key: str, token: str, *, execution_arn: str, timeout_seconds: int) -> Waiting | None:
    """Keep ``token`` under ``key``; returns what was stored before (its pipeline, if started)."""
    response = dynamodb.put_item(
        TableName=_table(),
        Item={
            "callback_key": {"S": key},
            "task_token": {"S": token},
            "execution_arn": {"S": execution_arn},
            "expires_at": {"N": str(int(time.time()) + timeout_seconds + EXPIRY_SLACK_SECONDS)},
        },
        ReturnValues="ALL_OLD",
    )
    old = response.get("Attributes")
    if not old:
        return None
    arn = old.get("pipeline_execution_arn", {}).get("S")
    if arn:  # keep the pipeline started earlier
        remember_pipeline(dynamodb, key, arn)
    return Waiting(old["task_token"]["S"], arn)


def remember_pipeline(dynamodb: Any, key: str, pipeline_execution_arn: str) -> None:
    dynamodb.update_item(
        TableName=_table(),
        Key={"callback_key": {"S": key}},
        UpdateExpression="SET pipeline_execution_arn = :arn",
        ExpressionAttributeValues={":arn": {"S": pipeline_execution_arn}},
    )


def waiting(dynamodb: Any, key: str) -> Waiting | None:
    item = dynamodb.get_item(TableName=_table(), Key={"callback_key": {"S": key}}, ConsistentRead=True).get(
        "Item"
    )
    if not item:
        return None
    return Waiting(item["task_token"]["S"], item.get("pipeline_execution_arn", {}).get("S"))


def forget(dynamodb: Any, key: str, token: str) -> None:
    """Delete the item once ``token`` was answered (not a newer token stored meanwhile)."""
    try:
        dynamodb.delete_item(
            TableName=_table(),
            Key={"callback_key": {"S": key}},
            ConditionExpression="task_token = :token",
            ExpressionAttributeValues={":token": {"S": token}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
