"""CloudWatch alarm evaluation on the local clock: moto stores alarms but never evaluates them.

``AlarmEvaluator.evaluate(account, region, names)`` reads each alarm from moto's CloudWatch
backend (metric, namespace, dimensions, statistic or percentile, period, evaluation periods,
datapoints to alarm, threshold, comparison, missing-data treatment), computes the statistic
over the datapoints stored in moto for each of the last ``EvaluationPeriods`` periods of
local time (sliding windows ending now; CloudWatch aligns periods to the clock and waits
for late data, which matters little at local speed), and when the state changes sets it in
moto and emits ``CloudWatch Alarm State Change``, so EventBridge rules fire as on AWS.

Metric-math alarms and anomaly-detection comparisons are not evaluated (their state is
left alone, with a warning). The deployment worker evaluates an endpoint's rollback alarms
during every bake; outside bakes no one evaluates them, so a state stays as last evaluated.
"""

from __future__ import annotations

import json
import logging
import math
import operator
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.local_cloud import events
from shared.local_cloud.hosting.telemetry import Now, naive_utc

LOG = logging.getLogger(__name__)

_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
_RETENTION = timedelta(days=1)  # of local time: longer than any period x evaluation periods we meet
SeriesKey = tuple[str, str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class AlarmState:
    name: str
    value: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str


class _Index:
    """moto's metric list (append-only) indexed by series, read incrementally."""

    def __init__(self, data: list[Any]) -> None:
        self.data = data
        self.position = 0
        self.series: dict[SeriesKey, list[Any]] = defaultdict(list)

    def update(self, oldest: datetime) -> None:
        new = self.data[self.position :]
        self.position += len(new)
        for datum in new:
            key = (datum.namespace, datum.name, frozenset((d.name, d.value) for d in datum.dimensions))
            self.series[key].append(datum)
        for key, datums in self.series.items():
            if datums and datums[0].timestamp < oldest:
                self.series[key] = [d for d in datums if d.timestamp >= oldest]


class AlarmEvaluator:
    def __init__(self, now: Now) -> None:
        self._now = now
        self._indexes: dict[tuple[str, str], _Index] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()  # deployments of several endpoints may evaluate at once

    def evaluate(self, account: str, region: str, names: Iterable[str]) -> dict[str, AlarmState]:
        with self._lock:
            return self._evaluate(account, region, names)

    def _evaluate(self, account: str, region: str, names: Iterable[str]) -> dict[str, AlarmState]:
        from moto.cloudwatch.models import cloudwatch_backends

        backend = cloudwatch_backends[account][region]
        now = naive_utc(self._now())
        index = self._indexes.get((account, region))
        if index is None or index.data is not backend.metric_data:  # a reset backend starts over
            index = self._indexes[(account, region)] = _Index(backend.metric_data)
        index.update(now - _RETENTION)
        out: dict[str, AlarmState] = {}
        for name in names:
            alarm = backend.alarms.get(name)
            if alarm is None:
                self._warn(name, f"alarm {name} does not exist in {account}/{region}: not evaluated")
                out[name] = AlarmState(name, "INSUFFICIENT_DATA", "the alarm does not exist")
                continue
            computed = self._compute(alarm, index, now)
            if computed is None:
                out[name] = AlarmState(name, alarm.state_value, alarm.state_reason)
                continue
            value, reason, data = computed
            if value != alarm.state_value:
                self._transition(account, region, alarm, value, reason, data)
            out[name] = AlarmState(name, value, reason)
        return out

    def _compute(self, alarm: Any, index: _Index, now: datetime) -> tuple[str, str, dict[str, Any]] | None:
        comparison = _COMPARISONS.get(alarm.comparison_operator)
        stat = alarm.extended_statistic or alarm.statistic
        if alarm.metric_data_queries or comparison is None or not stat:
            self._warn(alarm.name, f"alarm {alarm.name} uses metric math or anomaly bands: not evaluated")
            return None
        compare, words = comparison
        key = (alarm.namespace, alarm.metric_name, frozenset((d.name, d.value) for d in alarm.dimensions))
        period = timedelta(seconds=int(alarm.period))
        periods = int(alarm.evaluation_periods)
        datums = [d for d in index.series.get(key, ()) if d.timestamp > now - period * periods]
        points: list[tuple[datetime, float | None]] = []
        for k in range(periods):  # newest first
            end = now - period * k
            window = [d for d in datums if end - period < d.timestamp <= end]
            points.append((end - period, _statistic(stat, window)))
        present = [(t, v) for t, v in points if v is not None]
        breaching = sum(compare(v, alarm.threshold) for _, v in present)
        missing = periods - len(present)
        treat = alarm.treat_missing_data or "missing"
        if treat == "breaching":
            breaching += missing
        needed = int(alarm.datapoints_to_alarm or periods)
        if not present and treat in ("missing", "ignore"):
            if treat == "ignore":
                return None
            value = "INSUFFICIENT_DATA"
            reason = f"Insufficient Data: {periods} datapoint(s) were unknown."
        else:
            value = "ALARM" if breaching >= needed else "OK"
            shown = ", ".join(f"{v:g} ({t:%d/%m/%y %H:%M:%S})" for t, v in present) or "no datapoints"
            reason = (
                f"Threshold Crossed: {breaching} out of the last {periods} datapoints [{shown}] "
                f"{'was' if value == 'ALARM' else 'was not'} {words} the threshold ({alarm.threshold:g}) "
                f"(minimum {needed} datapoint(s) for OK -> ALARM transition)."
            )
        data = {
            "version": "1.0",
            "queryDate": f"{now:%Y-%m-%dT%H:%M:%S.000+0000}",
            "statistic": stat,
            "period": int(alarm.period),
            "recentDatapoints": [v for _, v in present],
            "threshold": alarm.threshold,
        }
        return value, reason, data

    def _transition(
        self, account: str, region: str, alarm: Any, value: str, reason: str, data: dict[str, Any]
    ) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        previous = alarm.state_value
        cloudwatch_backends[account][region].set_alarm_state(alarm.name, reason, json.dumps(data), value)
        LOG.info("alarm %s: %s -> %s (%s)", alarm.name, previous, value, reason)
        events.alarm_state_change(
            account_id=account,
            region=region,
            alarm_name=alarm.name,
            alarm_arn=alarm.alarm_arn,
            current=value,
            previous=previous,
            reason=reason,
            configuration={
                "description": alarm.description,
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": alarm.namespace,
                                "name": alarm.metric_name,
                                "dimensions": {d.name: d.value for d in alarm.dimensions},
                            },
                            "period": int(alarm.period),
                            "stat": alarm.extended_statistic or alarm.statistic,
                        },
                        "returnData": True,
                    }
                ],
            },
        )

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            LOG.warning(message)


def _statistic(stat: str, datums: list[Any]) -> float | None:
    values = [float(d.value) for d in datums if hasattr(d, "value")]
    sets = [d for d in datums if not hasattr(d, "value")]  # StatisticValues datums
    count = len(values) + sum(float(s.sample_count) for s in sets)
    if count == 0:
        return None
    if stat == "SampleCount":
        return count
    if stat == "Sum":
        return sum(values) + sum(float(s.sum) for s in sets)
    if stat == "Average":
        return (sum(values) + sum(float(s.sum) for s in sets)) / count
    if stat == "Minimum":
        return min([*values, *(float(s.min) for s in sets)])
    if stat == "Maximum":
        return max([*values, *(float(s.max) for s in sets)])
    if stat.startswith("p") and values:  # a percentile needs the values themselves
        ordered = sorted(values)
        rank = math.ceil(float(stat[1:]) / 100.0 * len(ordered))
        return ordered[min(max(rank, 1), len(ordered)) - 1]
    return None
