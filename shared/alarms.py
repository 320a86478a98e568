"""The alarms of a deployment, defined once: CDK creates them on AWS, the local stack on the
local cloud, from these same PutMetricAlarm requests (a test compares the synthesized ones).

- 5XX errors and model latency on the live variant: UpdateEndpoint's AutoRollbackConfiguration
  watches them, so either going to ALARM during a blue/green bake sends traffic back.
- Drift: the drift job's ``MaxDrift`` (each feature's score over its own threshold, so 1.0 is
  the threshold whatever the statistic); its ALARM starts a retrain.
"""

from __future__ import annotations

import re
from typing import Any

from shared.config import DualloopConfig
from shared.naming import Names

# What the drift job (outer_orchestrator/drift/job.py) publishes: a test keeps them equal.
DRIFT_METRIC = "MaxDrift"
DRIFT_DIMENSION = "Endpoint"
DRIFT_THRESHOLD = 1.0
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def drift_period_seconds(schedule: str) -> int:
    """One alarm period per drift run (``rate(...)``); an hour for cron schedules. CloudWatch
    takes periods from a minute to a day."""
    m = _RATE.match(schedule.strip())
    seconds = int(m[1]) * _UNIT_SECONDS[m[2].rstrip("s")] if m else 3600
    return min(max(seconds, 60), 86400)


def alarm_definitions(cfg: DualloopConfig) -> list[dict[str, Any]]:
    """PutMetricAlarm requests for the endpoint's two rollback alarms and the drift alarm."""
    n, d = Names(cfg), cfg.deployment
    variant = [{"Name": "EndpointName", "Value": n.endpoint}, {"Name": "VariantName", "Value": n.variant}]
    # No data (no endpoint yet, no traffic, too few samples for drift) is not a breach.
    missing = {"TreatMissingData": "notBreaching"}
    return [
        {
            "AlarmName": n.error_alarm,
            "AlarmDescription": f"{n.endpoint}: 5XX errors; rolls a blue/green deployment back",
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocation5XXErrors",
            "Dimensions": variant,
            "Statistic": "Sum",
            "Period": 60,
            "Threshold": float(d.error_alarm_threshold),
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            # One bad minute during the bake is enough: errors are never noise.
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            **missing,
        },
        {
            "AlarmName": n.latency_alarm,
            "AlarmDescription": f"{n.endpoint}: p90 model latency; rolls a blue/green deployment back",
            "Namespace": "AWS/SageMaker",
            "MetricName": "ModelLatency",  # microseconds; the config speaks milliseconds
            "Dimensions": variant,
            "ExtendedStatistic": "p90",
            "Period": 60,
            "Threshold": float(d.latency_alarm_threshold_ms * 1000),
            "ComparisonOperator": "GreaterThanThreshold",
            # Two slow minutes in a row: one slow minute is often a cold start.
            "EvaluationPeriods": 2,
            "DatapointsToAlarm": 2,
            **missing,
        },
        {
            "AlarmName": n.drift_alarm,
            "AlarmDescription": (
                f"Feature drift on {n.endpoint}: a feature's PSI above {cfg.drift.psi_threshold} or JS "
                f"distance above {cfg.drift.js_threshold}; starts a retrain"
            ),
            "Namespace": n.metric_namespace,
            "MetricName": DRIFT_METRIC,
            "Dimensions": [{"Name": DRIFT_DIMENSION, "Value": n.endpoint}],
            "Statistic": "Maximum",
            "Period": drift_period_seconds(cfg.drift.schedule),
            "Threshold": DRIFT_THRESHOLD,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            **missing,
        },
    ]
