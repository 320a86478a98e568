"""Addition: the pipeline-execution APIs moto 5.2.5 lacks, and the jobs a pipeline runs.
(Over 400 lines: one addition per API family, as the patches are laid out; its sections follow the API.)

- ``ListPipelineExecutionSteps`` (missing in moto): answers from the step records the local
  pipeline executor stores with ``put_execution_step``, in AWS's shape; newest first by
  start time (``SortOrder`` Descending, AWS's default), paginated with MaxResults/NextToken.
- ``StartPipelineExecution``'s request limits (``check_pipeline_parameters``, called where the
  local cloud handles the call, ``control_plane``): parameter values over 1,024 characters,
  bad names, more than 200 parameters are a ValidationException, as on AWS.
- ``DescribePipelineExecution``: moto always answers ``FailureReason: ""``; it now carries the
  execution's failure reason, and is left out when there is none, as on AWS.
- ``ListPipelineExecutions``: moto gives every summary ``PipelineExecutionFailureReason: "None"``
  (``str(None)``); only a failed execution's summary carries its reason now, as on AWS.
- ``StopPipelineExecution`` (missing): an Executing execution becomes Stopping (with the
  status-change event); the executor sees it, stops its jobs and ends the execution Stopped.
  Stopping an execution that has ended is a ValidationException, as on AWS.
- ``RetryPipelineExecution`` (missing): a Failed execution becomes Executing again and is
  handed to the pipeline worker once more (``PipelineExecutionStarted`` with the same ARN),
  which re-runs it from the failed steps, reusing the steps that succeeded.
- ``StartPipelineExecution`` with ``SelectiveExecutionConfig`` (moto drops it): the config is
  checked (the source execution must be one of this pipeline's, steps must be named) and
  kept by ClientRequestToken for the pipeline worker (``selective_config``), which runs only
  the selected steps, reusing the source execution's outputs for the others.
- ``register_job`` / ``finish_job``: the processing, training, tuning and transform jobs the
  executor runs are registered in moto's backend, so DescribeProcessingJob /
  DescribeTrainingJob / DescribeHyperParameterTuningJob / DescribeTransformJob answer for the
  ARNs in the steps' metadata with the real status and failure reason.
- ``ListTrainingJobsForHyperParameterTuningJob`` (missing): a tuning job's trials, as the
  tuning step recorded them.

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

from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
from moto.sagemaker.models import FakePipelineExecution, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import get_pipeline_execution_from_arn, get_pipeline_from_name

from shared.local_cloud import backend_state, hooks
from shared.local_cloud.patches import Patch, original

STEPS_ATTRIBUTE = "dualloop_steps"
TRIALS_ATTRIBUTE = "dualloop_training_job_summaries"
_lock = threading.Lock()


PATCH = Patch(__name__)


def _backend(account_id: str, region: str) -> SageMakerModelBackend:
    return sagemaker_backends[account_id][region]


# ---- step records (written by the executor's observer) ---------------------------------------------
def put_execution_step(account_id: str, region: str, execution_arn: str, step: Mapping[str, Any]) -> None:
    """Insert or replace (by StepName) one ``PipelineExecutionStep`` of an execution."""
    _, execution = backend_state.pipeline_execution(account_id, region, execution_arn)
    with _lock:
        steps: dict[str, dict[str, Any]] = execution.__dict__.setdefault(STEPS_ATTRIBUTE, {})
        steps[str(step["StepName"])] = copy.deepcopy(dict(step))


@PATCH.adds(SageMakerModelBackend, "list_pipeline_execution_steps")
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
    return _page(steps, "PipelineExecutionSteps", next_token, max_results, default_size=50)


def _page(
    items: list[Any], key: str, next_token: str | None, max_results: int | None, default_size: int
) -> dict[str, Any]:
    """One page of a list API's answer; its NextToken is where the next page starts."""
    start = int(next_token or 0)
    size = int(max_results or default_size)
    out: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


PATCH.adds_response(
    SageMakerResponse,
    "list_pipeline_execution_steps",
    "PipelineExecutionArn",
    "NextToken",
    "MaxResults",
    "SortOrder",
)


# ---- selective execution ------------------------------------------------------------------------------
_selective: dict[str, dict[str, Any]] = {}


def selective_config(client_request_token: str | None) -> dict[str, Any] | None:
    """The SelectiveExecutionConfig the execution with this token was started with (once)."""
    if not client_request_token:
        return None
    with _lock:
        return _selective.pop(client_request_token, None)


