"""Addition: Step Functions' optimized SageMaker integration for jobs (``.sync`` and
request/response).

moto 5.2.5 lists ``sagemaker`` in ``_UNSUPPORTED_SERVICE_NAMES`` (``state_task_service_factory.py``):
its optimized tasks are forwarded as plain SDK calls, and ``.sync`` fails with
``Unsupported .sync callback procedure``. This adds the service for the four job APIs, as the
Step Functions developer guide describes it ("Create and manage Amazon SageMaker AI jobs with
Step Functions", connect-sagemaker.html):

- ``arn:aws:states:::sagemaker:createProcessingJob``, ``createTrainingJob``,
  ``createTransformJob``, ``createHyperParameterTuningJob``, each also ``.sync``; the
  ``Parameters`` are the API request in its own PascalCase;
- request/response: the state's result is the Create* response (the job's ARN);
- ``.sync``: the task polls Describe* until the job ends; ``Completed`` makes the Describe*
  output the state's result. Stopping the execution stops the job (Stop*Job), as Step
  Functions does for the jobs its ``.sync`` tasks run. A job that ends ``Failed`` or ``Stopped`` fails the task with
  ``States.TaskFailed`` and the Describe* output (with its ``FailureReason``) as the cause, as
  Step Functions' other ``.sync`` job integrations do (moto's Glue one mirrors it);
- an error of the Create* call itself is ``SageMaker.<Code>Exception`` for the errors
  botocore's model lists (``SageMaker.ResourceInUseException``,
  ``SageMaker.ResourceLimitExceededException``) and ``SageMaker.AmazonSageMakerException``
  for the rest (validation, throttling), the names AWS's own sample state machines retry on.

The other optimized SageMaker APIs (``createModel``, ``createEndpoint`` ...) keep moto's
behaviour: forwarded as SDK calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_factory as factory_module,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from shared.local_cloud.patches import Patch, original
from shared.local_cloud.patches.sfn_aws_sdk_responses import as_json_value

LOG = logging.getLogger(__name__)

# The job APIs this integration runs: the Describe* call and status field of each.
JOBS: dict[str, tuple[str, str, str]] = {
    "create_processing_job": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus"),
    "create_training_job": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "create_transform_job": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
    "create_hyper_parameter_tuning_job": (
        "describe_hyper_parameter_tuning_job",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
    ),
}
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
# Errors botocore's SageMaker model lists for the Create*Job operations.
MODELED_ERRORS = frozenset({"ResourceInUse", "ResourceLimitExceeded", "ResourceNotFound"})


PATCH = Patch(__name__)


def error_name(error_code: str) -> str:
    if error_code in MODELED_ERRORS:
        return f"SageMaker.{error_code}Exception"
    return "SageMaker.AmazonSageMakerException"


class StateTaskServiceSageMaker(StateTaskServiceCallback):
    """``arn:aws:states:::sagemaker:create*Job[.sync]``."""

    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync})

    def _get_supported_parameters(self) -> set[str] | None:
        return None  # every member of the API request, as the API defines it

    def _validate_service_integration_is_supported(self) -> None:
        # Step Functions' SageMaker integration has no .waitForTaskToken, and .sync only for jobs.
        condition = self.resource.condition
        if condition is not None and (condition != ResourceCondition.Sync or not self._is_job()):
            raise ValueError(
                f"Step Functions' SageMaker integration does not support {condition} for "
                f"{self.resource.resource_arn}"
            )

    def _is_job(self) -> bool:
        return self._get_boto_service_action() in JOBS

    def _client(self, region: str, credentials: Any) -> Any:
        return boto_client_for(service="sagemaker", region=region, state_credentials=credentials)

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            name = error_name(str(ex.response["Error"]["Code"]))
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(name),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=name,
                        cause=str(ex.response["Error"].get("Message", "")),
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        return super()._from_error(env=env, ex=ex)  # type: ignore[no-any-return]

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        action = self._get_boto_service_action()
        client = self._client(resource_runtime_part.region, state_credentials)
        response = getattr(client, action)(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        # createModel, createEndpoint ...: forwarded as the API call, as moto did before.
        env.stack.append(as_json_value(response))

    def _build_sync_resolver(
        self,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> Callable[[], Any]:
        env.stack.pop()  # the Create* response; the result of a .sync task is the Describe* output
        describe, name_key, status_key = JOBS[self._get_boto_service_action()]
        client = self._client(resource_runtime_part.region, state_credentials)
        name = normalised_parameters[name_key]
        stop_action = describe.replace("describe_", "stop_", 1)

        def stop_job() -> None:
            try:
                getattr(client, stop_action)(**{name_key: name})
            except ClientError as exc:  # it ended meanwhile
                LOG.debug("%s %s: %s", stop_action, name, exc)

        def resolve() -> Any:
            description = getattr(client, describe)(**{name_key: name})
            description.pop("ResponseMetadata", None)
            status = description[status_key]
            if status not in TERMINAL:
                return None
            output = as_json_value(description)
            if status == "Completed":
                return output
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=to_json_str(output),
                        )
                    ),
                )
            )

        resolve.stop_job = stop_job  # type: ignore[attr-defined]
        return resolve

    def _eval_sync(self, env: Any, sync_resolver: Any, *args: Any, **kwargs: Any) -> Any:
        outcome = super()._eval_sync(env, sync_resolver, *args, **kwargs)
        if not env.is_running() and sync_resolver is not None:  # the execution was stopped
            sync_resolver.stop_job()
        return outcome


@PATCH.replaces(factory_module, "state_task_service_for", "a21a16afc5f63679")
def _state_task_service_for(service_name: str) -> StateTaskService:
    if service_name == "sagemaker":
        return StateTaskServiceSageMaker()
    return original(factory_module, "state_task_service_for")(service_name)  # type: ignore[no-any-return]


def apply() -> None:
    # state_task_factory imported the function by name: point that name here too.
    state_task_factory.state_task_service_for = _state_task_service_for  # type: ignore[attr-defined]
