"""EventBridge events as AWS delivers them, for the tests that feed the relays and triggers.

Each builder returns the whole envelope (version, id, source, account, time, region, resources,
detail-type, detail) that ``outer_orchestrator.handlers.events`` parses, with a fresh id.
"""

from __future__ import annotations

import uuid
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
TIME = "2026-11-24T08:00:00Z"


def eventbridge_event(
    source: str, detail_type: str, detail: dict[str, Any], resources: list[str] | None = None
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": TIME,
        "region": REGION,
        "resources": resources or [],
        "detail": detail,
    }


def model_package_event(arn: str, status: str, group: str, description: str | None = None) -> dict[str, Any]:
    """``SageMaker Model Package State Change`` for package ``arn`` now ``status``."""
    detail = {
        "ModelPackageGroupName": group,
        "ModelPackageVersion": 1,
        "ModelPackageArn": arn,
        "ModelApprovalStatus": status,
        "ApprovalDescription": description,
    }
    return eventbridge_event("aws.sagemaker", "SageMaker Model Package State Change", detail, [arn])


def pipeline_event(execution_arn: str, status: str) -> dict[str, Any]:
    """``SageMaker Model Building Pipeline Execution Status Change``: ``execution_arn`` ended ``status``."""
    detail = {
        "pipelineArn": execution_arn.split("/execution/", maxsplit=1)[0],
        "pipelineExecutionArn": execution_arn,
        "currentPipelineExecutionStatus": status,
        "previousPipelineExecutionStatus": "Executing",
    }
    return eventbridge_event(
        "aws.sagemaker", "SageMaker Model Building Pipeline Execution Status Change", detail, [execution_arn]
    )


def pipeline_execution_arn(pipeline: str, execution: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{pipeline}/execution/{execution}"


def execution_status_event(execution_arn: str, state_machine_arn: str, status: str) -> dict[str, Any]:
    """``Step Functions Execution Status Change``: ``execution_arn`` is now ``status``."""
    detail = {
        "executionArn": execution_arn,
        "stateMachineArn": state_machine_arn,
        "name": execution_arn.rsplit(":", 1)[-1],
        "status": status,
        "startDate": 1795507200000,
        "stopDate": 1795507260000 if status != "RUNNING" else None,
        "input": '{"trigger":"manual"}',
        "inputDetails": {"included": True},
        "output": None,
        "outputDetails": None,
        "error": None,
        "cause": None,
    }
    return eventbridge_event("aws.states", "Step Functions Execution Status Change", detail, [execution_arn])


def alarm_event(
    alarm_name: str, value: str, reason: str, timestamp: str, endpoint: str | None = None
) -> dict[str, Any]:
    """``CloudWatch Alarm State Change``: alarm ``alarm_name`` entered ``value``; with ``endpoint``,
    its metric has that ``Endpoint`` dimension."""
    detail: dict[str, Any] = {
        "alarmName": alarm_name,
        "state": {"value": value, "reason": reason, "timestamp": timestamp},
    }
    if endpoint is not None:
        metric = {"metricStat": {"metric": {"dimensions": {"Endpoint": endpoint}}}}
        detail["configuration"] = {"metrics": [metric]}
    arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm_name}"
    return eventbridge_event("aws.cloudwatch", "CloudWatch Alarm State Change", detail, [arn])
