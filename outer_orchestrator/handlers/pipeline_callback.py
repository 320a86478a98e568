"""``RunInnerPipeline``: store the task token, then start the inner pipeline with a short key.

Invoked by the state machine (``lambda:invoke.waitForTaskToken``). The token is stored
first (``pipeline_tokens``, by the retrain's execution name), so the pipeline relay always
finds it, however fast the pipeline ends; the pipeline gets only the key, as its
``CallbackToken`` parameter (a token may be 2,048 characters, a parameter value 1,024).

The same task is the fallback for a callback that never comes (a relay failure, a dropped
event): the state machine waits ``pipeline_check_seconds`` at a time and then invokes this
again with a new token. A pipeline already started is not started again; if it has ended
meanwhile, its outcome is answered here at once, as the relay would have. So a lost event
costs at most one check interval, never the whole pipeline timeout.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from outer_orchestrator.handlers import callbacks, pipeline_relay, pipeline_tokens
from outer_orchestrator.handlers.clients import Clients

logger = Logger(service="dualloop-pipeline-callback")

_TERMINAL = ("Succeeded", "Failed", "Stopped")
# SageMaker's unmodeled transient errors: retried by the state machine (see the ASL's Retry on
# PipelineStartThrottled); every other client error (validation, a missing pipeline) is final.
_TRANSIENT = {
    "ThrottlingException",
    "Throttling",
    "InternalFailure",
    "ServiceUnavailable",
    "ResourceLimitExceeded",
}


class PipelineStartThrottled(Exception):
    """SageMaker throttled (or briefly failed) StartPipelineExecution: the task retries it."""


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_token: str
    pipeline_name: str
    callback_key: str = Field(max_length=1024)
    execution_arn: str
    input_data_uri: str
    client_request_token: str
    timeout_seconds: int


def handler(event: dict[str, Any], context: Any, *, clients: Clients | None = None) -> dict[str, Any]:
    request = StartRequest.model_validate(event)
    clients = clients or Clients()
    dynamodb = clients.dynamodb
    earlier = pipeline_tokens.store(
        dynamodb,
        request.callback_key,
        request.task_token,
        execution_arn=request.execution_arn,
        timeout_seconds=request.timeout_seconds,
    )
    if earlier is not None and earlier.pipeline_execution_arn:
        return _check(clients, request, earlier.pipeline_execution_arn)
    try:
        started = clients.sagemaker.start_pipeline_execution(
            PipelineName=request.pipeline_name,
            PipelineExecutionDisplayName=request.callback_key,
            ClientRequestToken=request.client_request_token,
            PipelineParameters=[
                {"Name": "InputDataUri", "Value": request.input_data_uri},
                {"Name": "CallbackToken", "Value": request.callback_key},
            ],
        )
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        message = exc.response["Error"].get("Message", str(exc))
        if code in _TRANSIENT:
            raise PipelineStartThrottled(f"SageMaker.{code}: {message}") from None
        callbacks.fail(
            clients.sfn,
            request.task_token,
            "InnerPipelineNotStarted",
            f"StartPipelineExecution refused the request: {code}: {message}",
        )
        pipeline_tokens.forget(dynamodb, request.callback_key, request.task_token)
        return {"started": False, "error": code}
    arn = started["PipelineExecutionArn"]
    pipeline_tokens.remember_pipeline(dynamodb, request.callback_key, arn)
    logger.info("started the inner pipeline", extra={"pipeline_execution_arn": arn})
    return {"started": True, "pipeline_execution_arn": arn}


def _check(clients: Clients, request: StartRequest, arn: str) -> dict[str, Any]:
    """The pipeline was started by an earlier attempt: answer now if it has ended, else wait."""
    status = clients.sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn)[
        "PipelineExecutionStatus"
    ]
    if status not in _TERMINAL:
        logger.info("still running; waiting again", extra={"pipeline_execution_arn": arn, "status": status})
        return {"started": False, "waiting": arn, "status": status}
    answered = pipeline_relay.answer(clients, request.task_token, arn, status)
    if answered:
        pipeline_tokens.forget(clients.dynamodb, request.callback_key, request.task_token)
    logger.info(
        "answered a pipeline whose event never arrived",
        extra={"pipeline_execution_arn": arn, "status": status},
    )
    return {"started": False, "answered": answered, "status": status}
