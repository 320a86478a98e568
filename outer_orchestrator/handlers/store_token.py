"""``AwaitApproval``: keep the task token by model package ARN and tell the approvers.

Invoked by the state machine (``lambda:invoke.waitForTaskToken``). The token goes to
DynamoDB only (never to logs or notifications); the approvers get the metrics and the
exact command that approves or rejects. The item expires with the approval timeout.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict

from outer_orchestrator.handlers.approval_relay import answer_decision
from outer_orchestrator.handlers.clients import Clients

logger = Logger(service="dualloop-approval")


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_token: str
    execution_arn: str
    model_package_arn: str
    metrics: dict[str, float]
    timeout_seconds: int


def handler(event: dict[str, Any], context: Any, *, clients: Clients | None = None) -> dict[str, Any]:
    request = ApprovalRequest.model_validate(event)
    table = os.environ["DUALLOOP_TOKEN_TABLE"]
    clients = clients or Clients()
    clients.dynamodb.put_item(
        TableName=table,
        Item={
            "model_package_arn": {"S": request.model_package_arn},
            "task_token": {"S": request.task_token},
            "execution_arn": {"S": request.execution_arn},
            "expires_at": {"N": str(int(time.time()) + request.timeout_seconds + 86400)},
        },
    )
    metrics = "\n".join(f"  {name}: {value:.4f}" for name, value in sorted(request.metrics.items()))
    clients.sns.publish(
        TopicArn=os.environ["DUALLOOP_TOPIC_ARN"],
        Subject="dualloop: a new model awaits your approval"[:100],
        Message=(
            f"Model package {request.model_package_arn} was registered by retrain {request.execution_arn}.\n\n"
            f"Evaluation metrics:\n{metrics}\n\n"
            f"Approve:  dualloop approve {request.model_package_arn}\n"
            f"Reject:   dualloop reject {request.model_package_arn} --reason '...'\n"
            f"(or set its status in SageMaker Studio's Model Registry). Without a decision within "
            f"{request.timeout_seconds} s it is rejected."
        ),
    )
    # A decision made before the token was stored found nothing to answer: answer it now.
    package = clients.sagemaker.describe_model_package(ModelPackageName=request.model_package_arn)
    status = package.get("ModelApprovalStatus")
    if status in ("Approved", "Rejected"):
        answered = answer_decision(
            clients, request.model_package_arn, status, package.get("ApprovalDescription")
        )
        logger.info("decided before it was awaited", extra={"status": status, "answered": bool(answered)})
        return {"stored": True, "already": status}
    logger.info("awaiting approval", extra={"model_package_arn": request.model_package_arn})
    return {"stored": True}
