"""What every step executor gets and returns."""

from __future__ import annotations

import secrets
import string
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from shared.local_cloud.sagemaker.errors import StepFailure
from shared.local_cloud.sagemaker.expressions import ExecutionVariables, Resolver
from shared.pipeline_graph import StepNode

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sqs import SQSClient


class JobRecorder(Protocol):
    """Where processing and training jobs are reported (the local cloud registers them in
    moto so DescribeProcessingJob/DescribeTrainingJob answer for the ARNs in step metadata)."""

    def job_started(self, kind: str, name: str, request: Mapping[str, Any]) -> str:
        """Register job ``name`` (kind ProcessingJob or TrainingJob); return its ARN."""
        ...

    def job_finished(
        self, kind: str, name: str, status: str, failure_reason: str | None, details: Mapping[str, Any]
    ) -> None: ...


@dataclass(frozen=True)
class ArnOnlyJobRecorder:
    """Registers nothing; makes the ARNs SageMaker would."""

    account_id: str
    region: str

    def job_started(self, kind: str, name: str, request: Mapping[str, Any]) -> str:
        resource = {
            "ProcessingJob": "processing-job",
            "TrainingJob": "training-job",
            "HyperParameterTuningJob": "hyper-parameter-tuning-job",
            "TransformJob": "transform-job",
        }[kind]
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{resource}/{name}"

    def job_finished(
        self, kind: str, name: str, status: str, failure_reason: str | None, details: Mapping[str, Any]
    ) -> None:
        return None


@dataclass(frozen=True)
class Services:
    """The clients and settings a step needs (passed in, never created here)."""

    s3: S3Client
    sagemaker: SageMakerClient
    jobs: JobRecorder
    # Lambda and Callback steps only: a step that needs one and has none fails saying so.
    lambda_client: LambdaClient | None = None
    sqs: SQSClient | None = None
    # Added to the job processes' environment (the local cloud's AWS_ENDPOINT_URL etc.).
    container_env: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable


@dataclass(frozen=True)
class StepContext:
    node: StepNode
    arguments: Mapping[str, Any]  # resolved (empty for a condition step: it resolves lazily)
    job_name: str
    execution: ExecutionVariables
    account_id: str
    region: str
    attempt: int
    resolver: Resolver
    services: Services
    work_dir: Path  # empty, this attempt's own
    stop: threading.Event


@dataclass(frozen=True)
class StepOutcome:
    # Describe*-shaped: what ``{"Get": "Steps.<name>...."}`` reads.
    properties: Mapping[str, Any]
    metadata: Mapping[str, Any]
    condition_outcome: bool | None = None


class StepExecutor(Protocol):
    step_type: ClassVar[str]

    def resolve_arguments(self, node: StepNode, resolver: Resolver, job_name: str) -> dict[str, Any]:
        """The step's arguments with expressions resolved (before the cache lookup)."""
        ...

    def run(self, ctx: StepContext) -> StepOutcome: ...


class ResolvesArguments:
    """Default ``resolve_arguments``: every expression under ``Arguments``."""

    def resolve_arguments(self, node: StepNode, resolver: Resolver, job_name: str) -> dict[str, Any]:
        resolved = resolver.resolve(node.spec.get("Arguments") or {}, job_name=job_name)
        return dict(resolved)


_ALPHABET = string.ascii_lowercase + string.digits


def job_name(execution_id: str, step_name: str) -> str:
    """``pipelines-<execution id>-<step>-<random>``, as SageMaker names a pipeline's jobs (<= 63)."""
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    room = 63 - len("pipelines-") - len(execution_id) - len(suffix) - 2
    return f"pipelines-{execution_id}-{step_name[: max(room, 1)]}-{suffix}"


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_safe(value: Any) -> Any:
    """Describe* responses with datetimes as ISO strings (properties travel through JSON)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass
class RecordedJob:
    """A step's job while it runs: its ARN, the step metadata naming it, and the details
    (artifacts, metrics) the job reports once it completes."""

    arn: str
    metadata: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)


@contextmanager
def recorded_job(ctx: StepContext, kind: str) -> Iterator[RecordedJob]:
    """The step's job as the SageMaker API shows it: started on entry, then Completed (with
    ``details``), Failed (the failure's message, which names the job in its metadata) or
    Stopped (any other interruption) as the body ends."""
    arn = ctx.services.jobs.job_started(kind, ctx.job_name, ctx.arguments)
    job = RecordedJob(arn=arn, metadata={kind: {"Arn": arn}})
    try:
        yield job
    except StepFailure as failure:
        failure.metadata = failure.metadata or job.metadata
        ctx.services.jobs.job_finished(kind, ctx.job_name, "Failed", str(failure), {})
        raise
    except BaseException:
        ctx.services.jobs.job_finished(kind, ctx.job_name, "Stopped", None, {})
        raise
    ctx.services.jobs.job_finished(kind, ctx.job_name, "Completed", None, job.details)


_Client = TypeVar("_Client")


def client_and_target(
    ctx: StepContext, client: _Client | None, service: str, target: str
) -> tuple[_Client, str]:
    """The client a Lambda or Callback step calls with, and the value of the step's member it
    calls (``target``: the member's name with its article, "a FunctionArn"); either missing
    fails the step saying which."""
    step_type = ctx.node.type
    if client is None:
        raise StepFailure(
            f"ClientError: this executor was given no {service} client, so it cannot run {step_type} steps"
        )
    value = str(ctx.node.spec.get(target.rsplit(maxsplit=1)[-1]) or "")
    if not value:
        raise StepFailure(f"ClientError: a {step_type} step needs {target}")
    return client, value
