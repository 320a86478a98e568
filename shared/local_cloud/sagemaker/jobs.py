"""The local SageMaker's standalone jobs: CreateProcessingJob, CreateTrainingJob,
CreateTransformJob and CreateHyperParameterTuningJob called directly (boto3, the SDK's
``Processor.run()`` / ``ModelTrainer.train()``, Step Functions' ``sagemaker:create*Job``).

One job runner serves pipeline steps and standalone jobs: a job here is run by the very step
executor a pipeline step of the same type uses (``steps.executor_for``), with a
``StepContext`` of its own. ``attach(cloud)`` registers for ``hooks.SageMakerJobCreated``
(published by ``patches/sagemaker_jobs.py``), so each job runs on a local cloud worker thread
and reports InProgress, then Completed, Failed (with its ``FailureReason``) or Stopped.
A job type without a local executor fails at once with one sentence saying so.

A job runs as its role, as SageMaker assumes it (``sagemaker_jobs.role_of``): its reads and
writes, and its container's calls, carry that role's credentials, so with IAM enforced a role
without ``s3:GetObject`` on the input fails the job with the AccessDenied in its FailureReason.
A transform job runs as its model's ``ExecutionRoleArn``.

As on SageMaker, the job's output goes to CloudWatch Logs while it runs (``job_logs.py``),
where the SDK's ``wait(logs=True)`` tails it; the last lines are sent before the job's status
turns terminal, so a tail that stops at the terminal status has seen them all.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from shared.local_cloud import hooks
from shared.local_cloud.cloud import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, LocalCloud
from shared.local_cloud.iam import sessions
from shared.local_cloud.patches import iam_enforcement, sagemaker_jobs, sagemaker_pipelines
from shared.local_cloud.sagemaker.attached import AttachedWorkers
from shared.local_cloud.sagemaker.errors import StepFailure, StepStopped, UnknownStepTypeError
from shared.local_cloud.sagemaker.expressions import ExecutionVariables, Resolver
from shared.local_cloud.sagemaker.job_logs import JobLogShipper
from shared.local_cloud.sagemaker.steps import executor_for, supported_step_types
from shared.local_cloud.sagemaker.steps.base import Services, StepContext
from shared.pipeline_graph import StepNode

LOG = logging.getLogger(__name__)

# The pipeline step type whose executor runs each kind of job, and the API that creates it.
STEP_TYPES = {
    "ProcessingJob": "Processing",
    "TrainingJob": "Training",
    "TransformJob": "Transform",
    "HyperParameterTuningJob": "Tuning",
}
LOG_GROUPS = {
    "ProcessingJob": "/aws/sagemaker/ProcessingJobs",
    "TrainingJob": "/aws/sagemaker/TrainingJobs",
    "TransformJob": "/aws/sagemaker/TransformJobs",
}


def unsupported_reason(kind: str, supported: list[str]) -> str:
    return (
        f"ClientError: Create{kind} is not yet supported locally: the local SageMaker has no "
        f"{STEP_TYPES[kind]} executor (it runs {', '.join(supported)})"
    )


@dataclass(frozen=True)
class JobKey:
    account_id: str
    region: str
    kind: str
    name: str


@dataclass
class _StandaloneRecorder:
    """The ``JobRecorder`` of one standalone job. The job already exists (its Create* call
    stored it), so reporting it starts or ends that job; any other job the executor starts
    (a tuning job's training jobs) is registered as a pipeline step's would be."""

    key: JobKey
    # The results the executor reported for the job itself (ModelArtifacts ...).
    details: Mapping[str, Any] = field(default_factory=dict)

    def job_started(self, kind: str, name: str, request: Mapping[str, Any]) -> str:
        if (kind, name) == (self.key.kind, self.key.name):
            return sagemaker_jobs.start(self.key.account_id, self.key.region, kind, name)
        return sagemaker_pipelines.register_job(self.key.account_id, self.key.region, kind, name, request)

    def job_finished(
        self, kind: str, name: str, status: str, failure_reason: str | None, details: Mapping[str, Any]
    ) -> None:
        if (kind, name) != (self.key.kind, self.key.name):
            sagemaker_pipelines.finish_job(
                self.key.account_id, self.key.region, kind, name, status, failure_reason, details
            )
            return
        # The service ends the job (status and reason) once the executor has returned and the
        # logs are out, so a tail that stops at the terminal status has seen them all.
        self.details = dict(details)


@dataclass
class JobService:
    """Runs standalone jobs; one per attached local cloud."""

    cloud: LocalCloud
    running: dict[JobKey, threading.Event] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_created(self, event: hooks.SageMakerJobCreated) -> None:
        key = JobKey(event.account_id, event.region, event.kind, event.name)
        stop = threading.Event()
        with self.lock:
            self.running[key] = stop
        # A stop that came while the job waited for a worker thread found nothing to stop.
        if sagemaker_jobs.status(key.account_id, key.region, key.kind, key.name) == "Stopping":
            stop.set()
        try:
            self._run(key, event.request, stop)
        finally:
            with self.lock:
                self.running.pop(key, None)

    def on_stop_requested(self, event: hooks.SageMakerJobStopRequested) -> None:
        with self.lock:
            stop = self.running.get(JobKey(event.account_id, event.region, event.kind, event.name))
        if stop is not None:
            stop.set()

    def stop(self) -> None:
        with self.lock:
            events = list(self.running.values())
        for event in events:
            event.set()

    # ---- one job --------------------------------------------------------------------------------
    def _run(self, key: JobKey, request: Mapping[str, Any], stop: threading.Event) -> None:
        node = StepNode(
            name=key.name, type=STEP_TYPES[key.kind], spec={"Arguments": request}, depends_on=frozenset()
        )
        try:
            executor = executor_for(node)
        except UnknownStepTypeError:
            self._end(key, "Failed", unsupported_reason(key.kind, supported_step_types()))
            return
        if stop.is_set():
            self._end(key, "Stopped", None)
            return
        work_dir = self.cloud.mkdtemp(f"dualloop-{key.kind}-{key.name}-")
        shipper = (
            JobLogShipper(self._client("logs", key.region), LOG_GROUPS[key.kind], key.name, work_dir).start()
            if key.kind in LOG_GROUPS
            else None
        )
        recorder = _StandaloneRecorder(key)
        arguments = {k: v for k, v in request.items() if k != f"{key.kind}Name"}
        final: tuple[str, str | None, Mapping[str, Any]]
        try:
            role = self._role(key, request)
            context = StepContext(
                node=node,
                arguments=arguments,
                job_name=key.name,
                execution=_no_pipeline(key),
                account_id=key.account_id,
                region=key.region,
                attempt=1,
                resolver=_literal_resolver(key),
                services=Services(
                    s3=self._client("s3", key.region, role),
                    sagemaker=self._client("sagemaker", key.region, role),
                    jobs=recorder,
                    container_env={**self.cloud.env(), **(role.env() if role else {})},
                ),
                work_dir=work_dir,
                stop=stop,
            )
            outcome = executor.run(context)
            final = ("Completed", None, recorder.details or _results(key.kind, outcome.properties))
        except StepStopped:
            final = ("Stopped", None, {})
        except StepFailure as failure:
            final = ("Stopped", None, {}) if stop.is_set() else ("Failed", str(failure), {})
        except Exception as exc:  # a bug in the local runner fails the job; it never hangs it
            LOG.exception("local %s %s crashed", key.kind, key.name)
            final = ("Failed", f"InternalServerError: {type(exc).__name__}: {exc}", {})
        try:
            if shipper is not None:
                shipper.finish()
        except Exception:
            LOG.exception("could not write the logs of %s %s", key.kind, key.name)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        status, reason, details = final
        if key.kind == "HyperParameterTuningJob":
            # Its trials are listed by ListTrainingJobsForHyperParameterTuningJob, not described.
            details = dict(details)
            trials = details.pop("TrainingJobSummaries", None) or []
            sagemaker_pipelines.set_tuning_trials(key.account_id, key.region, key.name, trials)
        self._end(key, status, reason, details)

    def _end(
        self, key: JobKey, status: str, reason: str | None, details: Mapping[str, Any] | None = None
    ) -> None:
        sagemaker_jobs.finish(key.account_id, key.region, key.kind, key.name, status, reason, details)

    def _role(self, key: JobKey, request: Mapping[str, Any]) -> sessions.RoleSession | None:
        """The job's role session when IAM is enforced (else the local administrator's keys)."""
        if not iam_enforcement.enabled():
            return None
        role = sagemaker_jobs.role_of(key.kind, request)
        if role is None and key.kind == "TransformJob":
            try:
                model = self._client("sagemaker", key.region).describe_model(ModelName=request["ModelName"])
            except ClientError:  # no such model: the transform executor fails the job saying so
                return None
            role = model.get("ExecutionRoleArn")
        if role is None:
            return None
        try:
            return sessions.assume(str(role), sagemaker_jobs.SAGEMAKER_PRINCIPAL, key.region)
        except sessions.RoleNotAssumable as exc:  # deleted, or its trust changed, since Create
            raise StepFailure(
                f"ClientError: SageMaker was unable to assume the role '{role}': {exc}"
            ) from None

    def _client(self, service: str, region: str, role: sessions.RoleSession | None = None) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=role.access_key_id if role else LOCAL_ACCESS_KEY,
            aws_secret_access_key=role.secret_access_key if role else LOCAL_SECRET_KEY,
            aws_session_token=role.session_token if role else None,
            region_name=region,
        )
        return session.client(service, endpoint_url=self.cloud.endpoint)  # type: ignore[call-overload]


def _results(kind: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """The Describe* fields an executor's properties carry that the Create* request did not."""
    wanted = {
        "TrainingJob": ("ModelArtifacts", "FinalMetricDataList"),
        "TransformJob": ("DataCaptureConfig",),
        "HyperParameterTuningJob": (
            "BestTrainingJob",
            "OverallBestTrainingJob",
            "TrainingJobStatusCounters",
            "ObjectiveStatusCounters",
        ),
    }.get(kind, ())
    return {k: properties[k] for k in wanted if k in properties}


