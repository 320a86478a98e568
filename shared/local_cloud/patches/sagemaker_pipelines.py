"""Addition: the pipeline-execution APIs moto 5.2.5 lacks, and the jobs a pipeline runs.

- ``ListPipelineExecutionSteps`` (missing in moto): answers from the step records the local
  pipeline executor stores with ``put_execution_step``, in AWS's shape; newest first by
  start time (``SortOrder`` Descending, AWS's default), paginated with MaxResults/NextToken.
- ``StartPipelineExecution``'s request limits (``check_pipeline_parameters``, called where the
  local cloud handles the call, ``control_plane``): parameter values over 1,024 characters,
  bad names, more than 200 parameters are a ValidationException, as on AWS.
- ``DescribePipelineExecution``: moto always answers ``FailureReason: ""``; it now carries the
  execution's failure reason, and is left out when there is none, as on AWS.
- ``StopPipelineExecution`` (missing): an Executing execution becomes Stopping (with the
  status-change event); the executor sees it, stops its jobs and ends the execution Stopped.
  Stopping an execution that has ended is a ValidationException, as on AWS.
- ``register_job`` / ``finish_job``: the processing and training jobs the executor runs are
  registered in moto's backend, so DescribeProcessingJob / DescribeTrainingJob answer for the
  ARNs in the steps' metadata with the real status and failure reason.

New attributes are set only if moto does not have them: ``apply`` refuses to shadow an
implementation a newer moto may bring (review this module then).
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakePipelineExecution, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import get_pipeline_execution_from_arn

from shared.local_cloud import backend_state
from shared.local_cloud.patches import Replaced, original, replace

STEPS_ATTRIBUTE = "dualloop_steps"
_lock = threading.Lock()


def REPLACES() -> list[Replaced]:  # noqa: N802
    return [Replaced(SageMakerModelBackend, "describe_pipeline_execution", "8fc1fbb36d60a56d")]


def _backend(account_id: str, region: str) -> SageMakerModelBackend:
    return sagemaker_backends[account_id][region]


# ---- step records (written by the executor's observer) ---------------------------------------------
def put_execution_step(account_id: str, region: str, execution_arn: str, step: Mapping[str, Any]) -> None:
    """Insert or replace (by StepName) one ``PipelineExecutionStep`` of an execution."""
    _, execution = backend_state.pipeline_execution(account_id, region, execution_arn)
    with _lock:
        steps: dict[str, dict[str, Any]] = execution.__dict__.setdefault(STEPS_ATTRIBUTE, {})
        steps[str(step["StepName"])] = copy.deepcopy(dict(step))


def _list_pipeline_execution_steps(
    self: SageMakerModelBackend,
    pipeline_execution_arn: str,
    next_token: str | None = None,
    max_results: int | None = None,
    sort_order: str | None = None,
) -> dict[str, Any]:
    execution: FakePipelineExecution = get_pipeline_execution_from_arn(self.pipelines, pipeline_execution_arn)
    with _lock:
        steps = [copy.deepcopy(s) for s in getattr(execution, STEPS_ATTRIBUTE, {}).values()]
    steps.sort(key=lambda s: s["StartTime"], reverse=(sort_order or "Descending") == "Descending")
    start = int(next_token or 0)
    size = int(max_results or 50)
    page = steps[start : start + size]
    out: dict[str, Any] = {"PipelineExecutionSteps": page}
    if start + size < len(steps):
        out["NextToken"] = str(start + size)
    return out


def _respond_list_pipeline_execution_steps(self: SageMakerResponse) -> Any:
    from moto.core.responses import ActionResult

    return ActionResult(
        self.sagemaker_backend.list_pipeline_execution_steps(  # type: ignore[attr-defined]
            self._get_param("PipelineExecutionArn"),
            self._get_param("NextToken"),
            self._get_param("MaxResults"),
            self._get_param("SortOrder"),
        )
    )


# ---- StartPipelineExecution's request limits ------------------------------------------------------
# botocore's sagemaker model: PipelineParameterList 0-200 items; PipelineParameter.Name 1-256
# characters matching [A-Za-z0-9\-_]*, Value 0-1024 characters. SageMaker refuses anything
# else with a ValidationException in AWS's usual "N validation error(s) detected" form (the
# value itself left out: it may be a secret, such as a task token).
_PARAMETER_NAME = re.compile(r"^[A-Za-z0-9\-_]*$")


def check_pipeline_parameters(parameters: list[Mapping[str, Any]] | None) -> None:
    """Refuse a StartPipelineExecution whose PipelineParameters break SageMaker's limits."""
    errors: list[str] = []
    parameters = parameters or []
    if len(parameters) > 200:
        errors.append(
            "Value at 'pipelineParameters' failed to satisfy constraint: "
            "Member must have length less than or equal to 200"
        )
    for i, parameter in enumerate(parameters[:200], start=1):
        name, value = str(parameter.get("Name", "")), str(parameter.get("Value", ""))
        if not 1 <= len(name) <= 256 or not _PARAMETER_NAME.match(name):
            errors.append(
                f"Value '{name[:256]}' at 'pipelineParameters.{i}.member.name' failed to satisfy constraint: "
                "Member must have length between 1 and 256 and satisfy regular expression pattern: "
                "[A-Za-z0-9\\-_]*"
            )
        if len(value) > 1024:
            errors.append(
                f"Value at 'pipelineParameters.{i}.member.value' failed to satisfy constraint: "
                f"Member must have length less than or equal to 1024 (parameter {name} has {len(value)} characters)"
            )
    if errors:
        count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: "
        raise ValidationError(message=count + "; ".join(errors))


