"""What a finished pipeline execution produced: the model package it registered (with its
metrics), or why it failed. Read from SageMaker, for the relay that answers the outer loop
and for ``dualloop inner run`` alike."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared.contracts import EvaluationReport, PipelineOutcome

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

# Where the relay's role may read evaluation reports (infra/constructs/relays.py,
# evaluation_reports): a user's own pipeline writes its ModelQuality statistics there.
REPORT_KEYS = "<artifact prefix>*/evaluation.json in the artifact bucket"
# A report that is not there, or not ours to read, will not become readable on a retry.
_REPORT_GONE = {"AccessDenied", "NoSuchKey", "NoSuchBucket", "403", "404"}


class UnusableReport(Exception):
    """The registered package's ModelQuality statistics cannot be read or are not a report."""


def outcome_of(sagemaker: SageMakerClient, s3: S3Client, execution_arn: str) -> PipelineOutcome | None:
    for step in _steps(sagemaker, execution_arn):
        arn = step.get("Metadata", {}).get("RegisterModel", {}).get("Arn")
        if arn and step.get("StepStatus") == "Succeeded":
            package = sagemaker.describe_model_package(ModelPackageName=arn)
            return PipelineOutcome(
                pipeline_execution_arn=execution_arn,
                model_package_arn=arn,
                model_package_version=int(package.get("ModelPackageVersion", 0)),
                metrics=_metrics(s3, package),
            )
    return None


def _metrics(s3: S3Client, package: Any) -> dict[str, float]:
    uri = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    if not uri:
        return {}
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return EvaluationReport.model_validate(report).metrics()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in _REPORT_GONE:
            raise  # throttling, a service error: the event's retry policy delivers it again
        raise UnusableReport(
            f"The model package's ModelQuality statistics {uri} cannot be read ({code}): "
            f"the outer loop reads evaluation reports at {REPORT_KEYS} (README, Bring your own pipeline)."
        ) from None
    except ValueError as exc:  # not JSON, or not the report's layout (pydantic's errors are ValueErrors)
        first = str(exc).splitlines()[0]
        raise UnusableReport(
            f"The model package's ModelQuality statistics {uri} are not an evaluation report "
            f"(Model Monitor's model-quality layout, README, Bring your own pipeline): {first}"
        ) from None


def failure_reason(sagemaker: SageMakerClient, execution_arn: str) -> str:
    """The failed step and its reason (what a person needs), else the execution's reason."""
    failed = [s for s in _steps(sagemaker, execution_arn) if s.get("StepStatus") == "Failed"]
    if failed:
        step = failed[0]
        message = step.get("Metadata", {}).get("Fail", {}).get("ErrorMessage") or step.get(
            "FailureReason", ""
        )
        return f"step {step['StepName']} failed: {message}"
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
    return (
        described.get("FailureReason") or f"pipeline execution ended {described['PipelineExecutionStatus']}"
    )


def _steps(sagemaker: SageMakerClient, execution_arn: str) -> list[dict[str, Any]]:
    paginator = sagemaker.get_paginator("list_pipeline_execution_steps")
    pages = paginator.paginate(PipelineExecutionArn=execution_arn)
    return [dict(step) for page in pages for step in page["PipelineExecutionSteps"]]
