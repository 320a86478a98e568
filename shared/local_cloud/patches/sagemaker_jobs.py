"""Fix and addition: standalone SageMaker jobs run on a local worker instead of faking success.

moto 5.2.5's ``CreateProcessingJob``, ``CreateTrainingJob``, ``CreateTransformJob`` and
``CreateHyperParameterTuningJob`` store the job as ``Completed`` at once, with canned results
(a model artifact that was never written, a ``train:progress`` metric, a fake best training
job): a success for work that never ran. Here each call:

- refuses a name already used, as AWS does (``ResourceInUse``, the error botocore's model
  lists for the four Create* operations);
- with IAM enforced, refuses a ``RoleArn`` SageMaker could not assume (no such role, or a trust
  policy without ``sagemaker.amazonaws.com``) with AWS's ``ValidationException``; the job then
  runs as that role (``role_of``);
- stores the job ``InProgress`` with the request as sent (moto drops ``ProcessingResources``,
  ``Environment`` and replaces ``MetricDefinitions``) and no result yet;
- publishes ``hooks.SageMakerJobCreated`` for the local job service
  (``shared/local_cloud/sagemaker/jobs.py``), which runs it and reports through ``start`` /
  ``finish`` below. With no job service attached, the job fails at once saying so: it never
  reports Completed for work that did not run.

``StopProcessingJob`` (moto marks it Stopped at once) and ``StopTrainingJob``,
``StopTransformJob``, ``StopHyperParameterTuningJob`` (missing in moto) move a running job to
``Stopping`` and publish ``hooks.SageMakerJobStopRequested``; the service stops the job and
ends it ``Stopped``. Stopping a job that has ended is a ``ValidationException``; an unknown
job is ``ResourceNotFound`` (botocore's model of the Stop* operations).

Jobs a pipeline execution runs are registered by ``sagemaker_pipelines.register_job``, which
calls the backend directly: these response-level patches do not see them.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import EmptyResult
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from shared.local_cloud import hooks
from shared.local_cloud.iam import sessions
from shared.local_cloud.patches import Patch, iam_enforcement, original, replace

TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
NO_WORKER_REASON = (
    "ClientError: no local SageMaker job service is attached to this local cloud, so the job was not run "
    "(start the local cloud with `dualloop local up`, or attach shared.local_cloud.sagemaker.jobs)"
)
_lock = threading.Lock()


@dataclass(frozen=True)
class JobKind:
    """Where moto keeps one kind of job, and how AWS names its fields."""

    kind: str  # ProcessingJob | TrainingJob | TransformJob | HyperParameterTuningJob
    label: str  # as AWS's messages say it
    store: str  # the backend's dict of jobs
    status: str  # the job's status attribute
    start: str | None  # its start-time attribute
    end: str  # its end-time attribute

    @property
    def name_key(self) -> str:
        return f"{self.kind}Name"

    @property
    def snake(self) -> str:
        return {
            "ProcessingJob": "processing_job",
            "TrainingJob": "training_job",
            "TransformJob": "transform_job",
            "HyperParameterTuningJob": "hyper_parameter_tuning_job",
        }[self.kind]

    def arn(self, account_id: str, region: str, name: str) -> str:
        resource = self.snake.replace("_", "-")
        return f"arn:aws:sagemaker:{region}:{account_id}:{resource}/{name}"


KINDS: dict[str, JobKind] = {
    k.kind: k
    for k in (
        JobKind(
            "ProcessingJob",
            "processing job",
            "processing_jobs",
            "processing_job_status",
            "processing_start_time",
            "processing_end_time",
        ),
        JobKind(
            "TrainingJob",
            "training job",
            "training_jobs",
            "training_job_status",
            "training_start_time",
            "training_end_time",
        ),
        JobKind(
            "TransformJob",
            "transform job",
            "transform_jobs",
            "transform_job_status",
            "transform_start_time",
            "transform_end_time",
        ),
        JobKind(
            "HyperParameterTuningJob",
            "hyper parameter tuning job",
            "hyper_parameter_tuning_jobs",
            "hyper_parameter_tuning_job_status",
            None,
            "hyper_parameter_tuning_end_time",
        ),
    )
}


PATCH = Patch(__name__)
PATCH.pins(SageMakerResponse, "create_processing_job", "6a2c57749ae87ea1")
PATCH.pins(SageMakerResponse, "create_training_job", "10db6d601d793e37")
PATCH.pins(SageMakerResponse, "create_transform_job", "762b732d5c053a26")
PATCH.pins(SageMakerResponse, "create_hyper_parameter_tuning_job", "080e3584b5b605a0")
PATCH.pins(SageMakerModelBackend, "stop_processing_job", "9a2e4dd837ee2bcd")


# ---- what the job service calls ------------------------------------------------------------------
def job(account_id: str, region: str, kind: str, name: str) -> Any:
    spec = KINDS[kind]
    jobs = getattr(sagemaker_backends[account_id][region], spec.store)
    if name not in jobs:
        raise KeyError(f"no {spec.label} {name}")
    return jobs[name]


def status(account_id: str, region: str, kind: str, name: str) -> str:
    return str(getattr(job(account_id, region, kind, name), KINDS[kind].status))


def start(account_id: str, region: str, kind: str, name: str) -> str:
    """The job's instances are up and its code runs (SecondaryStatus Training); its ARN."""
    with _lock:
        target = job(account_id, region, kind, name)
        now = datetime.now(UTC)
        start_attribute = KINDS[kind].start
        if start_attribute is not None and getattr(target, start_attribute, None) is None:
            setattr(target, start_attribute, now)
        if kind == "TrainingJob" and target.training_job_status == "InProgress":
            _transition(target, "Training", "Training image download completed. Training in progress.", now)
        target.last_modified_time = now
        return str(target.arn)