# ---- describe / stop ----------------------------------------------------------------------------------
def _describe_pipeline_execution(self: SageMakerModelBackend, pipeline_execution_arn: str) -> dict[str, Any]:
    out: dict[str, Any] = original(SageMakerModelBackend, "describe_pipeline_execution")(
        self, pipeline_execution_arn
    )
    execution = get_pipeline_execution_from_arn(self.pipelines, pipeline_execution_arn)
    if execution.pipeline_execution_failure_reason:
        out["FailureReason"] = execution.pipeline_execution_failure_reason
    else:  # moto answers "" always; AWS leaves the field out
        out.pop("FailureReason", None)
    return out


def _stop_pipeline_execution(
    self: SageMakerModelBackend, pipeline_execution_arn: str, client_request_token: str | None = None
) -> dict[str, str]:
    execution = get_pipeline_execution_from_arn(self.pipelines, pipeline_execution_arn)
    status = execution.pipeline_execution_status
    if status in backend_state.PIPELINE_TERMINAL:
        raise ValidationError(
            message=f"Pipeline execution {pipeline_execution_arn} is in terminal state {status} and cannot be stopped."
        )
    if status != "Stopping":
        backend_state.set_pipeline_execution_status(
            self.account_id, self.region_name, pipeline_execution_arn, "Stopping"
        )
    return {"PipelineExecutionArn": pipeline_execution_arn}


def _respond_stop_pipeline_execution(self: SageMakerResponse) -> Any:
    from moto.core.responses import ActionResult

    return ActionResult(
        self.sagemaker_backend.stop_pipeline_execution(  # type: ignore[attr-defined]
            self._get_param("PipelineExecutionArn"), self._get_param("ClientRequestToken")
        )
    )


