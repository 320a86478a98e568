"""Serving: the endpoint alarms blue/green deployments roll back on, and the drift alarm.

The endpoint itself is created by the outer loop (CreateEndpoint/UpdateEndpoint), not by
CloudFormation, so the alarms are defined on names, ahead of the endpoint; until it
exists they see no data, which counts as not breaching.
"""

from __future__ import annotations

import re

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from shared.config import DualloopConfig
from shared.naming import Names

# What the drift job (outer_orchestrator/drift/job.py) publishes to Names.metric_namespace,
# spelled again here because infrastructure does not import runtime code (a test keeps the
# two equal): per endpoint and run, the largest feature score / its threshold, so 1.0 is the
# threshold whatever the statistic (PSI or JS); no datapoint when nothing could be scored.
DRIFT_METRIC = "MaxDrift"
DRIFT_DIMENSION = "Endpoint"
DRIFT_THRESHOLD = 1.0
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class Serving(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DualloopConfig, names: Names) -> None:
        super().__init__(scope, construct_id)
        dims = {"EndpointName": names.endpoint, "VariantName": names.variant}
        d = cfg.deployment

        # Both alarms feed UpdateEndpoint's AutoRollbackConfiguration: one bad minute during
        # the bake is enough to send traffic back to the previous model.
        self.error_alarm = cloudwatch.Alarm(
            self,
            "ErrorAlarm",
            alarm_name=names.error_alarm,
            alarm_description=f"{names.endpoint}: 5xx errors; rolls a blue/green deployment back",
            metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="Invocation5XXErrors",
                dimensions_map=dims,
                statistic=cloudwatch.Stats.SUM,
                period=Duration.minutes(1),
            ),
            threshold=d.error_alarm_threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency_alarm = cloudwatch.Alarm(
            self,
            "LatencyAlarm",
            alarm_name=names.latency_alarm,
            alarm_description=f"{names.endpoint}: p90 model latency; rolls a blue/green deployment back",
            metric=cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name="ModelLatency",  # microseconds
                dimensions_map=dims,
                statistic=cloudwatch.Stats.percentile(90),
                period=Duration.minutes(1),
            ),
            threshold=d.latency_alarm_threshold_ms * 1000,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # An EventBridge rule (outer loop) starts a retrain when this enters ALARM.
        self.drift_alarm = cloudwatch.Alarm(
            self,
            "DriftAlarm",
            alarm_name=names.drift_alarm,
            alarm_description=(
                f"Feature drift on {names.endpoint}: a feature's PSI above {cfg.drift.psi_threshold} or JS "
                f"distance above {cfg.drift.js_threshold}; starts a retrain"
            ),
            metric=cloudwatch.Metric(
                namespace=names.metric_namespace,
                metric_name=DRIFT_METRIC,
                dimensions_map={DRIFT_DIMENSION: names.endpoint},
                statistic=cloudwatch.Stats.MAXIMUM,
                period=drift_period(cfg.drift.schedule),
            ),
            # The job's own verdict: a feature drifted when its score exceeds its threshold.
            threshold=DRIFT_THRESHOLD,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            # No datapoint means the drift job had too few samples or did not run: not drift.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


def drift_period(schedule: str) -> Duration:
    """One alarm period per drift run (``rate(...)``); an hour for cron schedules. CloudWatch
    caps an alarm's period at one day."""
    m = _RATE.match(schedule.strip())
    seconds = int(m[1]) * _UNIT_SECONDS[m[2].rstrip("s")] if m else 3600
    return Duration.seconds(min(max(seconds, 60), 86400))