def finish(
    account_id: str,
    region: str,
    kind: str,
    name: str,
    final_status: str,
    failure_reason: str | None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """End the job: ``final_status`` (Completed | Failed | Stopped), its reason and results
    (``ModelArtifacts``, ``FinalMetricDataList`` ... as Describe* names them)."""
    if final_status not in TERMINAL:
        raise ValueError(f"not a terminal job status: {final_status}")
    spec = KINDS[kind]
    with _lock:
        target = job(account_id, region, kind, name)
        now = datetime.now(UTC)
        setattr(target, spec.status, final_status)
        setattr(target, spec.end, now)
        target.last_modified_time = now
        # DescribeTrainingJob has FailureReason only for failed jobs (AWS leaves it out otherwise).
        target.failure_reason = failure_reason[:1024] if failure_reason else None
        if kind == "ProcessingJob":
            target.exit_message = target.failure_reason
        for key, value in (details or {}).items():
            # moto names most attributes in snake case, a few as AWS does (OverallBestTrainingJob).
            setattr(target, key if hasattr(target, key) else snake_case(key), copy.deepcopy(value))
        if kind == "TrainingJob":
            started = target.training_start_time
            if started is not None:
                # DescribeTrainingJob's TrainingTimeInSeconds and BillableTimeInSeconds (no spot
                # training locally, so billable is the whole training time), whole seconds.
                seconds = max(1, int((now - started).total_seconds()))
                target.training_time_in_seconds = target.billable_time_in_seconds = seconds
            messages = {
                "Completed": "Training job completed",
                "Failed": "Training job failed",
                "Stopped": "Training job stopped",
            }
            _transition(target, final_status, messages[final_status], now)


def _transition(target: Any, secondary: str, message: str, now: datetime) -> None:
    transitions: list[dict[str, Any]] = list(target.secondary_status_transitions or [])
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    entry: dict[str, Any] = {"Status": secondary, "StartTime": now, "StatusMessage": message}
    if secondary in TERMINAL:
        entry["EndTime"] = now
    transitions.append(entry)
    target.secondary_status_transitions = transitions
    target.secondary_status = secondary


def snake_case(pascal: str) -> str:
    out = []
    for i, char in enumerate(pascal):
        if char.isupper() and i and (not pascal[i - 1].isupper() or pascal[i + 1 : i + 2].islower()):
            out.append("_")
        out.append(char.lower())
    return "".join(out)


# ---- Create* ------------------------------------------------------------------------------------
SAGEMAKER_PRINCIPAL = "sagemaker.amazonaws.com"


def role_of(kind: str, request: Mapping[str, Any]) -> str | None:
    """The role a job's work runs as: its ``RoleArn``; a tuning job's training definition's.
    A transform job names none (it runs as its model's ``ExecutionRoleArn``)."""
    if kind == "HyperParameterTuningJob":
        definitions = [
            request.get("TrainingJobDefinition") or {},
            *(request.get("TrainingJobDefinitions") or []),
        ]
        roles = [str(d["RoleArn"]) for d in definitions if d.get("RoleArn")]
        return roles[0] if roles else None
    role = request.get("RoleArn")
    return str(role) if role else None


def _check_role(kind: str, request: Mapping[str, Any], region: str) -> None:
    """SageMaker assumes the job's role when the job is created and refuses one it cannot assume,
    with this message (CreateTransformJob/CreateTrainingJob answers quoted in public issues, e.g.
    awslabs/predictive-maintenance-using-machine-learning#3)."""
    role = role_of(kind, request)
    if role is None or not iam_enforcement.enabled():
        return
    try:
        sessions.assume(role, SAGEMAKER_PRINCIPAL, region)
    except sessions.RoleNotAssumable:
        raise ValidationError(
            message=f"Could not assume role {role}. Please ensure that the role exists and allows principal "
            f"'{SAGEMAKER_PRINCIPAL}' to assume the role."
        ) from None


def _in_progress(target: Any, spec: JobKind, request: Mapping[str, Any]) -> None:
    """Undo moto's canned results: the job has just been accepted and has not run."""
    now = datetime.now(UTC)
    setattr(target, spec.status, "InProgress")
    setattr(target, spec.end, None)
    if spec.start is not None:
        setattr(target, spec.start, None)
    target.creation_time = target.last_modified_time = now
    target.failure_reason = None
    if spec.kind == "ProcessingJob":
        target.processing_resources = copy.deepcopy(request.get("ProcessingResources"))
        target.environment = copy.deepcopy(request.get("Environment"))
    elif spec.kind == "TrainingJob":
        target.algorithm_specification = copy.deepcopy(request.get("AlgorithmSpecification") or {})
        target.environment = copy.deepcopy(request.get("Environment"))
        target.model_artifacts = None
        target.final_metric_data_list = None
        target.secondary_status_transitions = []
        _transition(target, "Starting", "Launching requested ML instances", now)
    elif spec.kind == "HyperParameterTuningJob":  # moto's canned tuning results
        target.best_training_job = None
        target.OverallBestTrainingJob = None
        target.tuning_job_completion_details = None
        target.consumed_resources = None
        target.training_job_status_counters = {
            "Completed": 0,
            "InProgress": 0,
            "RetryableError": 0,
            "NonRetryableError": 0,
            "Stopped": 0,
        }
        target.objective_status_counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}