# ---- jobs ---------------------------------------------------------------------------------------------
def register_job(account_id: str, region: str, kind: str, name: str, request: Mapping[str, Any]) -> str:
    """Register a ProcessingJob or TrainingJob the executor starts (InProgress); returns its ARN."""
    backend = _backend(account_id, region)
    r = copy.deepcopy(dict(request))
    now = datetime.now(UTC)
    if kind == "ProcessingJob":
        job: Any = backend.create_processing_job(
            app_specification=r.get("AppSpecification") or {},
            experiment_config=r.get("ExperimentConfig"),  # type: ignore[arg-type]
            network_config=r.get("NetworkConfig"),  # type: ignore[arg-type]
            processing_inputs=r.get("ProcessingInputs"),  # type: ignore[arg-type]
            processing_job_name=name,
            processing_output_config=r.get("ProcessingOutputConfig"),  # type: ignore[arg-type]
            role_arn=r.get("RoleArn"),  # type: ignore[arg-type]
            tags=r.get("Tags"),  # type: ignore[arg-type]
            stopping_condition=r.get("StoppingCondition"),  # type: ignore[arg-type]
        )
        job.processing_job_status = "InProgress"
        job.processing_start_time = now
        job.processing_end_time = None
        job.processing_resources = r.get("ProcessingResources")
        job.environment = r.get("Environment")
    elif kind == "TrainingJob":
        job = backend.create_training_job(
            training_job_name=name,
            hyper_parameters=r.get("HyperParameters"),  # type: ignore[arg-type]
            algorithm_specification=r.get("AlgorithmSpecification") or {},
            role_arn=r.get("RoleArn"),  # type: ignore[arg-type]
            input_data_config=r.get("InputDataConfig"),  # type: ignore[arg-type]
            output_data_config=r.get("OutputDataConfig"),  # type: ignore[arg-type]
            resource_config=r.get("ResourceConfig"),  # type: ignore[arg-type]
            vpc_config=r.get("VpcConfig"),  # type: ignore[arg-type]
            stopping_condition=r.get("StoppingCondition"),  # type: ignore[arg-type]
            tags=r.get("Tags"),  # type: ignore[arg-type]
            enable_network_isolation=bool(r.get("EnableNetworkIsolation", False)),
            enable_inter_container_traffic_encryption=bool(
                r.get("EnableInterContainerTrafficEncryption", False)
            ),
            enable_managed_spot_training=bool(r.get("EnableManagedSpotTraining", False)),
            checkpoint_config=r.get("CheckpointConfig"),  # type: ignore[arg-type]
            debug_hook_config=r.get("DebugHookConfig"),  # type: ignore[arg-type]
            debug_rule_configurations=r.get("DebugRuleConfigurations"),  # type: ignore[arg-type]
            tensor_board_output_config=r.get("TensorBoardOutputConfig"),  # type: ignore[arg-type]
            experiment_config=r.get("ExperimentConfig"),  # type: ignore[arg-type]
        )
        # moto fills in canned results; a running job has none yet.
        job.algorithm_specification = r.get("AlgorithmSpecification") or {}
        job.training_job_status = "InProgress"
        job.secondary_status = "Training"
        job.training_start_time = now
        job.training_end_time = None
        job.final_metric_data_list = []
        job.secondary_status_transitions = []
        job.model_artifacts = None
        job.environment = r.get("Environment")
    else:
        raise ValueError(f"unknown job kind {kind!r}")
    return str(job.arn)


def finish_job(
    account_id: str,
    region: str,
    kind: str,
    name: str,
    status: str,
    failure_reason: str | None,
    details: Mapping[str, Any],
) -> None:
    backend = _backend(account_id, region)
    now = datetime.now(UTC)
    if kind == "ProcessingJob":
        job: Any = backend.processing_jobs[name]
        job.processing_job_status = status
        job.processing_end_time = now
    else:
        job = backend.training_jobs[name]
        job.training_job_status = status
        job.secondary_status = status
        job.training_end_time = now
        if details.get("ModelArtifacts"):
            job.model_artifacts = dict(details["ModelArtifacts"])
        job.final_metric_data_list = list(details.get("FinalMetricDataList") or [])
    job.last_modified_time = now
    job.failure_reason = failure_reason
    job.exit_message = failure_reason


_ADDITIONS: list[tuple[type, str, Any]] = [
    (SageMakerModelBackend, "list_pipeline_execution_steps", _list_pipeline_execution_steps),
    (SageMakerResponse, "list_pipeline_execution_steps", _respond_list_pipeline_execution_steps),
    (SageMakerModelBackend, "stop_pipeline_execution", _stop_pipeline_execution),
    (SageMakerResponse, "stop_pipeline_execution", _respond_stop_pipeline_execution),
]


def apply() -> None:
    for owner, attribute, function in _ADDITIONS:
        existing = owner.__dict__.get(attribute)
        if existing is not None and existing is not function:
            raise RuntimeError(
                f"moto now implements {owner.__name__}.{attribute}: review "
                "shared/local_cloud/patches/sagemaker_pipelines.py (delete the addition if moto's is complete)"
            )
        setattr(owner, attribute, function)
    replace(SageMakerModelBackend, "describe_pipeline_execution", _describe_pipeline_execution)
