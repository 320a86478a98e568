"""``dualloop status``: the state of both loops in one look.

Recent retrains with their trigger, the model packages with approval and where they
serve, the endpoint with its variants' weights, and the latest drift scores. Only read
APIs, so it works against the local cloud and AWS alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3

from shared.config import DualloopConfig
from shared.contracts import EvaluationReport
from shared.naming import Names


@dataclass
class Status:
    executions: list[dict[str, Any]] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)
    endpoint: dict[str, Any] | None = None
    drift: dict[str, Any] | None = None
    lock: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _missing(exc: Exception) -> bool:
    text = str(exc)
    return any(
        s in text for s in ("does not exist", "Could not find", "NotFound", "not found", "NoSuchBucket")
    )


def collect(cfg: DualloopConfig, session: boto3.Session | None = None, limit: int = 10) -> Status:
    session = session or boto3.Session(region_name=cfg.region)
    names = Names(cfg)
    sfn, sagemaker = session.client("stepfunctions"), session.client("sagemaker")
    status = Status()
    try:
        for execution in sfn.list_executions(stateMachineArn=names.state_machine_arn, maxResults=limit)[
            "executions"
        ]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            trigger = json.loads(described.get("input") or "{}").get("trigger", "?")
            status.executions.append(
                {
                    "name": execution["name"],
                    "status": execution["status"],
                    "trigger": trigger,
                    "started": execution["startDate"].isoformat(timespec="seconds"),
                    "error": described.get("error"),
                }
            )
    except Exception as exc:
        if not _missing(exc):
            raise
    try:
        summaries = sagemaker.list_model_packages(
            ModelPackageGroupName=names.model_package_group,
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=limit,
        )["ModelPackageSummaryList"]
        for summary in summaries:
            package = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            metadata = package.get("CustomerMetadataProperties", {})
            status.packages.append(
                {
                    "version": package.get("ModelPackageVersion"),
                    "approval": package.get("ModelApprovalStatus"),
                    "deployed_to": metadata.get("dualloop:deployed-endpoint"),
                    "endpoint_config": metadata.get("dualloop:endpoint-config"),
                    "rolled_back": _rolled_back(metadata),
                    "quality": _gate_value(session.client("s3"), package),
                    "arn": summary["ModelPackageArn"],
                }
            )
    except Exception as exc:
        if not _missing(exc):
            raise
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=names.endpoint)
        status.endpoint = {
            "name": names.endpoint,
            "status": endpoint["EndpointStatus"],
            "config": endpoint["EndpointConfigName"],
            "failure_reason": endpoint.get("FailureReason"),
            "variants": [
                {
                    "name": v["VariantName"],
                    "weight": v.get("CurrentWeight"),
                    "instances": v.get("CurrentInstanceCount"),
                }
                for v in endpoint.get("ProductionVariants", [])
            ],
        }
    except Exception as exc:
        if not _missing(exc):
            raise
    serving_config = status.endpoint["config"] if status.endpoint else None
    for entry in status.packages:
        # Every package ever deployed keeps its metadata; the one on the endpoint's config serves.
        entry["serving"] = bool(serving_config) and entry["endpoint_config"] == serving_config
    status.drift = _latest_drift(session.client("s3"), names)
    try:
        item = session.client("dynamodb").get_item(
            TableName=names.lock_table, Key={"lock_id": {"S": "retrain"}}
        )
        if "Item" in item:
            status.lock = {k: v.get("S") for k, v in item["Item"].items()}
    except Exception as exc:
        if not _missing(exc):
            raise
    return status


def _gate_value(s3: Any, package: Mapping[str, Any]) -> str | None:
    """The gated metric and its value from the package's ModelQuality report ("rmse 52.3")."""
    metric = package.get("CustomerMetadataProperties", {}).get("QualityMetric")
    uri = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    if not metric or not uri:
        return None
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        report = EvaluationReport.model_validate_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception as exc:
        if _missing(exc) or "NoSuchKey" in str(exc):
            return None
        raise
    value = report.metrics().get(metric)
    return None if value is None else f"{metric} {value:.4g}"


def _latest_drift(s3: Any, names: Names) -> dict[str, Any] | None:
    prefix = f"drift/{names.endpoint}/"
    try:
        objects = s3.list_objects_v2(Bucket=names.artifact_bucket, Prefix=prefix).get("Contents", [])
    except Exception as exc:
        if _missing(exc):
            return None
        raise
    if not objects:
        return None
    latest = max(objects, key=lambda o: o["Key"])
    report: dict[str, Any] = json.loads(
        s3.get_object(Bucket=names.artifact_bucket, Key=latest["Key"])["Body"].read()
    )
    return report


def _rolled_back(metadata: dict[str, str]) -> str | None:
    """When and by which retrain a package was rolled back (its reason is in the notification)."""
    by = metadata.get("dualloop:rolled-back-by")
    return f"by {by} at {metadata.get('dualloop:rolled-back-at', '?')}" if by else None
