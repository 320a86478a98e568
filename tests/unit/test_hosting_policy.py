"""The pure parts of local hosting: DeploymentConfig rules and traffic steps, alarm statistics,
capture encoding. The HTTP paths, processes and moto state are in tests/functional/test_hosting.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from shared.config import DualloopConfig, TrafficType
from shared.contracts import deployment_config
from shared.local_cloud.hosting import policy
from shared.local_cloud.hosting.alarms import _statistic
from shared.local_cloud.hosting.telemetry import CaptureSettings


def _routing(**routing: Any) -> dict[str, Any]:
    return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing}}


def test_no_deployment_config_is_all_at_once_without_bake_or_alarms() -> None:
    plan = policy.parse(None)
    assert plan.steps(1) == [policy.Step(1.0, bake=True)]
    assert (plan.wait_seconds, plan.termination_wait_seconds, plan.alarms) == (0, 0, ())


def test_the_outer_loops_deployment_configs_parse() -> None:
    for kind in TrafficType:
        cfg = DualloopConfig(deployment={"traffic_type": kind})  # type: ignore[arg-type]
        plan = policy.parse(deployment_config(cfg))
        assert plan.traffic_type == kind.value
        assert plan.alarms == ("dualloop-dev-endpoint-5xx-errors", "dualloop-dev-endpoint-model-latency")


def test_canary_bakes_on_its_share_then_takes_everything() -> None:
    plan = policy.parse(
        _routing(
            Type="CANARY", WaitIntervalInSeconds=60, CanarySize={"Type": "CAPACITY_PERCENT", "Value": 10}
        )
    )
    assert plan.steps(1) == [policy.Step(0.1, bake=True), policy.Step(1.0, bake=False)]
    by_count = policy.parse(_routing(Type="CANARY", CanarySize={"Type": "INSTANCE_COUNT", "Value": 1}))
    assert by_count.steps(4)[0] == policy.Step(0.25, bake=True)


def test_linear_bakes_after_every_step_up_to_all_traffic() -> None:
    plan = policy.parse(_routing(Type="LINEAR", LinearStepSize={"Type": "CAPACITY_PERCENT", "Value": 30}))
    assert [round(s.green_share, 6) for s in plan.steps(1)] == [0.3, 0.6, 0.9, 1.0]
    assert all(s.bake for s in plan.steps(1))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (_routing(Type="SOMETIMES"), "Type must be one of"),
        (_routing(Type="CANARY"), "CanarySize is required"),
        (_routing(Type="CANARY", CanarySize={"Type": "CAPACITY_PERCENT", "Value": 60}), "at most 50%"),
        (_routing(Type="LINEAR", LinearStepSize={"Type": "PERCENT", "Value": 10}), "LinearStepSize.Type"),
        (_routing(Type="ALL_AT_ONCE", WaitIntervalInSeconds=3601), "WaitIntervalInSeconds"),
        (
            {"BlueGreenUpdatePolicy": {"MaximumExecutionTimeoutInSeconds": 300}},
            "MaximumExecutionTimeoutInSeconds",
        ),
        ({"AutoRollbackConfiguration": {"Alarms": []}}, "1 to 10 alarms"),
        ({"RollingUpdatePolicy": {"MaximumBatchSize": {}}}, "RollingUpdatePolicy"),
    ],
)
def test_sagemakers_limits_are_enforced(config: dict[str, Any], message: str) -> None:
    with pytest.raises(policy.PolicyError, match=message):
        policy.parse(config)


def test_an_instance_count_canary_may_not_exceed_half_the_fleet() -> None:
    plan = policy.parse(_routing(Type="CANARY", CanarySize={"Type": "INSTANCE_COUNT", "Value": 2}))
    plan.check_instances(4)
    with pytest.raises(policy.PolicyError, match="less than or equal to 50%"):
        plan.check_instances(3)


@pytest.mark.parametrize(
    "routing",
    [
        {"Type": "CANARY", "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10}},
        {"Type": "CANARY", "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}},
        {"Type": "LINEAR", "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50}},
    ],
)
def test_a_canary_or_linear_step_on_one_instance_is_refused_as_sagemaker_does(
    routing: dict[str, Any],
) -> None:
    # GIVEN a canary/linear policy, valid on its own
    plan = policy.parse(_routing(**routing))
    plan.check_instances(2, "AllTraffic")  # a strict part of two instances: fine
    # WHEN the variant has one instance THEN SageMaker's CanarySize/LinearStepSize rule refuses it
    with pytest.raises(
        policy.PolicyError, match="less than or equal to 50% of the variant's total instance count"
    ):
        plan.check_instances(1, "AllTraffic")
    policy.parse(_routing(Type="ALL_AT_ONCE", WaitIntervalInSeconds=300)).check_instances(
        1
    )  # no canary: fine


def _value(v: float) -> Any:
    return SimpleNamespace(value=v)


def test_alarm_statistics_over_values_and_statistic_sets() -> None:
    datums = [_value(v) for v in (1, 2, 3, 4, 100)] + [
        SimpleNamespace(sum=10.0, min=0.5, max=7.0, sample_count=2)
    ]
    assert _statistic("Sum", datums) == 120
    assert _statistic("SampleCount", datums) == 7
    assert _statistic("Average", datums) == pytest.approx(120 / 7)
    assert (_statistic("Minimum", datums), _statistic("Maximum", datums)) == (0.5, 100)
    assert _statistic("p90", [_value(v) for v in range(1, 11)]) == 9
    assert _statistic("p50", [_value(v) for v in range(1, 11)]) == 5
    assert _statistic("Sum", []) is None


def test_capture_encodes_by_content_type_and_falls_back_to_base64() -> None:
    settings = CaptureSettings.from_config(
        {
            "EnableCapture": True,
            "DestinationS3Uri": "s3://b/capture/",
            "CaptureContentTypeHeader": {
                "CsvContentTypes": ["text/csv"],
                "JsonContentTypes": ["application/json"],
            },
        }
    )
    assert settings is not None and settings.destination == "s3://b/capture"
    assert settings.capture_input and settings.capture_output and settings.sampling_percent == 100
    assert settings.encode(b"1,2\n", "text/csv; charset=utf-8", "INPUT")["encoding"] == "CSV"
    assert settings.encode(b'{"a": 1}', "application/json", "OUTPUT")["encoding"] == "JSON"
    binary = settings.encode(b"\xff\x00", "application/x-npy", "INPUT")
    assert binary == {
        "observedContentType": "application/x-npy",
        "mode": "INPUT",
        "data": "/wA=",
        "encoding": "BASE64",
    }
    assert CaptureSettings.from_config({"EnableCapture": False, "DestinationS3Uri": "s3://b"}) is None
