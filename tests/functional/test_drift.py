"""The drift job on the local cloud: capture files in SageMaker's format and a Preprocess
baseline in S3, the deployed model found through SageMaker, the report in S3 and the metrics
in CloudWatch.

What this proves: the lookup chain endpoint -> config -> model -> package -> baseline, the
capture layout and formats (CSV, JSON, BASE64; hour prefixes; malformed lines), and what is
published. What it does not: that the local endpoint hosting writes these very files (that is
the hosting's own test) or that the alarm fires (CloudWatch alarms do not evaluate locally).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from container_code import container_common

from outer_orchestrator.drift import job
from outer_orchestrator.drift.baseline import BaselineNotFound
from outer_orchestrator.drift.report import DriftReport, Status
from shared.config import DualloopConfig
from shared.demo_data import generate_transactions
from shared.local_cloud import LocalCloud
from shared.naming import Names

ROLE = "arn:aws:iam::123456789012:role/local-test"
NOW = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
START = NOW - timedelta(hours=24)
BASELINE_PREFIX = "pipelines/exec-1/Preprocess/output/baseline/"


@dataclass
class Stack:
    cfg: DualloopConfig
    names: Names
    s3: Any
    sagemaker: Any
    cloudwatch: Any

    @property
    def bucket(self) -> str:
        return self.names.artifact_bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


@pytest.fixture(scope="module")
def stack(local_cloud: LocalCloud) -> Stack:
    cfg = DualloopConfig(project=f"drift-{uuid.uuid4().hex[:6]}")
    s = Stack(cfg, Names(cfg), boto3.client("s3"), boto3.client("sagemaker"), boto3.client("cloudwatch"))
    s.s3.create_bucket(Bucket=s.bucket)
    s.sagemaker.create_model_package_group(ModelPackageGroupName=s.names.model_package_group)
    # What Preprocess writes with two instances: one baseline per host, merged by the job.
    common = container_common()
    schema = common.parse_schema(cfg.dataset.model_dump(mode="json"))
    training = generate_transactions(6000, seed=0)
    for host, part in (("algo-1", training.iloc[:3000]), ("algo-2", training.iloc[3000:])):
        body = json.dumps(common.compute_baseline(part, schema, host=host))
        s.s3.put_object(Bucket=s.bucket, Key=f"{BASELINE_PREFIX}baseline-{host}.json", Body=body.encode())
    return s


def deploy(
    s: Stack,
    endpoint: str,
    *,
    metadata: dict[str, str] | None = None,
    drift_check_uri: str | None = None,
    by_package_name: bool = True,
) -> str:
    """Register a package and serve it from ``endpoint`` (as the outer loop's deploy does)."""
    extra: dict[str, Any] = {}
    if drift_check_uri:
        extra["DriftCheckBaselines"] = {
            "ModelDataQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": drift_check_uri}}
        }
    arn = s.sagemaker.create_model_package(
        ModelPackageGroupName=s.names.model_package_group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "local/xgboost:latest", "ModelDataUrl": s.uri("models/model.tar.gz")}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        CustomerMetadataProperties=metadata or {},
        **extra,
    )["ModelPackageArn"]
    container = (
        {"ModelPackageName": arn}
        if by_package_name
        else {"Image": "local/xgboost:latest", "ModelDataUrl": s.uri("models/model.tar.gz")}
    )
    model = f"{endpoint}-model"
    s.sagemaker.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    s.sagemaker.create_endpoint_config(
        EndpointConfigName=f"{endpoint}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": s.uri("datacapture"),
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    s.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-config")
    return str(arn)


# ---- capture files in SageMaker's format ---------------------------------------------------


def record(data: str, when: datetime, *, content_type: str = "text/csv", encoding: str = "CSV") -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": json.dumps({"predictions": [{"score": 0.01, "label": 0}]}),
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {
                "eventId": str(uuid.uuid4()),
                "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "eventVersion": "0",
        }
    )


def spread(n: int) -> list[datetime]:
    """``n`` request times spread over the window (the first a minute after its start)."""
    step = (NOW - START - timedelta(minutes=2)) / max(n, 1)
    return [START + timedelta(minutes=1) + i * step for i in range(n)]


def csv_rows(frame: Any, cfg: DualloopConfig) -> list[str]:
    return (
        frame[cfg.dataset.feature_names].to_csv(header=False, index=False, lineterminator="\n").splitlines()
    )


def put_capture(
    s: Stack, endpoint: str, lines: Iterable[tuple[datetime, str]], hour_of: Any = None
) -> list[str]:
    """One .jsonl file per hour prefix, as SageMaker writes them; returns the keys."""
    by_hour: dict[datetime, list[str]] = defaultdict(list)
    for when, line in lines:
        by_hour[(hour_of or when).replace(minute=0, second=0, microsecond=0)].append(line)
    keys = []
    for hour, hour_lines in sorted(by_hour.items()):
        key = f"datacapture/{endpoint}/AllTraffic/{hour:%Y/%m/%d/%H}/{hour:%M-%S}-123-{uuid.uuid4()}.jsonl"
        s.s3.put_object(Bucket=s.bucket, Key=key, Body=("\n".join(hour_lines) + "\n").encode())
        keys.append(key)
    return keys


