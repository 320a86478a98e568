"""Callback steps: a token message on the step's SQS queue, then wait for the answer.

As SageMaker runs a ``CallbackStep`` (developer guide, "Callback step"): the message body is
``{"token": ..., "pipelineExecutionArn": ..., "arguments": {...}, "status": "Executing"}``;
whoever handles it calls ``SendPipelineExecutionStepSuccess`` (with ``OutputParameters``,
cast to their declared types and read as ``Steps.X.OutputParameters['name']``) or
``SendPipelineExecutionStepFailure`` (its ``FailureReason`` fails the step). Without an answer
the step fails after 7 days of AWS time (the local clock's), as SageMaker's callback timeout.
"""

from __future__ import annotations

import json
import secrets
import string
from typing import Any, ClassVar

from shared.local_cloud import clock
from shared.local_cloud.sagemaker import callbacks
from shared.local_cloud.sagemaker.errors import StepFailure, StepStopped
from shared.local_cloud.sagemaker.steps.base import (
    ResolvesArguments,
    StepContext,
    StepOutcome,
    client_and_target,
)
from shared.local_cloud.sagemaker.steps.lambda_step import output_list, typed_outputs
from shared.local_cloud.sagemaker.steps.model import call

TIMEOUT_SECONDS = 7 * 24 * 3600
_ALPHABET = string.ascii_letters + string.digits


class CallbackExecutor(ResolvesArguments):
    step_type: ClassVar[str] = "Callback"

    def run(self, ctx: StepContext) -> StepOutcome:
        sqs, queue_url = client_and_target(ctx, ctx.services.sqs, "SQS", "an SqsQueueUrl")
        token = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        metadata: dict[str, Any] = {"Callback": {"CallbackToken": token, "SqsQueueUrl": queue_url}}
        callbacks.register(token, ctx.execution.execution_arn)
        body = {
            "token": token,
            "pipelineExecutionArn": ctx.execution.execution_arn,
            "arguments": dict(ctx.arguments),
            "status": "Executing",
        }
        try:
            call("SendMessage", sqs.send_message, QueueUrl=queue_url, MessageBody=json.dumps(body))
        except StepFailure as failure:
            callbacks.wait(token, ctx.stop, 0)  # forget the token
            failure.metadata = metadata
            raise
        answer = callbacks.wait(token, ctx.stop, clock.scaled(TIMEOUT_SECONDS))
        if answer is None:
            if ctx.stop.is_set():
                raise StepStopped(f"callback step {ctx.node.name} stopped")
            raise StepFailure(f"ClientError: no callback for token {token} within 7 days", metadata=metadata)
        if not answer.succeeded:
            raise StepFailure(answer.failure_reason or "SendPipelineExecutionStepFailure", metadata=metadata)
        outputs = typed_outputs(
            ctx.node.spec.get("OutputParameters") or [],
            answer.output_parameters,
            source="SendPipelineExecutionStepSuccess",
        )
        metadata["Callback"]["OutputParameters"] = output_list(outputs)
        return StepOutcome(properties={"OutputParameters": outputs}, metadata=metadata)
