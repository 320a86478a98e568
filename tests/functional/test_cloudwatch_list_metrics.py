"""ListMetrics lists each metric once, as AWS does, however many datapoints it has.

Why it matters: an endpoint's metrics carry two dimensions (EndpointName, VariantName) and a
datapoint per request; moto listed one metric per datapoint and compared each with every
other, so after a test's traffic one call outlasted botocore's 60-second read timeout.
"""

from __future__ import annotations

import uuid

import boto3

from shared.local_cloud import LocalCloud

DATAPOINTS = 3000


def test_a_metric_with_two_dimensions_is_listed_once_whatever_its_datapoints(local_cloud: LocalCloud) -> None:
    cw = boto3.client("cloudwatch")
    namespace = f"Test/{uuid.uuid4().hex[:8]}"
    for variant in ("blue", "green"):
        dimensions = [{"Name": "EndpointName", "Value": "ep"}, {"Name": "VariantName", "Value": variant}]
        for start in range(0, DATAPOINTS, 1000):  # PutMetricData takes at most 1,000 values
            cw.put_metric_data(
                Namespace=namespace,
                MetricData=[{"MetricName": "Invocations", "Dimensions": dimensions, "Value": 1.0}]
                * min(1000, DATAPOINTS - start),
            )
    cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Bare", "Value": 1.0}] * 3)

    listed = cw.list_metrics(Namespace=namespace)["Metrics"]

    assert sorted(
        (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m.get("Dimensions", []))))
        for m in listed
    ) == [
        ("Bare", ()),
        ("Invocations", (("EndpointName", "ep"), ("VariantName", "blue"))),
        ("Invocations", (("EndpointName", "ep"), ("VariantName", "green"))),
    ]
    only_green = cw.list_metrics(Namespace=namespace, Dimensions=[{"Name": "VariantName", "Value": "green"}])
    assert len(only_green["Metrics"]) == 1
