"""Addition: control-plane calls publish hook events, so local workers can do the compute.

- ``glue:StartJobRun``: the run is handed to the ``GlueJobRunStarted`` worker, which sets
  its state (moto would march it to SUCCEEDED on its own). With no worker registered,
  moto's behaviour is kept.
- ``sagemaker:StartPipelineExecution``: moto marks it Succeeded at once and runs nothing;
  with a ``PipelineExecutionStarted`` worker registered it starts ``Executing`` instead and
  the worker runs it. ``ClientRequestToken`` is honoured: a repeated token returns the
  first execution, as on AWS.
- ``sagemaker:CreateModelPackage`` and ``UpdateModelPackage``: emit ``SageMaker Model
  Package State Change`` as AWS does, and publish ``ModelPackageApprovalChanged``; an
  update keeps the approval status and metadata it does not mention (moto clears them).
- ``sagemaker:CreateEndpoint``: publishes ``EndpointDeploymentRequested``.
"""

from __future__ import annotations

import inspect
from typing import Any

from moto.glue.models import FakeJobRun, GlueBackend
from moto.sagemaker.models import SageMakerModelBackend

from shared.local_cloud import events, hooks
from shared.local_cloud.patches import Patch, original, sagemaker_hosting, sagemaker_pipelines

PATCH = Patch(__name__)


# ---- Glue ---------------------------------------------------------------------------------
@PATCH.replaces(GlueBackend, "start_job_run", "86006fa0ebaa0443")
def _start_job_run(
    self: GlueBackend, name: str, arguments: dict[str, str] | None, *args: Any, **kwargs: Any
) -> str:
    run_id: str = original(GlueBackend, "start_job_run")(self, name, arguments, *args, **kwargs)
    registry = hooks.current()
    if registry.has_handler(hooks.GlueJobRunStarted):
        job = self.get_job(name)
        run = job.get_job_run(run_id)
        run.dualloop_state = "RUNNING"  # the worker owns the state from here on
        run.dualloop_error = None
        registry.dispatch(
            hooks.GlueJobRunStarted(
                account_id=self.account_id,
                region=self.region_name,
                job_name=name,
                run_id=run_id,
                arguments=dict(run.arguments or {}),
                script_location=(job.command or {}).get("ScriptLocation"),
            )
        )
    return run_id


def _job_run_status_get(self: FakeJobRun) -> str | None:
    state = getattr(self, "dualloop_state", None)
    return state if state is not None else original(FakeJobRun, "status").fget(self)


def _job_run_status_set(self: FakeJobRun, value: str) -> None:
    original(FakeJobRun, "status").fset(self, value)


PATCH.replaces(FakeJobRun, "status", "9b1d0ea5bd92037e")(property(_job_run_status_get, _job_run_status_set))


@PATCH.replaces(FakeJobRun, "as_dict", "5d9d7de3c586555b")
def _job_run_as_dict(self: FakeJobRun) -> dict[str, Any]:
    out: dict[str, Any] = original(FakeJobRun, "as_dict")(self)
    if getattr(self, "dualloop_state", None) is not None:
        if getattr(self, "dualloop_error", None):
            out["ErrorMessage"] = self.dualloop_error
        if self.dualloop_state in ("STARTING", "RUNNING"):
            out.pop("CompletedOn", None)
    return out