def datapoints(s: Stack, metric: str, dimensions: dict[str, str]) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = s.cloudwatch.get_metric_statistics(
        Namespace=s.names.metric_namespace,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=NOW - timedelta(hours=1),
        EndTime=NOW + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return points


# ---- tests ---------------------------------------------------------------------------------


def test_drifted_traffic_is_reported_in_s3_and_published_to_cloudwatch(stack: Stack):
    # GIVEN the stack's endpoint serving a registered package that carries its baseline prefix
    endpoint = stack.names.endpoint
    arn = deploy(stack, endpoint, metadata={"DriftBaselineS3Uri": stack.uri(BASELINE_PREFIX)})
    # ... and a day of drifted requests captured as CSV, JSON and BASE64
    rows = csv_rows(generate_transactions(1000, seed=11, drift=1.0), stack.cfg)
    times = spread(800)
    lines = [(t, record(row, t)) for t, row in zip(times[:600], rows[:600], strict=True)]
    frame = generate_transactions(1000, seed=11, drift=1.0)[stack.cfg.dataset.feature_names]
    for i, t in enumerate(times[600:700]):  # 100 JSON requests of two instances each
        pair = json.loads(frame.iloc[600 + 2 * i : 602 + 2 * i].to_json(orient="records"))
        body = json.dumps({"instances": pair})
        lines.append((t, record(body, t, content_type="application/json", encoding="JSON")))
    for t, row in zip(times[700:], rows[800:900], strict=True):  # 100 BASE64 requests
        lines.append((t, record(base64.b64encode(row.encode()).decode(), t, encoding="BASE64")))
    put_capture(stack, endpoint, lines)
    # ... plus requests outside the window: an hour prefix before it (never listed) and a
    # request early in the window's first hour
    put_capture(stack, endpoint, [(START - timedelta(hours=3), record(rows[0], START - timedelta(hours=3)))])
    early = START - timedelta(minutes=20)
    put_capture(stack, endpoint, [(early, record(rows[1], early))], hour_of=START)

    # WHEN the drift check runs
    report = job.run_drift_check(stack.cfg, now=NOW)

    # THEN it found the deployed package's (merged, two-host) baseline and read every request once
    assert report.model_package_arn == arn
    assert report.baseline_uri == stack.uri(BASELINE_PREFIX)
    assert report.baseline_rows == 6000
    assert report.sample_count == 600 + 200 + 100
    assert (report.capture.records, report.capture.malformed, report.capture.out_of_window) == (800, 0, 1)
    # ... it reports the drift on the features that moved
    assert report.status is Status.DRIFT
    assert {"merchant_category", "is_online"} <= set(report.drifted_features)
    assert "amount_to_avg_ratio" not in report.drifted_features
    assert report.max_score is not None and report.max_score > 1
    # ... writes the report where the brief says
    assert report.report_uri == stack.uri(f"drift/{endpoint}/20261124T083000Z.json")
    key = report.report_uri.removeprefix(f"s3://{stack.bucket}/")
    stored = DriftReport.model_validate_json(stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
    assert stored == report
    # ... and publishes the metrics the drift alarm and dashboards read
    (point,) = datapoints(stack, job.MAX_DRIFT_METRIC, {"Endpoint": endpoint})
    assert point["Maximum"] == pytest.approx(report.max_score)
    online = next(f for f in report.features if f.name == "is_online")
    (point,) = datapoints(stack, job.FEATURE_METRIC, {"Endpoint": endpoint, "Feature": "is_online"})
    assert point["Maximum"] == pytest.approx(online.score)
    (point,) = datapoints(stack, job.SAMPLE_COUNT_METRIC, {"Endpoint": endpoint})
    assert point["Maximum"] == 900


def test_too_few_requests_give_insufficient_data_and_no_drift_datapoint(stack: Stack):
    # GIVEN an endpoint with only 60 captured requests, all far drifted
    endpoint = f"{stack.names.base}-sparse"
    deploy(stack, endpoint, metadata={"dualloop:baseline-uri": stack.uri(BASELINE_PREFIX)})
    rows = csv_rows(generate_transactions(60, seed=12, drift=3.0), stack.cfg)
    put_capture(stack, endpoint, [(t, record(row, t)) for t, row in zip(spread(60), rows, strict=True)])

    # WHEN the drift check runs
    report = job.run_drift_check(stack.cfg, endpoint=endpoint, now=NOW)

    # THEN nothing is scored, nothing drifted, and MaxDrift gets no datapoint at all
    assert report.status is Status.INSUFFICIENT_DATA
    assert report.sample_count == 60
    assert report.max_score is None and report.drifted_features == ()
    assert all(
        f.score is None and f.reason and f.reason.startswith("not enough data") for f in report.features
    )
    assert datapoints(stack, job.MAX_DRIFT_METRIC, {"Endpoint": endpoint}) == []
    assert datapoints(stack, job.FEATURE_METRIC, {"Endpoint": endpoint, "Feature": "amount"}) == []
    (point,) = datapoints(stack, job.SAMPLE_COUNT_METRIC, {"Endpoint": endpoint})
    assert point["Maximum"] == 60


def test_malformed_capture_lines_are_counted_and_skipped(stack: Stack):
    # GIVEN 300 good requests and, in the same files, lines no model server would have scored
    endpoint = f"{stack.names.base}-messy"
    deploy(stack, endpoint, metadata={"DriftBaselineS3Uri": stack.uri(BASELINE_PREFIX)})
    rows = csv_rows(generate_transactions(300, seed=13), stack.cfg)
    times = spread(308)
    good = [(t, record(row, t)) for t, row in zip(times[:300], rows, strict=True)]
    t = times[300:]
    bad = [
        (t[0], "this is not JSON"),
        (t[1], json.dumps({"captureData": {}, "eventVersion": "0"})),
        (t[2], record("1.0,gas,3", t[2])),  # three values, eight features
        (t[3], record("lots," + rows[0].split(",", 1)[1], t[3])),  # a non-numeric amount
        (t[4], record("%%% not base64 %%%", t[4], encoding="BASE64")),
        (
            t[5],
            record(
                json.dumps({"instances": [{"amount": 3.5}]}),
                t[5],
                content_type="application/json",
                encoding="JSON",
            ),
        ),
        (t[6], record(rows[0], t[6], content_type="application/x-parquet")),
    ]
    late = record(rows[0], NOW + timedelta(minutes=5))  # after the window: skipped, not malformed
    put_capture(stack, endpoint, [*good[:150], *bad, (t[7], late), *good[150:]])

    # WHEN the drift check runs
    report = job.run_drift_check(stack.cfg, endpoint=endpoint, now=NOW)

    # THEN the malformed lines are counted, a few kept with their file and line, and skipped
    capture = report.capture
    assert (capture.records, capture.rows, capture.malformed, capture.out_of_window) == (300, 300, 7, 1)
    assert len(capture.malformed_examples) == 5
    assert all(".jsonl:" in e for e in capture.malformed_examples)
    assert any("not JSON" in e for e in capture.malformed_examples)
    # ... and the good requests are scored as usual: undrifted traffic is fine
    assert report.status is Status.OK
    amount = next(f for f in report.features if f.name == "amount")
    assert amount.sample_size == 300 and amount.score is not None and not amount.drifted


def test_handler_finds_the_package_marked_deployed_and_its_drift_check_baseline(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a model built from an image (no ModelPackageName), and two packages marked as
    # deployed to its endpoint: an older deploy and the current one, whose baseline travels as
    # DriftCheckBaselines and is a single file
    endpoint = f"{stack.names.base}-byimage"
    single = stack.uri(f"{BASELINE_PREFIX}baseline-algo-1.json")
    marker = {"dualloop:deployed-endpoint": endpoint}
    deploy(
        stack,
        endpoint + "-old",
        metadata={**marker, "dualloop:deployed-at": "2026-11-01T10:00:00.000Z"},
        drift_check_uri=stack.uri("nowhere/baseline.json"),
    )
    current = deploy(
        stack,
        endpoint,
        metadata={**marker, "dualloop:deployed-at": "2026-11-20T10:00:00.000Z"},
        drift_check_uri=single,
        by_package_name=False,
    )
    rows = csv_rows(generate_transactions(500, seed=14, drift=1.0), stack.cfg)
    put_capture(stack, endpoint, [(t, record(row, t)) for t, row in zip(spread(500), rows, strict=True)])
    monkeypatch.setenv("DUALLOOP_PROJECT", stack.cfg.project)

    # WHEN the schedule rule's event reaches the handler
    event = {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {},
        "endpoint": endpoint,
    }
    summary = job.handler(event, None)

    # THEN it checked the window ending at the event's time against the current package's baseline
    assert summary["status"] == "drift"
    assert summary["sample_count"] == 500
    key = summary["report_uri"].removeprefix(f"s3://{stack.bucket}/")
    report = DriftReport.model_validate_json(stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read())
    assert report.model_package_arn == current
    assert report.baseline_uri == single and report.baseline_rows == 3000
    assert report.window_end == NOW


def test_handler_skips_an_endpoint_that_does_not_exist_yet(stack: Stack, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DUALLOOP_PROJECT", stack.cfg.project)
    summary = job.handler({"endpoint": f"{stack.names.base}-not-yet"}, None)
    assert summary["status"] == "skipped"


def test_a_package_without_a_baseline_uri_is_an_error_that_says_where_it_looked(stack: Stack):
    endpoint = f"{stack.names.base}-nobase"
    deploy(stack, endpoint, metadata={"QualityMetric": "auc"})
    with pytest.raises(BaselineNotFound, match="DriftBaselineS3Uri"):
        job.run_drift_check(stack.cfg, endpoint=endpoint, now=NOW)
