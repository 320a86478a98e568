"""The local stack's notification inbox: the SQS queue the project's topic delivers to."""

from __future__ import annotations

from typing import Any

import boto3

from outer_orchestrator.local_stack import LocalStack
from shared.config import DualloopConfig


def drain_inbox(cfg: DualloopConfig, session: Any = boto3) -> list[str]:
    """Every message body waiting in ``cfg``'s inbox (raw delivery: each an SNS message), removed;
    ``session`` is another account's boto3 session where the stage lives there."""
    sqs = session.client("sqs")
    url = sqs.get_queue_url(QueueName=LocalStack(cfg).notifications_queue)["QueueUrl"]
    bodies: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies
