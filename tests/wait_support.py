"""Waiting in tests: ``wait_until`` (shared.polling, the one polling loop) and the waits many
tests share, each failing with one sentence naming what never happened."""

from __future__ import annotations

from typing import Any

import boto3

from shared.polling import wait_until

__all__ = ["endpoint_settled", "execution_ended", "job_ended", "pipeline_ended", "wait_until"]


def execution_ended(execution_arn: str, timeout: float = 20) -> dict[str, Any]:
    """DescribeExecution of a Step Functions execution once it is no longer RUNNING."""
    sfn = boto3.client("stepfunctions")

    def ended() -> dict[str, Any] | None:
        described = dict(sfn.describe_execution(executionArn=execution_arn))
        return None if described["status"] == "RUNNING" else described

    return wait_until(ended, what=f"the end of {execution_arn}", timeout=timeout, interval=0.02)


def pipeline_ended(execution_arn: str, timeout: float = 90) -> dict[str, Any]:
    """DescribePipelineExecution once the execution is Succeeded, Failed or Stopped."""
    sm = boto3.client("sagemaker")

    def ended() -> dict[str, Any] | None:
        described = dict(sm.describe_pipeline_execution(PipelineExecutionArn=execution_arn))
        return None if described["PipelineExecutionStatus"] in ("Executing", "Stopping") else described

    return wait_until(ended, what=f"the end of {execution_arn}", timeout=timeout)


def endpoint_settled(name: str, timeout: float = 90) -> dict[str, Any]:
    """DescribeEndpoint once the endpoint is InService or Failed."""
    sm = boto3.client("sagemaker")

    def settled() -> dict[str, Any] | None:
        described = dict(sm.describe_endpoint(EndpointName=name))
        return described if described["EndpointStatus"] in ("InService", "Failed") else None

    return wait_until(
        settled, what=f"endpoint {name} going InService (or Failed)", timeout=timeout, interval=0.1
    )


# kind -> (Describe* method, its name parameter, its status field)
_JOBS = {
    "training": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "processing": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    "transform": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
}


def job_ended(kind: str, name: str, timeout: float = 60) -> dict[str, Any]:
    """Describe* of a SageMaker ``kind`` job (training, processing, transform) once it is
    Completed, Failed or Stopped."""
    method, parameter, status = _JOBS[kind]
    describe = getattr(boto3.client("sagemaker"), method)

    def ended() -> dict[str, Any] | None:
        job = dict(describe(**{parameter: name}))
        return job if job[status] in ("Completed", "Failed", "Stopped") else None

    return wait_until(ended, what=f"the end of {kind} job {name}", timeout=timeout)