@PATCH.replaces(SageMakerResponse, "start_pipeline_execution", "8882a634bed673e4")
def _respond_start_pipeline_execution(self: SageMakerResponse) -> Any:
    config = self._get_param("SelectiveExecutionConfig")
    if config:
        token = self._get_param("ClientRequestToken")
        pipeline_name = str(self._get_param("PipelineName")).rsplit("/", 1)[-1]
        source = str(config.get("SourcePipelineExecutionArn") or "")
        pipeline = self.sagemaker_backend.pipelines.get(pipeline_name)
        if pipeline is None or source not in pipeline.pipeline_executions:
            raise ValidationError(
                message=f"SourcePipelineExecutionArn {source!r} is not an execution of pipeline {pipeline_name}"
            )
        if not config.get("SelectedSteps") or not token:
            raise ValidationError(
                message="SelectiveExecutionConfig needs SelectedSteps and a ClientRequestToken"
            )
        with _lock:
            _selective[str(token)] = copy.deepcopy(dict(config))
    return original(SageMakerResponse, "start_pipeline_execution")(self)


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
@PATCH.replaces(SageMakerModelBackend, "describe_pipeline_execution", "8fc1fbb36d60a56d")
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


@PATCH.replaces(SageMakerModelBackend, "list_pipeline_executions", "dd8fc31a2b2932d5")
def _list_pipeline_executions(self: SageMakerModelBackend, pipeline_name: str) -> dict[str, Any]:
    """moto writes ``str(None)``, the text "None", as every summary's failure reason; AWS gives
    ``PipelineExecutionFailureReason`` only for an execution that failed."""
    out: dict[str, Any] = original(SageMakerModelBackend, "list_pipeline_executions")(self, pipeline_name)
    pipeline = get_pipeline_from_name(self.pipelines, pipeline_name)
    for summary in out["PipelineExecutionSummaries"]:
        reason = pipeline.pipeline_executions[
            summary["PipelineExecutionArn"]
        ].pipeline_execution_failure_reason
        if reason:
            summary["PipelineExecutionFailureReason"] = reason
        else:
            summary.pop("PipelineExecutionFailureReason", None)
    return out


@PATCH.adds(SageMakerModelBackend, "stop_pipeline_execution")
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


PATCH.adds_response(
    SageMakerResponse, "stop_pipeline_execution", "PipelineExecutionArn", "ClientRequestToken"
)


@PATCH.adds(SageMakerModelBackend, "retry_pipeline_execution")
def _retry_pipeline_execution(
    self: SageMakerModelBackend,
    pipeline_execution_arn: str,
    client_request_token: str | None = None,
    parallelism_configuration: dict[str, int] | None = None,
) -> dict[str, str]:
    try:
        pipeline, execution = backend_state.pipeline_execution(
            self.account_id, self.region_name, pipeline_execution_arn
        )
    except KeyError:
        raise ResourceNotFound(
            message=f"Pipeline execution {pipeline_execution_arn} does not exist."
        ) from None
    registry = hooks.current()
    if not registry.has_handler(hooks.PipelineExecutionStarted):
        raise ValidationError(
            message="the local cloud runs no pipeline executions (no pipeline worker attached)"
        )
    status = execution.pipeline_execution_status
    if status != "Failed":
        raise ValidationError(
            message=f"Pipeline execution {pipeline_execution_arn} is {status}; only a Failed execution can be retried."
        )
    if parallelism_configuration:
        execution.parallelism_configuration = parallelism_configuration
    backend_state.set_pipeline_execution_status(
        self.account_id, self.region_name, pipeline_execution_arn, "Executing"
    )
    registry.dispatch(started(self, pipeline, execution))
    return {"PipelineExecutionArn": pipeline_execution_arn}


def started(backend: SageMakerModelBackend, pipeline: Any, execution: Any) -> hooks.PipelineExecutionStarted:
    """The hook that hands an Executing execution to the pipeline worker (on start and retry)."""
    return hooks.PipelineExecutionStarted(
        account_id=backend.account_id,
        region=backend.region_name,
        pipeline_name=pipeline.pipeline_name,
        execution_arn=execution.arn,
        definition=execution.pipeline_definition_for_execution,
        parameters={p["Name"]: p["Value"] for p in execution.pipeline_parameters or []},
        display_name=execution.pipeline_execution_display_name,
    )