def _no_pipeline(key: JobKey) -> ExecutionVariables:
    """A standalone job belongs to no pipeline execution; steps only read these for names."""
    return ExecutionVariables(
        pipeline_name="",
        pipeline_arn="",
        execution_arn=f"arn:aws:sagemaker:{key.region}:{key.account_id}:standalone/{key.name}",
        start_time=datetime.now(UTC),
    )


def _literal_resolver(key: JobKey) -> Resolver:
    """A standalone request is literal JSON: there are no steps or property files to read."""

    def no_steps(step: str, *_: Any) -> Any:
        raise KeyError(f"a standalone {key.kind} has no pipeline step {step!r}")

    def no_json(uri: str) -> Any:
        raise KeyError(f"a standalone {key.kind} reads no JSON documents ({uri})")

    return Resolver(
        parameters={},
        execution=_no_pipeline(key),
        step_properties=no_steps,
        property_file=no_steps,
        read_json=no_json,
    )


_attached: AttachedWorkers[JobService] = AttachedWorkers()


def attach(cloud: LocalCloud) -> JobService:
    """Run the standalone jobs created on ``cloud`` locally (idempotent per cloud)."""

    def start() -> tuple[JobService, Callable[[], None]]:
        service = JobService(cloud)
        unregister_created = cloud.hooks.register(hooks.SageMakerJobCreated, service.on_created)
        unregister_stop = cloud.hooks.register(hooks.SageMakerJobStopRequested, service.on_stop_requested)

        def unregister() -> None:
            unregister_created()
            unregister_stop()

        return service, unregister

    return _attached.attach(cloud, start)


def detach(cloud: LocalCloud) -> None:
    """Stop running jobs and stop handling new ones (``cloud.stop()`` does this too)."""
    _attached.detach(cloud)
