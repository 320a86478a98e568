"""The drift check: captured requests of a window against the deployed model's baseline.

``run_drift_check`` finds the baseline (``baseline.py``), reads the window's captured requests
(``capture.py``), scores every schema feature (``stats.py``), writes the report to
``s3://<artifact bucket>/drift/<endpoint>/<yyyymmddThhmmssZ>.json`` and publishes to the
CloudWatch namespace ``Names.metric_namespace``:

- ``MaxDrift`` {Endpoint}: the report's ``max_score``, the largest score / threshold (1.0 =
  threshold, whatever the feature's statistic); the drift alarm is Maximum > 1.0 on it. Published only
  when some feature was scored: "not enough data" leaves no datapoint, which the alarm
  treats as not breaching, rather than a 0 that would read as "no drift";
- ``FeatureDrift`` {Endpoint, Feature}: each scored feature's PSI or JS distance;
- ``DriftSampleCount`` {Endpoint}: captured rows in the window, on every run (so a
  dashboard tells a quiet endpoint from a job that did not run).

Datapoints are timestamped at the window's end (a Scheduled Event's time).

``handler`` runs it from a schedule rule (EventBridge ``Scheduled Event``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3

from outer_orchestrator.drift import stats
from outer_orchestrator.drift.baseline import (
    BaselineNotFound,
    Deployment,
    EndpointNotFound,
    describe_deployment,
    find_baseline,
    load_baseline,
)
from outer_orchestrator.drift.capture import Capture, read_capture
from outer_orchestrator.drift.report import CaptureSummary, DriftReport, FeatureDrift, Status
from shared.config import DualloopConfig, FeatureType, load_config
from shared.naming import Names

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DimensionTypeDef, MetricDatumTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient

__all__ = ["BaselineNotFound", "EndpointNotFound", "handler", "run_drift_check"]

MAX_DRIFT_METRIC = "MaxDrift"
FEATURE_METRIC = "FeatureDrift"
SAMPLE_COUNT_METRIC = "DriftSampleCount"
ENDPOINT_DIMENSION = "Endpoint"
FEATURE_DIMENSION = "Feature"
CAPTURE_PREFIX = "datacapture"  # where the outer loop's endpoint configs capture to


def run_drift_check(
    cfg: DualloopConfig,
    *,
    endpoint: str | None = None,
    window_hours: int | None = None,
    now: datetime | None = None,
    baseline_uri: str | None = None,
    publish: bool = True,
    sagemaker: SageMakerClient | None = None,
    s3: S3Client | None = None,
    cloudwatch: CloudWatchClient | None = None,
) -> DriftReport:
    """Check ``endpoint`` (default: the stack's) over the last ``window_hours`` before ``now``.

    ``baseline_uri`` overrides the baseline lookup (a file or a prefix of per-host files).
    ``publish=False`` computes the report without writing it or publishing metrics.
    Raises ``EndpointNotFound`` or ``BaselineNotFound`` when there is nothing to compare.
    """
    names = Names(cfg)
    endpoint = endpoint or names.endpoint
    end = _utc(now or datetime.now(UTC))
    start = end - timedelta(hours=window_hours or cfg.drift.window_hours)
    sagemaker = sagemaker or boto3.client("sagemaker", region_name=cfg.region)
    s3 = s3 or boto3.client("s3", region_name=cfg.region)

    if baseline_uri is None:
        serving = describe_deployment(sagemaker, endpoint)
        deployment: Deployment | None = serving
        baseline = find_baseline(sagemaker, s3, serving, names.model_package_group)
    else:
        deployment = _deployment_or_none(sagemaker, endpoint)
        baseline = load_baseline(s3, baseline_uri)
    capture_uri = (deployment and deployment.capture_uri) or f"s3://{names.artifact_bucket}/{CAPTURE_PREFIX}"
    captured = read_capture(s3, capture_uri, endpoint, cfg.dataset, start, end)

    report = DriftReport.build(
        endpoint=endpoint,
        model_package_arn=baseline.model_package_arn,
        baseline_uri=baseline.uri,
        baseline_rows=int(baseline.data.get("row_count", 0)),
        window_start=start,
        window_end=end,
        generated_at=datetime.now(UTC),
        capture=_summary(captured),
        features=score_features(cfg, baseline.data, captured),
    )
    if publish:
        key = f"drift/{endpoint}/{end:%Y%m%dT%H%M%SZ}.json"
        report = report.model_copy(update={"report_uri": f"s3://{names.artifact_bucket}/{key}"})
        s3.put_object(
            Bucket=names.artifact_bucket,
            Key=key,
            Body=report.model_dump_json(indent=2).encode(),
            ContentType="application/json",
        )
        publish_metrics(cloudwatch or boto3.client("cloudwatch", region_name=cfg.region), names, report)
    return report


def score_features(cfg: DualloopConfig, baseline: Mapping[str, Any], captured: Capture) -> list[FeatureDrift]:
    """One entry per schema feature, in schema order."""
    out = []
    for feature in cfg.dataset.features:
        kind = feature.type.value
        metric: stats.Metric = "psi" if feature.type == FeatureType.NUMERIC else "js_distance"
        threshold = cfg.drift.psi_threshold if metric == "psi" else cfg.drift.js_threshold
        spec = baseline.get("features", {}).get(feature.name)
        if spec is None or spec.get("type") != kind:
            found = "absent from" if spec is None else f"{spec.get('type')} in"
            score = stats.FeatureScore(
                metric=metric,
                score=None,
                threshold=threshold,
                sample_size=captured.rows,
                min_samples=None,
                baseline_size=0,
                reason=f"not comparable: the feature is {found} the baseline (schema changed since training?)",
            )
        elif metric == "psi":
            score = stats.numeric_drift(
                spec, captured.columns[feature.name], threshold, cfg.drift.min_samples
            )
        else:
            score = stats.categorical_drift(
                spec, captured.columns[feature.name], threshold, cfg.drift.min_samples
            )
        out.append(
            FeatureDrift(
                name=feature.name,
                type=kind,  # type: ignore[arg-type]
                drifted=score.drifted,
                status=_status(score),
                **asdict(score),  # the statistic, its threshold, score, sample sizes and reason
            )
        )
    return out


def publish_metrics(cloudwatch: CloudWatchClient, names: Names, report: DriftReport) -> None:
    endpoint: list[DimensionTypeDef] = [{"Name": ENDPOINT_DIMENSION, "Value": report.endpoint}]
    when = report.window_end
    data: list[MetricDatumTypeDef] = [
        {
            "MetricName": SAMPLE_COUNT_METRIC,
            "Dimensions": endpoint,
            "Timestamp": when,
            "Value": float(report.sample_count),
            "Unit": "Count",
        }
    ]
    if report.max_score is not None:
        data.append(
            {
                "MetricName": MAX_DRIFT_METRIC,
                "Dimensions": endpoint,
                "Timestamp": when,
                "Value": report.max_score,
                "Unit": "None",
            }
        )
    for feature in report.features:
        if feature.score is None:
            continue
        data.append(
            {
                "MetricName": FEATURE_METRIC,
                "Dimensions": [*endpoint, {"Name": FEATURE_DIMENSION, "Value": feature.name}],
                "Timestamp": when,
                "Value": feature.score,
                "Unit": "None",
            }
        )
    # PutMetricData takes 1,000 datums a call; a schema is far smaller, but stay within it.
    for i in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace=names.metric_namespace, MetricData=data[i : i + 1000])


def handler(
    event: dict[str, Any],
    context: Any,
    *,
    sagemaker: Any = None,
    s3: Any = None,
    cloudwatch: Any = None,
) -> dict[str, Any]:
    """Lambda entry point for the drift schedule rule.

    The event's ``time`` (a Scheduled Event's) is the end of the window, so a late or repeated
    delivery checks the window it was scheduled for: a repeat rewrites the same report key and
    republishes the same values at the same timestamp (the alarm reads their Maximum). Optional event keys: ``endpoint``,
    ``window_hours``, ``baseline_uri``. Configuration comes from the ``DUALLOOP_*`` environment.
    """
    from aws_lambda_powertools import Logger

    logger = Logger(service="dualloop-drift")
    cfg = load_config()
    endpoint = event.get("endpoint") or os.environ.get("DUALLOOP_DRIFT_ENDPOINT") or None
    try:
        report = run_drift_check(
            cfg,
            endpoint=endpoint,
            window_hours=event.get("window_hours"),
            now=_event_time(event.get("time")),
            baseline_uri=event.get("baseline_uri"),
            sagemaker=sagemaker,
            s3=s3,
            cloudwatch=cloudwatch,
        )
    except EndpointNotFound as exc:
        # The schedule exists from the first deploy of the stack; the endpoint only after the
        # first approved model. Nothing to check is not a failure.
        logger.info("no endpoint to check", extra={"reason": str(exc)})
        return {"status": "skipped", "reason": str(exc)}
    summary = {
        "status": report.status.value,
        "endpoint": report.endpoint,
        "max_score": report.max_score,
        "max_feature": report.max_feature,
        "drifted_features": list(report.drifted_features),
        "sample_count": report.sample_count,
        "malformed": report.capture.malformed,
        "report_uri": report.report_uri,
    }
    logger.info("drift check", extra=summary)
    return summary


def _deployment_or_none(sagemaker: SageMakerClient, endpoint: str) -> Deployment | None:
    # With an explicit baseline, captured traffic can be checked even if the endpoint is gone.
    try:
        return describe_deployment(sagemaker, endpoint)
    except EndpointNotFound:
        return None


def _status(score: stats.FeatureScore) -> Status:
    if score.score is None:
        return Status.INSUFFICIENT_DATA
    return Status.DRIFT if score.drifted else Status.OK


def _summary(captured: Capture) -> CaptureSummary:
    """What the report keeps of the capture: its counts, not its columns."""
    return CaptureSummary.model_validate(captured, from_attributes=True)


def _event_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return _utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
