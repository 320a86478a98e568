"""Typed EventBridge payloads the relays consume (field names are AWS's own)."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

D = TypeVar("D", bound=BaseModel)


class _Detail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PipelineStatusChange(_Detail):
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
    group_name: str = Field(alias="ModelPackageGroupName")
    version: int = Field(alias="ModelPackageVersion")
    model_package_arn: str = Field(alias="ModelPackageArn")
    approval_status: Literal["Approved", "Rejected", "PendingManualApproval"] = Field(
        alias="ModelApprovalStatus"
    )
    description: str | None = Field(default=None, alias="ApprovalDescription")


class Event(BaseModel, Generic[D]):
    """An EventBridge event envelope."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    id: str
    source: str
    detail_type: str = Field(alias="detail-type")
    detail: D
    resources: list[str] = Field(default_factory=list)


def parse(model: type[D], raw: dict[str, Any]) -> Event[D]:
    return Event[model].model_validate(raw)  # type: ignore[valid-type]
