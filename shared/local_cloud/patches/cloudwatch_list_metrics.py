"""Fix: ``ListMetrics`` lists a metric once per datapoint, and slows down quadratically.

AWS lists each metric (namespace, name and set of dimensions) once. moto 5.2.5 keeps every
datum and drops a repeat only when its dimensions compare equal pairwise, which fails for
any metric with two or more dimensions (each dimension is compared with every other): an
endpoint's ``Invocations`` by EndpointName and VariantName is listed once per request, and
each datum is compared with every metric kept so far. After a few thousand requests one call
took over a minute. This keeps the first datum per metric, in one pass.
"""

from __future__ import annotations

from typing import Any

from moto.cloudwatch.models import CloudWatchBackend

from shared.local_cloud.patches import Patch

PATCH = Patch(__name__)


@PATCH.replaces(CloudWatchBackend, "get_filtered_metrics", "63270f556ea9d022")
def _get_filtered_metrics(
    self: CloudWatchBackend, metric_name: str, namespace: str, dimensions: list[dict[str, str]]
) -> list[Any]:
    seen: set[tuple[Any, ...]] = set()
    metrics = []
    for datum in self.get_all_metrics():
        if not datum.filter(namespace=namespace, name=metric_name, dimensions=dimensions):
            continue
        key = (datum.namespace, datum.name, frozenset((d.name, d.value) for d in datum.dimensions))
        if key not in seen:
            seen.add(key)
            metrics.append(datum)
    return metrics
