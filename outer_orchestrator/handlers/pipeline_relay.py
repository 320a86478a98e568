"""Relay: the inner pipeline ended → answer the outer loop's ``RunInnerPipeline`` task.

Triggered by ``SageMaker Model Building Pipeline Execution Status Change``. The pipeline
parameter ``CallbackToken`` carries a short key under which ``pipeline_callback`` stored
the task token (``pipeline_tokens``); executions without one (a data scientist's own run)
and other pipelines are ignored. Success carries the registered model package and its
metrics; failure carries the failed step's reason. The event is only a claim: the
execution's pipeline and status are read with DescribePipelineExecution (``facts``), and an
event SageMaker does not confirm (a forged ``Failed`` for a healthy retrain, a late
``Executing``) is logged and ignored.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from outer_orchestrator.handlers import callbacks, facts, pipeline_tokens
from outer_orchestrator.handlers.clients import Clients
from outer_orchestrator.handlers.events import PipelineStatusChange, parse
from shared.pipeline_outcome import UnusableReport, failure_reason, outcome_of

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

logger = Logger(service="dualloop-pipeline-relay")


def handler(event: dict[str, Any], context: Any, *, clients: Clients | None = None) -> dict[str, Any]:
    detail = parse(PipelineStatusChange, event).detail
    expected = os.environ["DUALLOOP_PIPELINE_NAME"]
    if detail.pipeline_name != expected:
        return callbacks.ignored(logger, "another pipeline", detail.pipeline_name)
    if not detail.is_terminal:
        return callbacks.ignored(logger, "not finished", detail.current_status)
    clients = clients or Clients()
    sagemaker = clients.sagemaker
    claim = facts.Claim("pipeline execution", detail.pipeline_execution_arn, expected, detail.current_status)
    if facts.establish(claim, lambda arn: facts.read_pipeline_execution(sagemaker, arn), logger) is None:
        return callbacks.ignored(logger, "not confirmed by SageMaker", detail.pipeline_execution_arn)
    key = _callback_key(sagemaker, detail.pipeline_execution_arn)
    if not key:
        return callbacks.ignored(logger, "not started by the outer loop", detail.pipeline_execution_arn)
    waiting = pipeline_tokens.waiting(clients.dynamodb, key)
    if waiting is None:
        return callbacks.ignored(logger, "no retrain is waiting for it", key)
    answered = answer(clients, waiting.token, detail.pipeline_execution_arn, detail.current_status)
    if answered:
        pipeline_tokens.forget(clients.dynamodb, key, waiting.token)
    resource = {"execution": detail.pipeline_execution_arn}
    return callbacks.relayed(logger, "pipeline outcome", resource, detail.current_status, answered)


def answer(clients: Clients, token: str, execution_arn: str, status: str) -> bool:
    """Answer the waiting ``RunInnerPipeline`` for a pipeline execution that ended ``status``."""
    sagemaker, sfn = clients.sagemaker, clients.sfn
    if status == "Succeeded":
        try:
            outcome = outcome_of(sagemaker, clients.s3, execution_arn)
        except UnusableReport as exc:
            return callbacks.fail(sfn, token, "UnusableEvaluationReport", str(exc))
        if outcome is None:
            return callbacks.fail(
                sfn, token, "NoModelRegistered", "The pipeline succeeded but registered no model package."
            )
        return callbacks.succeed(sfn, token, outcome.model_dump())
    return callbacks.fail(sfn, token, "InnerPipelineFailed", failure_reason(sagemaker, execution_arn))


def _callback_key(sagemaker: SageMakerClient, execution_arn: str) -> str | None:
    paginator = sagemaker.get_paginator("list_pipeline_parameters_for_execution")
    for page in paginator.paginate(PipelineExecutionArn=execution_arn):
        for parameter in page["PipelineParameters"]:
            if parameter["Name"] == "CallbackToken":
                return parameter["Value"] or None
    return None
