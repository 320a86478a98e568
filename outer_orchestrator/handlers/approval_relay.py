"""Relay: a model package was approved or rejected → answer the outer loop's ``AwaitApproval``.

Triggered by ``SageMaker Model Package State Change`` for the project's group. The event is
only a claim: the package's group and approval status are read from the model registry
(``facts``), and an event the registry does not confirm (forged, or out of order: approved,
then rejected before the event arrived) is logged and ignored; the decision and its
description relayed are the registry's. The token is looked up by package ARN and deleted
with a conditional delete, so a duplicate event (AWS may deliver one) or a late one after a
timeout finds nothing and does nothing.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from outer_orchestrator.handlers import callbacks, facts
from outer_orchestrator.handlers.clients import Clients
from outer_orchestrator.handlers.events import ModelPackageStateChange, parse
from shared.contracts import ApprovalOutcome

logger = Logger(service="dualloop-approval-relay")


def handler(event: dict[str, Any], context: Any, *, clients: Clients | None = None) -> dict[str, Any]:
    detail = parse(ModelPackageStateChange, event).detail
    if detail.group_name != os.environ["DUALLOOP_MODEL_PACKAGE_GROUP"]:
        return callbacks.ignored(logger, "another model package group", detail.group_name)
    if detail.approval_status == "PendingManualApproval":
        return callbacks.ignored(logger, "no decision yet", detail.model_package_arn)
    claim = facts.Claim("model package", detail.model_package_arn, detail.group_name, detail.approval_status)
    clients = clients or Clients()
    registry = clients.sagemaker
    fact = facts.establish(claim, lambda arn: facts.read_model_package(registry, arn), logger)
    if fact is None:
        return callbacks.ignored(logger, "not confirmed by the model registry", detail.model_package_arn)
    answered = answer_decision(
        clients, detail.model_package_arn, str(fact.status), fact.described.get("ApprovalDescription")
    )
    if answered is None:
        return callbacks.ignored(logger, "no retrain is waiting for this package", detail.model_package_arn)
    resource = {"model_package_arn": detail.model_package_arn}
    return callbacks.relayed(logger, "approval decision", resource, detail.approval_status, answered)


def answer_decision(
    clients: Clients, model_package_arn: str, status: str, description: str | None
) -> bool | None:
    """Answer the retrain waiting on this package, once; None when no token is waiting.

    Both this relay and ``store_token`` (for a decision made before its token was stored)
    call it; the conditional delete makes sure only one of them answers.
    """
    item = _take_item(clients.dynamodb, model_package_arn)
    if item is None:
        return None
    token = item["task_token"]["S"]
    try:
        if status == "Approved":
            outcome = ApprovalOutcome(
                model_package_arn=model_package_arn, approval_status="Approved", description=description
            )
            return callbacks.succeed(clients.sfn, token, outcome.model_dump())
        reason = description or "no reason given"
        return callbacks.fail(
            clients.sfn, token, "ModelRejected", f"{model_package_arn} was rejected: {reason}"
        )
    except Exception:
        # Put the token back so the retried delivery of this event can answer.
        clients.dynamodb.put_item(TableName=os.environ["DUALLOOP_TOKEN_TABLE"], Item=item)
        raise


def _take_item(dynamodb: Any, model_package_arn: str) -> dict[str, Any] | None:
    """Delete the waiting token's item and return it; None if another delivery took it first."""
    try:
        response = dynamodb.delete_item(
            TableName=os.environ["DUALLOOP_TOKEN_TABLE"],
            Key={"model_package_arn": {"S": model_package_arn}},
            ConditionExpression="attribute_exists(task_token)",
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    item: dict[str, Any] = response["Attributes"]
    return item
