"""Storage and serving constructs: what the synthesized template holds (not how AWS behaves)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from synth_support import Resolver, Synth, statements

if TYPE_CHECKING:
    from shared.config import DualloopConfig
    from shared.naming import Names


def _bucket(synth: Synth, name: str) -> tuple[str, dict[str, Any]]:
    return synth.one("AWS::S3::Bucket", BucketName=name)


@pytest.mark.parametrize("purpose", ["raw_bucket", "curated_bucket", "artifact_bucket"])
def test_data_buckets_are_kms_encrypted_versioned_private_and_logged(
    synth: Synth, names: Names, purpose: str
) -> None:
    # GIVEN the bucket Names gives this purpose
    bucket_name = getattr(names, purpose)
    bucket_id, bucket = _bucket(synth, bucket_name)
    props = bucket["Properties"]
    key_id = next(iter(synth.resources("AWS::KMS::Key")))

    # THEN it is encrypted with the project's CMK, versioned and closed to the public
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    # AND it logs access to the (SSE-S3) access-log bucket under its own prefix
    log_id, log_bucket = _bucket(synth, f"{names.base}-access-logs-{names.account}")
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": log_id},
        "LogFilePrefix": f"{bucket_name}/",
    }
    assert log_bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    # AND its policy denies every request not made over TLS
    (policy,) = [
        p
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    deny = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Deny"]
    assert any(
        s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and s["Action"] == ["s3:*"] for s in deny
    )


def test_raw_bucket_sends_events_to_eventbridge_natively(synth: Synth, names: Names) -> None:
    _, raw = _bucket(synth, names.raw_bucket)
    assert raw["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    # No CDK notifications custom resource (and its Lambda) is needed for that.
    assert not synth.resources("Custom::S3BucketNotifications")


def test_curated_runs_age_out_under_the_curated_prefix(
    synth: Synth, names: Names, cfg: DualloopConfig
) -> None:
    _, curated = _bucket(synth, names.curated_bucket)
    rules = {r["Id"]: r for r in curated["Properties"]["LifecycleConfiguration"]["Rules"]}
    runs = rules["curated-runs"]
    assert runs["Prefix"] == cfg.curated_prefix
    assert runs["Status"] == "Enabled"
    assert runs["ExpirationInDays"] > runs["Transitions"][0]["TransitionInDays"]
    assert rules["abort-multipart"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_project_key_rotates_and_lets_cloudwatch_logs_use_it(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    ((_, key),) = synth.resources("AWS::KMS::Key").items()
    assert key["Properties"]["EnableKeyRotation"] is True
    logs_statement = next(
        s
        for s in statements(key["Properties"]["KeyPolicy"])
        if s.get("Principal", {}).get("Service") == f"logs.{names.region}.amazonaws.com"
    )
    assert resolve(logs_statement["Condition"]) == {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{names.region}:{names.account}:log-group:*"
        }
    }


def test_endpoint_alarms_watch_the_variant_with_configured_thresholds(
    synth: Synth, names: Names, cfg: DualloopConfig
) -> None:
    dims = [
        {"Name": "EndpointName", "Value": names.endpoint},
        {"Name": "VariantName", "Value": names.variant},
    ]
    _, errors = synth.one("AWS::CloudWatch::Alarm", AlarmName=names.error_alarm)
    keys = ("Namespace", "MetricName", "Dimensions", "Threshold", "ComparisonOperator", "TreatMissingData")
    assert {k: errors["Properties"][k] for k in keys} == {
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocation5XXErrors",
        "Dimensions": dims,
        "Threshold": cfg.deployment.error_alarm_threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }
    _, latency = synth.one("AWS::CloudWatch::Alarm", AlarmName=names.latency_alarm)
    assert latency["Properties"]["MetricName"] == "ModelLatency"
    assert latency["Properties"]["Dimensions"] == dims
    # ModelLatency is in microseconds; the config speaks milliseconds.
    assert latency["Properties"]["Threshold"] == cfg.deployment.latency_alarm_threshold_ms * 1000


def test_drift_alarm_watches_the_metric_the_drift_job_publishes(synth: Synth, names: Names) -> None:
    # The job's own constants (runtime code: the test may import it, the stack may not).
    job = pytest.importorskip("outer_orchestrator.drift.job")

    _, drift = synth.one("AWS::CloudWatch::Alarm", AlarmName=names.drift_alarm)
    props = drift["Properties"]
    assert props["Namespace"] == names.metric_namespace
    assert props["MetricName"] == job.MAX_DRIFT_METRIC
    assert props["Dimensions"] == [{"Name": job.ENDPOINT_DIMENSION, "Value": names.endpoint}]
    # MaxDrift is score / threshold: above 1.0 some feature drifted past its configured threshold.
    assert props["Threshold"] == 1.0
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(
    ("schedule", "seconds"),
    [("rate(1 hour)", 3600), ("rate(15 minutes)", 900), ("rate(2 days)", 86400), ("cron(0 * * * ? *)", 3600)],
)
def test_drift_alarm_period_follows_the_drift_schedule(schedule: str, seconds: int) -> None:
    from infra.constructs.serving import drift_period

    assert drift_period(schedule).to_seconds() == seconds


def test_synthesized_alarms_are_the_ones_the_local_stack_creates(synth: Synth, cfg: DualloopConfig) -> None:
    """One definition (shared.alarms) for AWS and the local cloud: a rollback or drift alarm
    that fires locally fires on the same statistic, period and datapoints on AWS."""
    from shared.alarms import alarm_definitions

    for spec in alarm_definitions(cfg):
        _, alarm = synth.one("AWS::CloudWatch::Alarm", AlarmName=spec["AlarmName"])
        assert {k: alarm["Properties"].get(k) for k in spec} == spec
