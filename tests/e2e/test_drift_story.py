"""The drift story on the local cloud: deploy, serve, drift, alarm, retrain.

One project: a retrain deploys a model (auto-approved); traffic drawn from the training
distribution is checked and raises no alarm; drifted traffic is checked, the drift job's
MaxDrift flips the drift alarm, the rule's trigger reads the report and starts exactly one
retrain whose input names the drifted features. That retrain is stopped (not followed):
its run is the happy path of ``test_dual_loop.py``.

What this proves: the real endpoint hosting captures what the drift job reads, the real job
scores it against the baseline the pipeline wrote, the local alarm evaluation and the
EventBridge rule deliver to the real trigger handler, and the trigger's input is the one the
state machine accepts. What it does not: CloudWatch's own evaluation schedule on AWS.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from wait_support import wait_until

from inner_pipeline.upsert import upsert_pipeline
from outer_orchestrator.drift.job import run_drift_check
from outer_orchestrator.drift.report import DriftReport, Status
from outer_orchestrator.local_stack import LocalStack
from outer_orchestrator.runner import Retrain, upload_data
from shared.config import DualloopConfig, load_config
from shared.demo_data import generate_transactions, write_dataset
from shared.local_cloud import LocalCloud
from shared.naming import Names

ROWS = 3000


def _send(cfg: DualloopConfig, rows: int, *, shift: float, seed: int) -> None:
    """What ``dualloop drift simulate`` sends: one CSV row per request, schema feature order."""
    names = cfg.dataset.feature_names
    frame = generate_transactions(rows, seed=seed, drift=shift)
    runtime = boto3.client("sagemaker-runtime")
    for line in frame[names].to_csv(header=False, index=False, lineterminator="\n").splitlines():
        runtime.invoke_endpoint(
            EndpointName=Names(cfg).endpoint,
            ContentType="text/csv",
            Accept="application/json",
            Body=line.encode(),
        )


def _check(cfg: DualloopConfig, local_cloud: LocalCloud, at_least: int) -> DriftReport:
    """The drift job, once the endpoint's capture writer has flushed ``at_least`` rows."""
    wait_until(
        lambda: run_drift_check(cfg, now=local_cloud.now(), publish=False).sample_count >= at_least,
        what=f"the capture writer flushing {at_least} rows",
        timeout=20,
        interval=0.25,
    )
    return run_drift_check(cfg, now=local_cloud.now())


def _executions(names: Names) -> list[dict[str, Any]]:
    found = boto3.client("stepfunctions").list_executions(stateMachineArn=names.state_machine_arn)
    return [dict(e) for e in found["executions"]]


def _alarm_state(names: Names) -> str:
    (alarm,) = boto3.client("cloudwatch").describe_alarms(AlarmNames=[names.drift_alarm])["MetricAlarms"]
    return str(alarm["StateValue"])


def test_drifted_traffic_starts_one_retrain_that_names_the_drifted_features(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    cfg = load_config(project=f"story-{uuid.uuid4().hex[:6]}")
    names = Names(cfg)
    LocalStack(cfg).provision()
    upsert_pipeline(cfg)
    # Only this test's explicit drift checks: the scheduled one (every 36 s at clock x100)
    # would otherwise race them and could be the report that trips the alarm.
    boto3.client("events").disable_rule(Name=names.drift_schedule_rule)
    sfn = boto3.client("stepfunctions")
    try:
        # GIVEN a deployed model
        path = tmp_path / "train.csv"
        write_dataset(generate_transactions(ROWS, seed=7), path)
        retrain = Retrain(cfg)
        first = retrain.follow(retrain.start(upload_data(cfg, path, "v1")), approve="auto", timeout=600)
        assert first.status == "SUCCEEDED", (first.error, first.cause)
        before = {e["executionArn"] for e in _executions(names)}

        # WHEN the endpoint serves traffic like the training data: no drift, no alarm, no retrain
        clean_rows = cfg.drift.min_samples + 50
        _send(cfg, clean_rows, shift=0.0, seed=11)
        clean = _check(cfg, local_cloud, clean_rows)
        assert clean.status is Status.OK, [(f.name, f.score) for f in clean.features]
        assert clean.max_score is not None and clean.max_score <= 1.0
        assert _alarm_state(names) != "ALARM"
        time.sleep(0.5)
        assert {e["executionArn"] for e in _executions(names)} == before

        # WHEN it serves drifted traffic (most of the window)
        _send(cfg, 4 * clean_rows, shift=1.0, seed=12)
        drifted = _check(cfg, local_cloud, 5 * clean_rows)

        # THEN the drift job finds drift, the alarm fires, and exactly one drift retrain starts
        assert drifted.status is Status.DRIFT and drifted.drifted_features
        assert _alarm_state(names) == "ALARM"
        new = wait_until(
            lambda: [e for e in _executions(names) if e["executionArn"] not in before],
            what="a drift retrain starting",
            timeout=20,
            interval=0.1,
        )
        time.sleep(0.5)  # and no second one
        (started,) = [e for e in _executions(names) if e["executionArn"] not in before]
        assert started == new[0]
        body = json.loads(sfn.describe_execution(executionArn=started["executionArn"])["input"])
        assert body["trigger"] == "drift"
        assert body["reason"]["alarm"] == names.drift_alarm
        assert body["reason"]["features"] == list(drifted.drifted_features)
        assert set(body["reason"]["scores"]) == set(drifted.drifted_features)
        assert body["reason"]["report_uri"] == drifted.report_uri
    finally:
        for execution in _executions(names):
            if execution["status"] == "RUNNING":
                sfn.stop_execution(executionArn=execution["executionArn"])