# ---- SageMaker pipelines ------------------------------------------------------------------
@PATCH.replaces(SageMakerModelBackend, "start_pipeline_execution", "823e3c9351e54d39")
def _start_pipeline_execution(
    self: SageMakerModelBackend,
    pipeline_name: str,
    pipeline_execution_display_name: str,
    pipeline_parameters: list[dict[str, Any]],
    pipeline_execution_description: str,
    parallelism_configuration: dict[str, int],
    client_request_token: str,
) -> dict[str, str]:
    sagemaker_pipelines.check_pipeline_parameters(pipeline_parameters)
    pipeline = self.pipelines.get(pipeline_name) or next(
        (p for p in self.pipelines.values() if p.arn == pipeline_name), None
    )
    if pipeline is not None and client_request_token:
        for arn, execution in pipeline.pipeline_executions.items():
            if execution.client_request_token == client_request_token:
                return {"PipelineExecutionArn": arn}
    result: dict[str, str] = original(SageMakerModelBackend, "start_pipeline_execution")(
        self,
        pipeline_name,
        pipeline_execution_display_name,
        pipeline_parameters,
        pipeline_execution_description,
        parallelism_configuration,
        client_request_token,
    )
    registry = hooks.current()
    if registry.has_handler(hooks.PipelineExecutionStarted):
        pipeline = self.pipelines[pipeline.pipeline_name if pipeline else pipeline_name]
        execution = pipeline.pipeline_executions[result["PipelineExecutionArn"]]
        execution.pipeline_execution_status = "Executing"
        events.pipeline_execution_status_change(
            account_id=self.account_id,
            region=self.region_name,
            pipeline_arn=pipeline.arn,
            execution_arn=execution.arn,
            display_name=pipeline_execution_display_name,
            current="Executing",
            previous=None,
            start_time=execution.start_time,
        )
        registry.dispatch(sagemaker_pipelines.started(self, pipeline, execution))
    return result


# ---- Model registry -----------------------------------------------------------------------
def _package_changed(self: SageMakerModelBackend, arn: str, previous: str | None) -> None:
    package = self.model_packages[self.model_package_name_mapping.get(arn, arn)]
    status = package.model_approval_status
    if status == previous:
        return
    change = hooks.ModelPackageApprovalChanged(
        account_id=self.account_id,
        region=self.region_name,
        model_package_arn=package.arn,
        group_name=package.model_package_group_name,
        version=package.model_package_version,
        status=status,
        previous_status=previous,
        description=package.approval_description,
    )
    events.model_package_state_change(change)
    hooks.current().dispatch(change)


@PATCH.replaces(SageMakerModelBackend, "create_model_package", "4ea72cf36a045ca5")
def _create_model_package(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> str:
    arn: str = original(SageMakerModelBackend, "create_model_package")(self, *args, **kwargs)
    _package_changed(self, arn, previous=None)
    return arn


@PATCH.replaces(SageMakerModelBackend, "update_model_package", "97b9da5816c6414b")
def _update_model_package(
    self: SageMakerModelBackend, model_package_arn: str, *args: Any, **kwargs: Any
) -> str:
    key = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
    package = self.model_packages.get(key)
    before = package.model_approval_status if package else None
    metadata_before = dict(package.customer_metadata_properties or {}) if package else {}
    update = (
        inspect.signature(original(SageMakerModelBackend, "update_model_package"))
        .bind(self, model_package_arn, *args, **kwargs)
        .arguments
    )
    arn: str = original(SageMakerModelBackend, "update_model_package")(
        self, model_package_arn, *args, **kwargs
    )
    package = self.model_packages[self.model_package_name_mapping.get(arn, arn)]
    # AWS keeps what a call omits; moto clears the status and replaces the metadata.
    if package.model_approval_status is None:
        package.model_approval_status = before
    removed = set(update.get("customer_metadata_properties_to_remove") or ())
    merged = {**metadata_before, **(update.get("customer_metadata_properties") or {})}
    package.customer_metadata_properties = {k: v for k, v in merged.items() if k not in removed}
    _package_changed(self, arn, previous=before)
    return arn


# ---- Endpoints ----------------------------------------------------------------------------
@PATCH.replaces(SageMakerModelBackend, "create_endpoint", "5474548999156c86")
def _create_endpoint(
    self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, tags: Any
) -> Any:
    endpoint = original(SageMakerModelBackend, "create_endpoint")(
        self, endpoint_name, endpoint_config_name, tags
    )
    registry = hooks.current()
    if registry.has_handler(hooks.EndpointDeploymentRequested):
        endpoint.endpoint_status = "Creating"
        registry.dispatch(
            sagemaker_hosting.deployment_requested(self, endpoint_name, endpoint_config_name, None)
        )
    return endpoint
