"""The drift alarm on the local cloud: MaxDrift datapoints → alarm state → rule → trigger → retrain.

What this proves: the local cloud evaluates the drift alarm when MaxDrift arrives and emits
the state change; the rule hands it to the drift trigger, which reads the newest report
and starts exactly one execution whose input names the drifted features; a datapoint that
leaves the alarm in ALARM, and a second delivery of the same event, start nothing more.
What it does not: the drift job itself (``test_drift.py``), or CloudWatch's own period
alignment and evaluation schedule (the local evaluator evaluates on arrival).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from event_support import alarm_event
from wait_support import wait_until

from outer_orchestrator.drift.job import MAX_DRIFT_METRIC
from outer_orchestrator.drift.report import CaptureSummary, DriftReport, FeatureDrift, Status
from outer_orchestrator.handlers import drift_trigger
from outer_orchestrator.local_stack import LocalStack
from shared.config import DualloopConfig, load_config
from shared.local_cloud import LocalCloud
from shared.local_cloud.hosting.alarms import AlarmEvaluator
from shared.naming import Names


@dataclass
class Project:
    cfg: DualloopConfig
    names: Names
    queue_url: str  # a second target of the drift rule: the events it delivered


@pytest.fixture
def project(local_cloud: LocalCloud) -> Iterator[Project]:
    cfg = load_config(project=f"alarm-{uuid.uuid4().hex[:6]}")
    LocalStack(cfg).provision()
    names = Names(cfg)
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName=f"{names.base}-drift-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_targets(Rule=names.drift_alarm_rule, Targets=[{"Id": "capture", "Arn": arn}])
    yield Project(cfg, names, url)
    sfn = boto3.client("stepfunctions")
    for execution in _executions(names):
        if execution["status"] == "RUNNING":
            sfn.stop_execution(executionArn=execution["executionArn"])


def _report(p: Project, when: datetime) -> DriftReport:
    def feature(name: str, score: float) -> FeatureDrift:
        drifted = score > 0.2
        return FeatureDrift(
            name=name,
            type="numeric",
            metric="psi",
            score=score,
            threshold=0.2,
            drifted=drifted,
            status=Status.DRIFT if drifted else Status.OK,
            sample_size=500,
            min_samples=200,
            baseline_size=3000,
        )

    key = f"drift/{p.names.endpoint}/{when:%Y%m%dT%H%M%SZ}.json"
    return DriftReport.build(
        endpoint=p.names.endpoint,
        model_package_arn=None,
        baseline_uri=f"s3://{p.names.artifact_bucket}/baseline.json",
        baseline_rows=3000,
        window_start=when - timedelta(hours=24),
        window_end=when,
        capture=CaptureSummary(
            destination="s3://x/datacapture", files=1, records=500, rows=500, malformed=0, out_of_window=0
        ),
        features=[feature("amount", 0.9), feature("hour", 0.05), feature("tx_count_1h", 0.5)],
        report_uri=f"s3://{p.names.artifact_bucket}/{key}",
    )


def _publish(p: Project, local_cloud: LocalCloud, value: float, *, report: bool = True) -> None:
    """What the drift job does: the report first, then the metric stamped at the window's end."""
    when = local_cloud.now()
    if report:
        r = _report(p, when)
        bucket, key = r.report_uri.removeprefix("s3://").split("/", 1)  # type: ignore[union-attr]
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=r.model_dump_json().encode())
    boto3.client("cloudwatch").put_metric_data(
        Namespace=p.names.metric_namespace,
        MetricData=[
            {
                "MetricName": MAX_DRIFT_METRIC,
                "Dimensions": [{"Name": "Endpoint", "Value": p.names.endpoint}],
                "Timestamp": when,
                "Value": value,
            }
        ],
    )


def _alarm(p: Project) -> dict[str, Any]:
    (alarm,) = boto3.client("cloudwatch").describe_alarms(AlarmNames=[p.names.drift_alarm])["MetricAlarms"]
    return dict(alarm)


def _executions(names: Names) -> list[dict[str, Any]]:
    found = boto3.client("stepfunctions").list_executions(stateMachineArn=names.state_machine_arn)
    return [dict(e) for e in found["executions"]]


