"""Every EventBridge target that starts a retrain hands the state machine a valid RetrainInput.

The rendered Input/InputTransformer of the *synthesized* rules is applied to example events
shaped like AWS's (CloudWatch alarm state change, S3 Object Created, scheduled event) with
the local cloud's implementation of EventBridge's target-input semantics, and the result is
parsed with the contract. What this cannot prove: that AWS renders templates exactly so
(the local cloud's renderer follows the documented rules: a placeholder standing as a JSON
value becomes that value as JSON, so strings arrive quoted and escaped).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from synth_support import Synth

from shared.contracts import RetrainInput, RetrainSettings

if TYPE_CHECKING:
    from shared.config import DualloopConfig
    from shared.naming import Names


def _target(synth: Synth, rule_name: str) -> dict[str, Any]:
    _, rule = synth.one("AWS::Events::Rule", Name=rule_name)
    (target,) = rule["Properties"]["Targets"]
    found: dict[str, Any] = target
    return found


def _deliver(target: dict[str, Any], event: dict[str, Any]) -> RetrainInput:
    from shared.local_cloud.patches.eventbridge_targets import target_input

    payload = target_input(target, event)
    assert isinstance(payload, dict), f"the target would send {payload!r}, not a JSON object"
    return RetrainInput.model_validate(payload)


def _event(
    source: str, detail_type: str, detail: dict[str, Any], resources: list[str], names: Names
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": detail_type,
        "source": source,
        "account": names.account,
        "time": "2026-11-24T08:00:00Z",
        "region": names.region,
        "resources": resources,
        "detail": detail,
    }


def test_drift_alarm_hands_the_event_itself_to_the_drift_trigger(synth: Synth, names: Names) -> None:
    # The trigger builds the RetrainInput (with the drift report's features): see
    # test_infra_drift_trigger.py; nothing may replace the event it reads.
    target = _target(synth, names.drift_alarm_rule)
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)


def test_new_raw_object_starts_a_new_data_retrain_naming_the_key(
    synth: Synth, names: Names, cfg: DualloopConfig
) -> None:
    key = f'{cfg.raw_prefix}2026/11/24/transactions batch "7" é.csv'
    event = _event(
        "aws.s3",
        "Object Created",
        {
            "version": "0",
            "bucket": {"name": names.raw_bucket},
            "object": {"key": key, "size": 1024, "etag": "abc", "sequencer": "00"},
            "request-id": "R",
            "requester": names.account,
            "reason": "PutObject",
        },
        [f"arn:aws:s3:::{names.raw_bucket}"],
        names,
    )
    started = _deliver(_target(synth, names.new_data_rule), event)
    assert started.trigger == "new-data"
    assert started.reason == {"key": key}
    assert started.raw_uri == f"s3://{names.raw_bucket}/{cfg.raw_prefix}"
    assert started.settings == RetrainSettings.from_config(cfg)


def test_schedule_starts_a_scheduled_retrain(synth: Synth, names: Names, cfg: DualloopConfig) -> None:
    target = _target(synth, names.schedule_rule)
    event = _event("aws.events", "Scheduled Event", {}, [], names)
    assert _deliver(target, event) == RetrainInput.for_config(cfg, trigger="schedule")
    assert json.loads(target["Input"])["trigger"] == "schedule"


def test_templates_fit_eventbridge_limits(synth: Synth, names: Names) -> None:
    for rule_name in (names.new_data_rule,):
        transformer = _target(synth, rule_name)["InputTransformer"]
        assert len(transformer["InputTemplate"]) <= 8192
        assert len(transformer["InputPathsMap"]) <= 100
    assert len(_target(synth, names.schedule_rule)["Input"]) <= 8192
