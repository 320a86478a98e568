"""The local cloud's SageMaker Pipelines: runs every started pipeline execution locally.

``attach(cloud)`` registers a handler for ``PipelineExecutionStarted`` (published by
``StartPipelineExecution`` once a handler exists, see ``patches/control_plane.py``). For each
execution it runs a ``LocalPipelineExecutor`` on the hook's worker thread and mirrors what
happens into the local cloud: step records for ListPipelineExecutionSteps, the ``SageMaker
Model Building Pipeline Execution Step Status Change`` events, the jobs for
DescribeProcessingJob/DescribeTrainingJob, and the final execution status with its event.
``StopPipelineExecution`` is honoured; stopping the cloud stops running executions.

The step cache lives here, in memory, one per attached cloud (see ``cache.py``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

from shared.local_cloud import backend_state, events, hooks
from shared.local_cloud.cloud import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, LocalCloud
from shared.local_cloud.iam import requests, sessions
from shared.local_cloud.patches import iam_enforcement, sagemaker_pipelines
from shared.local_cloud.sagemaker.attached import AttachedWorkers
from shared.local_cloud.sagemaker.cache import InMemoryStepCache
from shared.local_cloud.sagemaker.executor import (
    ExecutionIdentity,
    ExecutionResult,
    LocalPipelineExecutor,
    SelectiveRun,
    StepRecord,
)
from shared.local_cloud.sagemaker.steps.base import Services

LOG = logging.getLogger(__name__)
_KEEP_RESULTS = 200


@dataclass(frozen=True)
class _CloudObserver:
    account_id: str
    region: str
    pipeline_arn: str
    execution_arn: str

    def step_changed(self, record: StepRecord, previous_status: str | None) -> None:
        sagemaker_pipelines.put_execution_step(
            self.account_id, self.region, self.execution_arn, record.to_aws()
        )
        events.pipeline_step_status_change(
            account_id=self.account_id,
            region=self.region,
            pipeline_arn=self.pipeline_arn,
            execution_arn=self.execution_arn,
            step_name=record.name,
            step_type=record.type,
            current=record.status,
            previous=previous_status,
            start_time=record.start_time,
            end_time=record.end_time,
            cache_hit_execution_arn=record.cache_source_execution_arn,
            failure_reason=record.failure_reason,
            metadata=record.metadata,
        )

    def execution_changed(self, status: str, failure_reason: str | None) -> None:
        backend_state.set_pipeline_execution_status(
            self.account_id, self.region, self.execution_arn, status, failure_reason
        )

    def stop_requested(self) -> bool:
        _, execution = backend_state.pipeline_execution(self.account_id, self.region, self.execution_arn)
        return bool(execution.pipeline_execution_status == "Stopping")


# The ARN resource type of each job kind (Service Authorization Reference, Amazon SageMaker AI).
_JOB_RESOURCES = {
    "ProcessingJob": "processing-job",
    "TrainingJob": "training-job",
    "TransformJob": "transform-job",
    "HyperParameterTuningJob": "hyper-parameter-tuning-job",
}


@dataclass(frozen=True)
class _CloudJobs:
    account_id: str
    region: str
    role: sessions.RoleSession | None = None
    # Tuning jobs this execution started: their training jobs are the tuning job's doing.
    tuning_jobs: set[str] = field(default_factory=set)

    def job_started(self, kind: str, name: str, request: Mapping[str, Any]) -> str:
        if kind == "TrainingJob" and self._launched_by_tuning_job(name):
            # A tuning job launches its training jobs itself; the caller was authorized for
            # CreateHyperParameterTuningJob and for passing the definition's role.
            return sagemaker_pipelines.register_job(self.account_id, self.region, kind, name, request)
        # SageMaker Pipelines creates each job as the pipeline's role, passing the job's role.
        arn = f"arn:aws:sagemaker:{self.region}:{self.account_id}:{_JOB_RESOURCES[kind]}/{name.lower()}"
        iam_enforcement.authorize_as(
            self.role, f"sagemaker:Create{kind}", (arn,), dict(requests.request_tags(request))
        )
        role_arn = request.get("RoleArn") or (request.get("TrainingJobDefinition") or {}).get("RoleArn")
        if role_arn:
            iam_enforcement.authorize_as(
                self.role,
                "iam:PassRole",
                (str(role_arn),),
                {"iam:PassedToService": ["sagemaker.amazonaws.com"]},
            )
        if kind == "HyperParameterTuningJob":
            self.tuning_jobs.add(name.lower())
        return sagemaker_pipelines.register_job(self.account_id, self.region, kind, name, request)

    def _launched_by_tuning_job(self, name: str) -> bool:
        # "This name is the prefix for the names of all training jobs that this tuning job
        # launches" (CreateHyperParameterTuningJob, HyperParameterTuningJobName).
        prefix = name.lower().rsplit("-", 2)[0]
        return prefix in self.tuning_jobs

    def job_finished(
        self, kind: str, name: str, status: str, failure_reason: str | None, details: Mapping[str, Any]
    ) -> None:
        sagemaker_pipelines.finish_job(
            self.account_id, self.region, kind, name, status, failure_reason, details
        )


@dataclass
class _PipelineWorker:
    cloud: LocalCloud
    cache: InMemoryStepCache = field(default_factory=InMemoryStepCache)
    running: set[LocalPipelineExecutor] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Recent executions' results: RetryPipelineExecution reuses a failed one's succeeded steps,
    # a selective execution its source execution's outputs.
    results: dict[str, ExecutionResult] = field(default_factory=dict)

    def on_started(self, event: hooks.PipelineExecutionStarted) -> None:
        observer = _CloudObserver(event.account_id, event.region, "", event.execution_arn)
        try:
            pipeline, execution = backend_state.pipeline_execution(
                event.account_id, event.region, event.execution_arn
            )
            observer = _CloudObserver(event.account_id, event.region, pipeline.arn, event.execution_arn)
            with self.lock:
                resume = self.results.pop(event.execution_arn, None)
            selective = self._selective(execution)
            executor = LocalPipelineExecutor(
                event.definition,
                identity=ExecutionIdentity(
                    pipeline_name=event.pipeline_name,
                    pipeline_arn=pipeline.arn,
                    execution_arn=event.execution_arn,
                    account_id=event.account_id,
                    region=event.region,
                    start_time=_start_time(execution.start_time),
                ),
                services=self._services(event.region, event.account_id, pipeline.role_arn),
                parameters=event.parameters,
                cache=self.cache,
                observer=observer,
                max_parallel=(execution.parallelism_configuration or {}).get("MaxParallelExecutionSteps"),
                aws_now=self.cloud.now,
                scratch_parent=self.cloud.temp_root,
                resume=resume,
                selective=selective,
            )
        except Exception as exc:
            LOG.exception("cannot start pipeline execution %s", event.execution_arn)
            observer.execution_changed("Failed", f"local executor error: {type(exc).__name__}: {exc}")
            return
        with self.lock:
            self.running.add(executor)
        try:
            result = executor.run()
            with self.lock:
                self.results[event.execution_arn] = result
                while len(self.results) > _KEEP_RESULTS:
                    self.results.pop(next(iter(self.results)))
        except Exception as exc:
            LOG.exception("pipeline execution %s crashed", event.execution_arn)
            observer.execution_changed("Failed", f"local executor error: {type(exc).__name__}: {exc}")
        finally:
            with self.lock:
                self.running.discard(executor)

    def _selective(self, execution: Any) -> SelectiveRun | None:
        config = sagemaker_pipelines.selective_config(getattr(execution, "client_request_token", None))
        if config is None:
            return None
        source_arn = str(config["SourcePipelineExecutionArn"])
        with self.lock:
            source = self.results.get(source_arn)
        if source is None:
            raise ValueError(
                f"the source execution {source_arn} ran before this local cloud started (or is still running): "
                "its outputs are not known here"
            )
        selected = frozenset(str(s["StepName"]) for s in config.get("SelectedSteps") or [])
        return SelectiveRun(selected, source)

    def stop(self) -> None:
        with self.lock:
            executors = list(self.running)
        for executor in executors:
            executor.stop()
        self.cache.clear()

    def _services(self, region: str, account_id: str, role_arn: str | None) -> Services:
        """What the execution calls AWS with: the pipeline's role, as SageMaker assumes it (its
        jobs' containers get the same credentials; every step here runs as that role)."""
        role = (
            sessions.assume(str(role_arn), "sagemaker.amazonaws.com", region)
            if iam_enforcement.enabled()
            else None
        )
        session = boto3.session.Session(
            aws_access_key_id=role.access_key_id if role else LOCAL_ACCESS_KEY,
            aws_secret_access_key=role.secret_access_key if role else LOCAL_SECRET_KEY,
            aws_session_token=role.session_token if role else None,
            region_name=region,
        )
        return Services(
            s3=session.client("s3", endpoint_url=self.cloud.endpoint),
            sagemaker=session.client("sagemaker", endpoint_url=self.cloud.endpoint),
            jobs=_CloudJobs(account_id, region, role),
            lambda_client=session.client("lambda", endpoint_url=self.cloud.endpoint),
            sqs=session.client("sqs", endpoint_url=self.cloud.endpoint),
            container_env={**self.cloud.env(), **(role.env() if role else {})},
        )


def _start_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


_attached: AttachedWorkers[_PipelineWorker] = AttachedWorkers()


def attach(cloud: LocalCloud) -> None:
    """Run pipeline executions started on ``cloud`` locally (idempotent per cloud)."""

    def start() -> tuple[_PipelineWorker, Callable[[], None]]:
        worker = _PipelineWorker(cloud)
        return worker, cloud.hooks.register(hooks.PipelineExecutionStarted, worker.on_started)

    _attached.attach(cloud, start)


def step_cache(cloud: LocalCloud) -> InMemoryStepCache | None:
    """The step cache the worker attached to ``cloud`` uses, if attached."""
    worker = _attached.get(cloud)
    return worker.cache if worker is not None else None


def is_attached(cloud: LocalCloud) -> bool:
    return _attached.get(cloud) is not None


def detach(cloud: LocalCloud) -> None:
    """Stop running executions and stop handling new ones (``cloud.stop()`` does this too)."""
    _attached.detach(cloud)