def _create_handler(spec: JobKind) -> Any:
    attribute = f"create_{spec.snake}"

    def handler(self: SageMakerResponse) -> Any:
        request: dict[str, Any] = json.loads(self.body or "{}")
        name = str(request.get(spec.name_key) or "")
        backend: SageMakerModelBackend = self.sagemaker_backend
        if name in getattr(backend, spec.store):
            # botocore's model: Create*Job raises ResourceInUse for a name already taken.
            raise ResourceInUseException(
                message=f"{spec.label.capitalize()} names must be unique within an AWS account and region, "
                f"and a {spec.label} with this name already exists "
                f"({spec.arn(backend.account_id, backend.region_name, name)})"
            )
        _check_role(spec.kind, request, backend.region_name)
        result = original(SageMakerResponse, attribute)(self)
        with _lock:
            _in_progress(getattr(backend, spec.store)[name], spec, request)
        registry = hooks.current()
        if registry.has_handler(hooks.SageMakerJobCreated):
            registry.dispatch(
                hooks.SageMakerJobCreated(
                    account_id=backend.account_id,
                    region=backend.region_name,
                    kind=spec.kind,
                    name=name,
                    request=copy.deepcopy(request),
                )
            )
        else:
            finish(backend.account_id, backend.region_name, spec.kind, name, "Failed", NO_WORKER_REASON)
        return result

    handler.__name__ = attribute
    return handler


# ---- Stop* --------------------------------------------------------------------------------------
def _stop_backend(spec: JobKind) -> Any:
    def stop(self: SageMakerModelBackend, name: str) -> None:
        jobs = getattr(self, spec.store)
        if name not in jobs:
            raise ResourceNotFound(
                message=f"Could not find {spec.label} '{spec.arn(self.account_id, self.region_name, name)}'."
            )
        with _lock:
            target = jobs[name]
            current = getattr(target, spec.status)
            if current in TERMINAL:
                raise ValidationError(
                    message=f"The request was rejected because the {spec.label} is in status {current}."
                )
            if current == "Stopping":
                return
            setattr(target, spec.status, "Stopping")
            target.last_modified_time = datetime.now(UTC)
            if spec.kind == "TrainingJob":
                _transition(target, "Stopping", "Stopping the training job", target.last_modified_time)
        hooks.current().dispatch(
            hooks.SageMakerJobStopRequested(self.account_id, self.region_name, spec.kind, name)
        )

    stop.__name__ = f"stop_{spec.snake}"
    return stop


def _stop_response(spec: JobKind) -> Any:
    def respond(self: SageMakerResponse) -> Any:
        getattr(self.sagemaker_backend, f"stop_{spec.snake}")(self._get_param(spec.name_key))
        return EmptyResult()

    respond.__name__ = f"stop_{spec.snake}"
    return respond


def apply() -> None:
    for spec in KINDS.values():
        replace(SageMakerResponse, f"create_{spec.snake}", _create_handler(spec))
    replace(SageMakerModelBackend, "stop_processing_job", _stop_backend(KINDS["ProcessingJob"]))
    for kind in ("TrainingJob", "TransformJob", "HyperParameterTuningJob"):
        spec = KINDS[kind]
        for owner, function in (
            (SageMakerModelBackend, _stop_backend(spec)),
            (SageMakerResponse, _stop_response(spec)),
        ):
            existing = owner.__dict__.get(function.__name__)
            if existing is not None and getattr(existing, "__module__", None) != __name__:
                raise RuntimeError(
                    f"moto now implements {owner.__name__}.{function.__name__}: review "
                    "shared/local_cloud/patches/sagemaker_jobs.py"
                )
            setattr(owner, function.__name__, function)
