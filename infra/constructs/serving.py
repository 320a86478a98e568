"""Serving: the endpoint alarms blue/green deployments roll back on, and the drift alarm.

The endpoint itself is created by the outer loop (CreateEndpoint/UpdateEndpoint), not by
CloudFormation, so the alarms are defined on names, ahead of the endpoint; until it
exists they see no data, which counts as not breaching.
"""

from __future__ import annotations

import re
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.context import StackContext
from shared.alarms import alarm_definitions, drift_period_seconds


class Serving(Construct):
    """The alarms of ``shared.alarms.alarm_definitions``, the ones the local stack creates too."""

    def __init__(self, scope: Construct, construct_id: str, ctx: StackContext) -> None:
        super().__init__(scope, construct_id)
        names = ctx.names
        specs = {spec["AlarmName"]: spec for spec in alarm_definitions(ctx.cfg)}
        self.error_alarm = _alarm(self, "ErrorAlarm", specs[names.error_alarm])
        self.latency_alarm = _alarm(self, "LatencyAlarm", specs[names.latency_alarm])
        # An EventBridge rule (outer loop) starts a retrain when this one enters ALARM.
        self.drift_alarm = _alarm(self, "DriftAlarm", specs[names.drift_alarm])


def _alarm(scope: Construct, construct_id: str, spec: dict[str, Any]) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=spec["AlarmName"],
        alarm_description=spec["AlarmDescription"],
        metric=cloudwatch.Metric(
            namespace=spec["Namespace"],
            metric_name=spec["MetricName"],
            dimensions_map={d["Name"]: d["Value"] for d in spec["Dimensions"]},
            statistic=spec.get("ExtendedStatistic") or spec["Statistic"],
            period=Duration.seconds(spec["Period"]),
        ),
        threshold=spec["Threshold"],
        comparison_operator=cloudwatch.ComparisonOperator[_upper_snake(spec["ComparisonOperator"])],
        evaluation_periods=spec["EvaluationPeriods"],
        datapoints_to_alarm=spec["DatapointsToAlarm"],
        treat_missing_data=cloudwatch.TreatMissingData[_upper_snake(spec["TreatMissingData"])],
    )


def _upper_snake(name: str) -> str:
    """CloudFormation's ``GreaterThanThreshold`` / ``notBreaching`` as the CDK enums spell them."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def drift_period(schedule: str) -> Duration:
    """The drift alarm's period: one drift run (see ``shared.alarms.drift_period_seconds``)."""
    return Duration.seconds(drift_period_seconds(schedule))