def _wait_for_executions(names: Names, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    wait_until(lambda: len(_executions(names)) >= count, what=f"{count} retrain(s) starting", timeout=timeout)
    time.sleep(0.2)  # and no more than count: give a second start its chance
    return _executions(names)


def _delivered(p: Project, timeout: float = 5.0) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    messages = wait_until(
        lambda: sqs.receive_message(QueueUrl=p.queue_url, MaxNumberOfMessages=10).get("Messages"),
        what="the alarm's event reaching the rule's queue",
        timeout=timeout,
        interval=0,
    )
    return [json.loads(m["Body"]) for m in messages]


def test_drift_alarm_starts_one_retrain_naming_the_drifted_features(
    project: Project, local_cloud: LocalCloud
) -> None:
    p = project
    # GIVEN the drift alarm, not in ALARM
    assert _alarm(p)["StateValue"] != "ALARM"
    # WHEN the drift job publishes a MaxDrift above the threshold
    _publish(p, local_cloud, 4.5)

    # THEN the alarm is in ALARM with an AWS-like reason
    alarm = _alarm(p)
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [4.5")
    # AND exactly one retrain starts, named after the transition, with the report's reasons
    (execution,) = _wait_for_executions(p.names, 1)
    assert execution["name"].startswith("drift-")
    described = boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    body = json.loads(described["input"])
    assert body["trigger"] == "drift"
    reason = body["reason"]
    assert reason["alarm"] == p.names.drift_alarm
    assert reason["features"] == ["amount", "tx_count_1h"]
    assert reason["scores"] == {"amount": 0.9, "tx_count_1h": 0.5}
    assert reason["report_uri"].startswith(f"s3://{p.names.artifact_bucket}/drift/{p.names.endpoint}/")
    assert "Threshold Crossed" in reason["why"]

    # WHEN more drifted datapoints arrive (the alarm stays in ALARM): no transition, no retrain
    _publish(p, local_cloud, 3.0)
    _publish(p, local_cloud, 5.0, report=False)
    assert _alarm(p)["StateValue"] == "ALARM"

    # WHEN EventBridge delivers the same event again: the trigger starts nothing new
    (event,) = _delivered(p)
    assert event["detail"]["state"]["value"] == "ALARM"
    again = boto3.client("lambda").invoke(
        FunctionName=drift_trigger.function_name(p.names), Payload=json.dumps(event).encode()
    )
    answer = json.loads(again["Payload"].read())
    assert "FunctionError" not in again, answer
    time.sleep(0.3)
    assert [e["executionArn"] for e in _executions(p.names)] == [execution["executionArn"]]
    assert answer.get("execution_arn", execution["executionArn"]) == execution["executionArn"]


def test_drift_back_under_the_threshold_returns_the_alarm_to_ok_without_a_retrain(
    project: Project, local_cloud: LocalCloud
) -> None:
    p = project
    boto3.client("cloudwatch").set_alarm_state(
        AlarmName=p.names.drift_alarm, StateValue="ALARM", StateReason="test: drifted before"
    )
    # A window later, the drift is gone: MaxDrift 0.4 in a fresh period.
    _publish(p, local_cloud, 0.4)

    alarm = _alarm(p)
    assert alarm["StateValue"] == "OK"
    assert "was not greater than the threshold (1)" in alarm["StateReason"]
    time.sleep(0.3)
    assert _executions(p.names) == []


def test_a_forged_drift_alarm_starts_no_retrain(project: Project) -> None:
    p = project
    # GIVEN the drift alarm, not in ALARM (no drift was ever published)
    assert _alarm(p)["StateValue"] != "ALARM"
    forged = alarm_event(p.names.drift_alarm, "ALARM", "forged", "2026-11-24T08:00:00.000+0000")
    # WHEN an event claims it went to ALARM
    response = boto3.client("lambda").invoke(
        FunctionName=drift_trigger.function_name(p.names), Payload=json.dumps(forged).encode()
    )
    answer = json.loads(response["Payload"].read())
    # THEN CloudWatch does not confirm it, and no retrain starts
    assert "FunctionError" not in response, answer
    assert answer == {"started": False, "ignored": "not confirmed by CloudWatch"}
    time.sleep(0.3)
    assert _executions(p.names) == []


def test_metrics_no_alarm_watches_cost_no_evaluation(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(AlarmEvaluator, "evaluate", lambda *a, **k: calls.append(a))

    boto3.client("cloudwatch").put_metric_data(
        Namespace=project.names.metric_namespace,
        MetricData=[
            {
                "MetricName": "DriftSampleCount",
                "Dimensions": [{"Name": "Endpoint", "Value": project.names.endpoint}],
                "Value": 5.0,
            },
            {
                "MetricName": MAX_DRIFT_METRIC,
                "Dimensions": [{"Name": "Endpoint", "Value": "another-endpoint"}],
                "Value": 9.0,
            },
        ],
    )

    assert calls == []


def test_execution_names_are_per_transition() -> None:
    a = drift_trigger.execution_name("p-dev-feature-drift", "2026-11-24T08:30:00.123+0000")
    assert a == drift_trigger.execution_name("p-dev-feature-drift", "2026-11-24T08:30:00.123+0000")
    assert a != drift_trigger.execution_name("p-dev-feature-drift", "2026-11-24T09:30:00.123+0000")
    assert len(a) <= 80 and a.replace("-", "").isalnum()
