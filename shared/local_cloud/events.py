"""Put AWS-shaped service events on the local cloud's default bus.

AWS services emit these events themselves; moto emits none of them (but S3's), so the
local workers call these helpers where the managed service would emit. Names and detail
fields are AWS's own (see AWS_FACTS.md); rules and targets then run as on AWS.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.local_cloud.hooks import ModelPackageApprovalChanged

PIPELINE_STATUS = "SageMaker Model Building Pipeline Execution Status Change"
PIPELINE_STEP_STATUS = "SageMaker Model Building Pipeline Execution Step Status Change"
MODEL_PACKAGE_STATE = "SageMaker Model Package State Change"
ENDPOINT_STATE = "SageMaker Endpoint State Change"
ALARM_STATE = "CloudWatch Alarm State Change"


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    # moto keeps naive UTC datetimes
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def emit(
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    *,
    resources: list[str],
    account_id: str,
    region: str,
) -> str:
    """Deliver one event to every matching rule of the default bus; returns its id."""
    from moto.events.models import events_backends

    event_id = str(uuid.uuid4())
    now = datetime.now(UTC).timestamp()
    backend = events_backends[account_id][region]
    for rule in list(backend.describe_event_bus("default").rules.values()):
        rule.send_to_targets(
            {
                "version": "0",
                "id": event_id,
                "detail-type": detail_type,
                "source": source,
                "account": account_id,
                "time": now,
                "region": region,
                "resources": resources,
                # Round-trip through JSON: targets get plain data, as from the wire.
                "detail": json.loads(json.dumps(detail, default=str)),
                "ingestion-time": now,
            }
        )
    return event_id


def pipeline_execution_status_change(
    *,
    account_id: str,
    region: str,
    pipeline_arn: str,
    execution_arn: str,
    display_name: str | None,
    current: str,
    previous: str | None,
    start_time: datetime | None,
    end_time: datetime | None = None,
) -> str:
    return emit(
        "aws.sagemaker",
        PIPELINE_STATUS,
        {
            "pipelineExecutionDisplayName": display_name,
            "currentPipelineExecutionStatus": current,
            "previousPipelineExecutionStatus": previous,
            "executionStartTime": _iso(start_time),
            "executionEndTime": _iso(end_time),
            "pipelineExecutionDescription": "",
            "pipelineArn": pipeline_arn,
            "pipelineExecutionArn": execution_arn,
        },
        resources=[pipeline_arn, execution_arn],
        account_id=account_id,
        region=region,
    )


def pipeline_step_status_change(
    *,
    account_id: str,
    region: str,
    pipeline_arn: str,
    execution_arn: str,
    step_name: str,
    step_type: str,
    current: str,
    previous: str | None,
    start_time: datetime | None,
    end_time: datetime | None = None,
    cache_hit_execution_arn: str | None = None,
    failure_reason: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> str:
    detail: dict[str, Any] = {
        "stepName": step_name,
        "stepType": step_type,
        "currentStepStatus": current,
        "previousStepStatus": previous,
        "stepStartTime": _iso(start_time),
        "stepEndTime": _iso(end_time),
        "pipelineArn": pipeline_arn,
        "pipelineExecutionArn": execution_arn,
        "metadata": metadata or {},
    }
    if cache_hit_execution_arn:
        detail["cacheHitResult"] = {"sourcePipelineExecutionArn": cache_hit_execution_arn}
    if failure_reason:
        detail["failureReason"] = failure_reason
    return emit(
        "aws.sagemaker",
        PIPELINE_STEP_STATUS,
        detail,
        resources=[pipeline_arn, execution_arn],
        account_id=account_id,
        region=region,
    )


def model_package_state_change(change: ModelPackageApprovalChanged) -> str:
    """What AWS emits when a model package is registered or its approval changes."""
    return emit(
        "aws.sagemaker",
        MODEL_PACKAGE_STATE,
        {
            "ModelPackageGroupName": change.group_name,
            "ModelPackageVersion": change.version,
            "ModelPackageArn": change.model_package_arn,
            "ModelApprovalStatus": change.status,
            "ApprovalDescription": change.description,
            "CreationTime": _iso(datetime.now(UTC)),
        },
        resources=[change.model_package_arn],
        account_id=change.account_id,
        region=change.region,
    )


def alarm_state_change(
    *,
    account_id: str,
    region: str,
    alarm_name: str,
    alarm_arn: str,
    current: str,
    previous: str,
    reason: str,
    configuration: dict[str, Any] | None = None,
) -> str:
    now = _iso(datetime.now(UTC))
    return emit(
        "aws.cloudwatch",
        ALARM_STATE,
        {
            "alarmName": alarm_name,
            "state": {"value": current, "reason": reason, "timestamp": now},
            "previousState": {"value": previous, "timestamp": now},
            "configuration": configuration or {},
        },
        resources=[alarm_arn],
        account_id=account_id,
        region=region,
    )
