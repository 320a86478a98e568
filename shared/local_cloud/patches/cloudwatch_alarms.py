"""Addition: CloudWatch alarms evaluate when data arrives, and their state changes are events.

moto 5.2.5 stores alarms but never evaluates them, so an alarm stays in the state it was
created in and no ``CloudWatch Alarm State Change`` ever reaches EventBridge. After every
``PutMetricData`` this patch evaluates the alarms that watch a series just written (same
namespace, metric name and dimension set) with the hosting's ``AlarmEvaluator``, which
sets the new state in moto, with an AWS-like state reason, and emits the event on a change
(OK -> ALARM, ALARM -> OK, ...). AWS evaluates on a period schedule rather than on arrival;
on the local clock the difference is a period at most and, for the alarms here, moot.

The hot path stays cheap: endpoint metrics are flushed several times a second, so a write
that no alarm watches costs a scan of the region's alarms' metric names and nothing else.
Metric-math and anomaly-band alarms are left alone (the evaluator warns once).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend

from shared.local_cloud.hosting.alarms import AlarmEvaluator
from shared.local_cloud.patches import Patch, original

LOG = logging.getLogger(__name__)
_evaluator: AlarmEvaluator | None = None
_evaluator_lock = threading.Lock()


PATCH = Patch(__name__)


def _now() -> datetime:
    """The running local cloud's clock (its endpoints and the drift job stamp data with it)."""
    from shared.local_cloud.cloud import running

    cloud = running()
    return cloud.now() if cloud is not None else datetime.now(UTC)  # type: ignore[no-any-return]


def evaluator() -> AlarmEvaluator:
    global _evaluator
    with _evaluator_lock:
        if _evaluator is None:
            _evaluator = AlarmEvaluator(now=_now)
        return _evaluator


def watching(backend: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]) -> list[str]:
    """Names of the backend's alarms that watch a series ``metric_data`` writes to."""
    if not backend.alarms:
        return []
    by_metric: dict[str, list[Any]] = {}
    for alarm in list(backend.alarms.values()):
        if alarm.namespace == namespace and alarm.metric_name:
            by_metric.setdefault(alarm.metric_name, []).append(alarm)
    if not by_metric:
        return []
    written = {
        (datum["MetricName"], frozenset((d["Name"], d["Value"]) for d in datum.get("Dimensions") or ()))
        for datum in metric_data
        if datum.get("MetricName") in by_metric
    }
    return [
        alarm.name
        for metric, dimensions in written
        for alarm in by_metric[metric]
        if frozenset((d.name, d.value) for d in alarm.dimensions) == dimensions
    ]


@PATCH.replaces(CloudWatchBackend, "put_metric_data", "300dda002442b818")
def _put_metric_data(self: CloudWatchBackend, namespace: str, metric_data: list[dict[str, Any]]) -> None:
    original(CloudWatchBackend, "put_metric_data")(self, namespace, metric_data)
    names = watching(self, namespace, metric_data)
    if not names:
        return
    try:
        evaluator().evaluate(self.account_id, self.region_name, sorted(set(names)))
    except Exception:
        # The data is stored: a failed evaluation must not fail the caller's PutMetricData.
        LOG.exception("could not evaluate alarms %s", names)
