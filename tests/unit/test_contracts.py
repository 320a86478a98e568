"""Every starter of the outer loop produces a valid RetrainInput."""

from __future__ import annotations

import json

import pytest

from shared.config import load_config
from shared.contracts import RetrainInput, deployment_config, event_target_input
from shared.local_cloud.patches.eventbridge_targets import target_input


def test_drift_alarm_event_becomes_a_retrain_input() -> None:
    cfg = load_config()
    transformer = event_target_input(
        cfg, "drift", {"alarm": "$.detail.alarmName", "why": "$.detail.state.reason"}
    )
    event = {
        "id": "1",
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "time": 0,
        "detail": {
            "alarmName": "dualloop-dev-feature-drift",
            "state": {"value": "ALARM", "reason": 'PSI "amount" 0.4'},
        },
    }
    payload = RetrainInput.model_validate(target_input({"InputTransformer": transformer}, event))
    assert payload.trigger == "drift"
    assert payload.reason == {"alarm": "dualloop-dev-feature-drift", "why": 'PSI "amount" 0.4'}
    assert payload.settings.approval_timeout_seconds == cfg.approval_timeout_seconds


def test_template_is_json_with_unquoted_placeholders() -> None:
    transformer = event_target_input(load_config(), "new-data", {"key": "$.detail.object.key"})
    assert '"reason": {"key": <key>}' in transformer["InputTemplate"]
    json.loads(transformer["InputTemplate"].replace("<key>", '"k"'))


def test_deployment_config_follows_the_policy() -> None:
    canary = deployment_config(load_config())
    routing = canary["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}
    assert [a["AlarmName"] for a in canary["AutoRollbackConfiguration"]["Alarms"]] == [
        "dualloop-dev-endpoint-5xx-errors",
        "dualloop-dev-endpoint-model-latency",
    ]
    linear = deployment_config(load_config(deployment={"traffic_type": "LINEAR", "linear_step_percent": 25}))
    assert linear["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["LinearStepSize"]["Value"] == 25


def test_raw_uri_must_be_s3() -> None:
    with pytest.raises(ValueError, match="raw_uri"):
        RetrainInput.for_config(load_config(), raw_uri="/tmp/data.csv")