PATCH.adds_response(
    SageMakerResponse,
    "retry_pipeline_execution",
    "PipelineExecutionArn",
    "ClientRequestToken",
    "ParallelismConfiguration",
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
    elif kind == "HyperParameterTuningJob":
        backend.create_hyper_parameter_tuning_job(
            hyper_parameter_tuning_job_name=name,
            hyper_parameter_tuning_job_config=r.get("HyperParameterTuningJobConfig") or {},
            training_job_definition=r.get("TrainingJobDefinition"),
            training_job_definitions=r.get("TrainingJobDefinitions"),
            warm_start_config=r.get("WarmStartConfig"),
            tags=r.get("Tags"),
            autotune=r.get("Autotune"),
        )
        job = backend.hyper_parameter_tuning_jobs[name]
        # moto fills in a canned best job and counters; a running tuning job has none yet.
        job.hyper_parameter_tuning_job_status = "InProgress"
        job.hyper_parameter_tuning_end_time = None
        job.best_training_job = None
        job.OverallBestTrainingJob = None
        job.consumed_resources = {}
        job.training_job_status_counters = {
            k: 0 for k in ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped")
        }
        job.objective_status_counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
        job.__dict__[TRIALS_ATTRIBUTE] = []
    elif kind == "TransformJob":
        job = backend.create_transform_job(
            transform_job_name=name,
            model_name=r.get("ModelName"),  # type: ignore[arg-type]
            max_concurrent_transforms=r.get("MaxConcurrentTransforms"),  # type: ignore[arg-type]
            model_client_config=r.get("ModelClientConfig"),  # type: ignore[arg-type]
            max_payload_in_mb=r.get("MaxPayloadInMB"),  # type: ignore[arg-type]
            batch_strategy=r.get("BatchStrategy"),  # type: ignore[arg-type]
            environment=r.get("Environment"),  # type: ignore[arg-type]
            transform_input=r.get("TransformInput") or {},
            transform_output=r.get("TransformOutput") or {},
            data_capture_config=r.get("DataCaptureConfig"),  # type: ignore[arg-type]
            transform_resources=r.get("TransformResources") or {},
            data_processing=r.get("DataProcessing"),  # type: ignore[arg-type]
            tags=r.get("Tags"),  # type: ignore[arg-type]
            experiment_config=r.get("ExperimentConfig"),  # type: ignore[arg-type]
        )
        job.transform_job_status = "InProgress"
        job.transform_start_time = now
        job.transform_end_time = None
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
    elif kind == "HyperParameterTuningJob":
        job = backend.hyper_parameter_tuning_jobs[name]
        job.hyper_parameter_tuning_job_status = status
        job.hyper_parameter_tuning_end_time = now
        job.best_training_job = _with_datetimes(details.get("BestTrainingJob"))
        job.OverallBestTrainingJob = job.best_training_job
        job.training_job_status_counters = dict(
            details.get("TrainingJobStatusCounters") or job.training_job_status_counters
        )
        job.objective_status_counters = dict(
            details.get("ObjectiveStatusCounters") or job.objective_status_counters
        )
        job.__dict__[TRIALS_ATTRIBUTE] = [
            _with_datetimes(t) for t in details.get("TrainingJobSummaries") or []
        ]
        job.last_modified_time = now
        job.failure_reason = failure_reason or ""
        return
    elif kind == "TransformJob":
        job = backend.transform_jobs[name]
        job.transform_job_status = status
        job.transform_end_time = now
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


_TIME_FIELDS = ("CreationTime", "TrainingStartTime", "TrainingEndTime")


def set_tuning_trials(account_id: str, region: str, name: str, summaries: list[Mapping[str, Any]]) -> None:
    """The training jobs a (standalone) tuning job ran, for ListTrainingJobsForHyperParameterTuningJob."""
    job = _backend(account_id, region).hyper_parameter_tuning_jobs[name]
    job.__dict__[TRIALS_ATTRIBUTE] = [_with_datetimes(t) for t in summaries]


def _with_datetimes(summary: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A training job summary with its ISO times as datetimes (moto serializes timestamps)."""
    if summary is None:
        return None
    out = dict(summary)
    for key in _TIME_FIELDS:
        if isinstance(out.get(key), str):
            out[key] = datetime.fromisoformat(str(out[key]).replace("Z", "+00:00"))
    return out


@PATCH.adds(SageMakerModelBackend, "list_training_jobs_for_hyper_parameter_tuning_job")
def _list_training_jobs_for_tuning_job(
    self: SageMakerModelBackend,
    hyper_parameter_tuning_job_name: str,
    next_token: str | None = None,
    max_results: int | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
    status_equals: str | None = None,
) -> dict[str, Any]:
    job = self.hyper_parameter_tuning_jobs.get(hyper_parameter_tuning_job_name)
    if job is None:
        raise ValidationError(
            message=f"Could not find hyper parameter tuning job '{hyper_parameter_tuning_job_name}'."
        )
    trials = [copy.deepcopy(t) for t in job.__dict__.get(TRIALS_ATTRIBUTE, [])]
    if status_equals:
        trials = [t for t in trials if t.get("TrainingJobStatus") == status_equals]
    by = sort_by or "CreationTime"
    descending = (sort_order or "Descending") == "Descending"
    if by == "FinalObjectiveMetricValue":
        # Trials without an objective go last either way (the API reference: "sorted by ... objective").
        scored = [t for t in trials if "FinalHyperParameterTuningJobObjectiveMetric" in t]
        scored.sort(
            key=lambda t: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], reverse=descending
        )
        trials = scored + [t for t in trials if "FinalHyperParameterTuningJobObjectiveMetric" not in t]
    else:
        field_name = {"Name": "TrainingJobName", "Status": "TrainingJobStatus"}.get(by, "CreationTime")
        trials.sort(key=lambda t: t.get(field_name) or "", reverse=descending)
    return _page(trials, "TrainingJobSummaries", next_token, max_results, default_size=10)


PATCH.adds_response(
    SageMakerResponse,
    "list_training_jobs_for_hyper_parameter_tuning_job",
    "HyperParameterTuningJobName",
    "NextToken",
    "MaxResults",
    "SortBy",
    "SortOrder",
    "StatusEquals",
)
