"""The EventBridge events the relays and the drift trigger consume: powertools' ``EventBridgeModel``
envelope (version, id, source, account, time, region, resources, detail-type) with each event's
``detail`` typed here, in AWS's own field names.

Every event model lives in this module, which handlers import as a package module, so pydantic
resolves the postponed annotations whatever loads the handler. A malformed event is refused with
one sentence naming the event and its fields at fault (``MalformedEvent``): the invocation fails,
and the retries and the dead-letter queue (infra/constructs/dead_letters.py) keep the event.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Literal, TypeVar

from aws_lambda_powertools.utilities.parser import parse as parse_event
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, ValidationError

_MAX_LISTED = 4  # fields named in a malformed event's sentence; the rest are counted


class _Detail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    DETAIL_TYPE: ClassVar[str]  # the event's ``detail-type``, for the sentence of a malformed one


D = TypeVar("D", bound=_Detail)


class PipelineStatusChange(_Detail):
    DETAIL_TYPE = "SageMaker Model Building Pipeline Execution Status Change"

    pipeline_arn: str = Field(alias="pipelineArn")
    pipeline_execution_arn: str = Field(alias="pipelineExecutionArn")
    current_status: Literal["Executing", "Stopping", "Stopped", "Failed", "Succeeded"] = Field(
        alias="currentPipelineExecutionStatus"
    )
    previous_status: str | None = Field(default=None, alias="previousPipelineExecutionStatus")

    @property
    def pipeline_name(self) -> str:
        return self.pipeline_arn.rsplit("/", 1)[-1]

    @property
    def is_terminal(self) -> bool:
        return self.current_status in ("Stopped", "Failed", "Succeeded")


class ModelPackageStateChange(_Detail):
    DETAIL_TYPE = "SageMaker Model Package State Change"

    group_name: str = Field(alias="ModelPackageGroupName")
    version: int = Field(alias="ModelPackageVersion")
    model_package_arn: str = Field(alias="ModelPackageArn")
    approval_status: Literal["Approved", "Rejected", "PendingManualApproval"] = Field(
        alias="ModelApprovalStatus"
    )
    description: str | None = Field(default=None, alias="ApprovalDescription")


class ExecutionStatusChange(_Detail):
    DETAIL_TYPE = "Step Functions Execution Status Change"

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str | None = None
    # A string, not a Literal: a status AWS adds later (PENDING_REDRIVE, ...) is ignored, not an error.
    status: str
    start_date: int | None = Field(default=None, alias="startDate")
    stop_date: int | None = Field(default=None, alias="stopDate")


class AlarmState(_Detail):
    value: str
    reason: str | None = None
    timestamp: str


class AlarmStateChange(_Detail):
    DETAIL_TYPE = "CloudWatch Alarm State Change"

    alarm_name: str = Field(alias="alarmName")
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: dict[str, Any] = Field(default_factory=dict)


class Envelope(EventBridgeModel, Generic[D]):
    """powertools' EventBridge envelope, its ``detail`` typed."""

    detail: D


class MalformedEvent(ValueError):
    """The event is not the EventBridge event the handler consumes."""


def parse(model: type[D], raw: dict[str, Any]) -> Envelope[D]:
    """``raw`` as an event whose detail is ``model`` (powertools' parser); a malformed event raises
    ``MalformedEvent``."""
    try:
        return parse_event(event=raw, model=Envelope[model])  # type: ignore[valid-type]
    except ValidationError as exc:
        raise MalformedEvent(_sentence(model.DETAIL_TYPE, exc)) from exc


def _sentence(detail_type: str, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    fields = [
        f"{'.'.join(str(part) for part in e['loc'])} ({e['msg'][:1].lower()}{e['msg'][1:]})" for e in errors
    ]
    listed = ", ".join(fields[:_MAX_LISTED])
    more = f" and {len(fields) - _MAX_LISTED} more" if len(fields) > _MAX_LISTED else ""
    return f"Not a well-formed {detail_type!r} EventBridge event: {listed}{more}."
