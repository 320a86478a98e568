"""DynamoDB tables as the stack declares them: one string hash key, billed per request."""

from __future__ import annotations

import boto3


def create_table(name: str, key: str, *, exist_ok: bool = False) -> str:
    """Create table ``name`` keyed by the string attribute ``key``; its name."""
    dynamodb = boto3.client("dynamodb")
    try:
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except dynamodb.exceptions.ResourceInUseException:
        if not exist_ok:
            raise
    return name
