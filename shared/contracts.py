"""Typed contracts at the edges between the loops: what starts the outer loop, and what
the relay handlers hand back to it.

Every starter (``dualloop run``, the EventBridge rules CDK deploys, a person in the
console) gives the state machine a ``RetrainInput``. Settings travel in the input rather
than in the ASL so the ASL keeps ``${...}`` placeholders for resource names only.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.config import DualloopConfig, FrozenModel, TrafficType
from shared.naming import Names

Trigger = Literal["manual", "schedule", "drift", "new-data"]


class RetrainSettings(FrozenModel):
    pipeline_timeout_seconds: int
    pipeline_check_seconds: int
    max_pipeline_checks: int
    approval_timeout_seconds: int
    inference_instance_type: str
    inference_instance_count: int
    deployment_config: dict[str, Any]
    poll_interval_seconds: int
    max_polls: int

    @classmethod
    def from_config(cls, cfg: DualloopConfig) -> RetrainSettings:
        return cls(
            pipeline_timeout_seconds=cfg.pipeline_timeout_seconds,
            pipeline_check_seconds=min(cfg.pipeline_check_interval_seconds, cfg.pipeline_timeout_seconds),
            # RunInnerPipeline waits at most this many check intervals: the pipeline timeout.
            max_pipeline_checks=max(
                1, math.ceil(cfg.pipeline_timeout_seconds / cfg.pipeline_check_interval_seconds)
            ),
            approval_timeout_seconds=cfg.approval_timeout_seconds,
            inference_instance_type=cfg.instances.inference_instance_type,
            inference_instance_count=cfg.instances.inference_instance_count,
            deployment_config=deployment_config(cfg),
            poll_interval_seconds=cfg.deployment.poll_interval_seconds,
            max_polls=cfg.deployment.max_polls,
        )


class RetrainInput(FrozenModel):
    """The outer loop's execution input."""

    trigger: Trigger = "manual"
    raw_uri: str = Field(pattern=r"^s3://[a-z0-9.-]{3,63}/.*$")
    reason: dict[str, Any] = Field(default_factory=dict)
    settings: RetrainSettings

    @classmethod
    def for_config(
        cls, cfg: DualloopConfig, *, trigger: Trigger = "manual", raw_uri: str | None = None, **reason: Any
    ) -> RetrainInput:
        names = Names(cfg)
        return cls(
            trigger=trigger,
            raw_uri=raw_uri or f"s3://{names.raw_bucket}/{cfg.raw_prefix}",
            reason=reason,
            settings=RetrainSettings.from_config(cfg),
        )


def event_target_input(cfg: DualloopConfig, trigger: Trigger, reason_paths: dict[str, str]) -> dict[str, Any]:
    """An EventBridge target's ``InputTransformer`` that turns an event into a RetrainInput.

    ``reason_paths`` maps reason fields to JSONPaths in the event (e.g. the alarm name);
    placeholders stand unquoted, so EventBridge inserts each value as JSON. CDK and the
    local cloud deploy the very same transformer.
    """
    body = RetrainInput.for_config(cfg, trigger=trigger).model_dump(mode="json")
    body["reason"] = {key: f"__{key}__" for key in reason_paths}
    template = json.dumps(body)
    for key in reason_paths:
        template = template.replace(f'"__{key}__"', f"<{key}>")
    return {"InputPathsMap": dict(reason_paths), "InputTemplate": template}


def deployment_config(cfg: DualloopConfig) -> dict[str, Any]:
    """UpdateEndpoint's ``DeploymentConfig`` (blue/green with auto-rollback) from config."""
    d = cfg.deployment
    routing: dict[str, Any] = {"Type": d.traffic_type.value, "WaitIntervalInSeconds": d.wait_interval_seconds}
    if d.traffic_type is TrafficType.CANARY:
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": d.canary_percent}
    elif d.traffic_type is TrafficType.LINEAR:
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": d.linear_step_percent}
    names = Names(cfg)
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": d.termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": d.max_execution_timeout_seconds,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in names.endpoint_alarms]},
    }


class PipelineOutcome(FrozenModel):
    """What the pipeline relay sends back to ``RunInnerPipeline`` on success."""

    pipeline_execution_arn: str
    model_package_arn: str
    model_package_version: int
    metrics: dict[str, float]


class MetricValue(BaseModel):
    """One metric of SageMaker's model-quality statistics: its value and bootstrap spread."""

    model_config = ConfigDict(frozen=True)
    value: float
    standard_deviation: float | None = None


class EvaluationReport(BaseModel):
    """evaluation.json, the Evaluate step's report and the Model Registry's ModelQuality
    statistics, in Model Monitor's model-quality metrics layout: one section per problem type
    (docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html)."""

    # Other keys (flat copies of the values, row counts, a confusion matrix) are allowed.
    model_config = ConfigDict(extra="allow", frozen=True)
    binary_classification_metrics: dict[str, Any] | None = None
    multiclass_classification_metrics: dict[str, Any] | None = None
    regression_metrics: dict[str, Any] | None = None

    def metrics(self) -> dict[str, float]:
        """Every ``{"value": ...}`` metric of the section present (a confusion matrix is not one)."""
        for section in (
            self.binary_classification_metrics,
            self.multiclass_classification_metrics,
            self.regression_metrics,
        ):
            if section is not None:
                return {
                    name: MetricValue.model_validate(m).value
                    for name, m in section.items()
                    if isinstance(m, dict) and "value" in m
                }
        return {}


class ApprovalOutcome(FrozenModel):
    """What the approval relay sends back to ``AwaitApproval`` on approval."""

    model_package_arn: str
    approval_status: Literal["Approved"]
    approved_by: str | None = None
    description: str | None = None
