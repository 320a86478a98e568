"""SageMaker hosting on the local cloud: real model servers behind CreateEndpoint, blue/green
UpdateEndpoint with alarm-driven rollback, InvokeEndpoint routed by traffic weights.

Endpoints are created exactly as the outer loop's ASL creates them (CreateModel from a model
package ARN, CreateEndpointConfig with data capture, CreateEndpoint | UpdateEndpoint with a
DeploymentConfig, DescribeEndpoint until InService), from a real XGBoost model.

What this proves: the inference contract over HTTP (4XX for malformed input, never 5XX),
the canary share while baking, rollback on the 5XX alarm, on the latency alarm and on an
unhealthy green, zero failed or lost requests while traffic moves, metrics, capture and
alarm events in AWS's shapes, and that no model server outlives the local cloud. What it
cannot prove: SageMaker's real provisioning times, instance networking, CloudWatch's exact
period alignment (the local evaluator uses sliding windows).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hosting_fixture import (
    BROKEN,
    ROW,
    SLOW,
    Registry,
    model_tarball,
    sourcedir_tarball,
    tarball,
    train_model,
)
from wait_support import endpoint_settled, wait_until

from shared.local_cloud import LocalCloud, clock
from shared.local_cloud.hosting import endpoints

VARIANT = "AllTraffic"
CONFIG_HEADER = "x-dualloop-endpoint-config"
# No client retries: a request that failed or vanished must show up in the counts.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=30)


def _bake_seconds(wall: float) -> int:
    """WaitIntervalInSeconds that lasts ``wall`` seconds on the local clock."""
    return max(1, min(3600, int(wall * clock.factor())))


@dataclass
class Models:
    registry: Registry
    model_dir: Path
    good: str  # model package ARNs
    good_again: str
    broken: str
    slow: str
    corrupt: str


@pytest.fixture(scope="module")
def models(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Models:
    registry = Registry.create(boto3.client("s3"), boto3.client("sagemaker"))
    model_dir = train_model(tmp_path_factory.mktemp("model"))
    model_url = registry.upload("models/good/model.tar.gz", model_tarball(model_dir))
    code_url = registry.upload("code/good/sourcedir.tar.gz", sourcedir_tarball())
    corrupt_url = registry.upload(
        "models/corrupt/model.tar.gz",
        tarball({"xgboost-model.json": b"not a model", "preprocessing.json": b"{}"}),
    )
    return Models(
        registry=registry,
        model_dir=model_dir,
        good=registry.package(model_url, code_url),
        good_again=registry.package(model_url),  # no SAGEMAKER_SUBMIT_DIRECTORY: the repo's code
        broken=registry.package(
            model_url, registry.upload("code/broken/sourcedir.tar.gz", sourcedir_tarball(BROKEN))
        ),
        slow=registry.package(
            model_url,
            registry.upload("code/slow/sourcedir.tar.gz", sourcedir_tarball(SLOW)),
            env={"SLOW_MODEL_SECONDS": "0.3"},
        ),
        corrupt=registry.package(corrupt_url, code_url),
    )


@dataclass
class Endpoint:
    name: str
    error_alarm: str
    latency_alarm: str


@pytest.fixture(scope="module")
def endpoint(models: Models) -> Endpoint:
    """The endpoint the tests update in turn; every test leaves it InService on a good model."""
    sm = boto3.client("sagemaker")
    name = f"hosting-ep-{uuid.uuid4().hex[:8]}"
    sm.create_endpoint(EndpointName=name, EndpointConfigName=models.registry.endpoint_config(models.good))
    assert endpoint_settled(name)["EndpointStatus"] == "InService"
    cw = boto3.client("cloudwatch")
    dims: Any = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": VARIANT}]
    # The alarms of infra/constructs/serving.py, on this endpoint.
    error_alarm, latency_alarm = f"{name}-5xx-errors", f"{name}-model-latency"
    cw.put_metric_alarm(
        AlarmName=error_alarm,
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=dims,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    cw.put_metric_alarm(
        AlarmName=latency_alarm,
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=dims,
        ExtendedStatistic="p90",
        Period=60,
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=200_000,  # microseconds; the slow model takes 300 ms
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    return Endpoint(name, error_alarm, latency_alarm)


def _deployment(
    ep: Endpoint, *, canary: int = 25, bake: float = 2.0, alarms: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": _bake_seconds(bake),
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": canary},
            },
            "TerminationWaitInSeconds": _bake_seconds(0.2),
            "MaximumExecutionTimeoutInSeconds": 28800,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a} for a in alarms or (ep.error_alarm,)]},
    }


@dataclass
class Stream:
    """Requests one after another on ``threads`` threads; every request is counted."""

    endpoint: str
    threads: int = 1
    sent: int = 0
    answers: list[tuple[float, str]] = field(default_factory=list)  # (time, endpoint config that served)
    failures: list[tuple[float, ClientError | Exception]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Stream:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=60)

    def _run(self) -> None:
        client = boto3.client("sagemaker-runtime", config=NO_RETRIES)
        while not self._stop.is_set():
            with self._lock:
                self.sent += 1
            try:
                response = client.invoke_endpoint(
                    EndpointName=self.endpoint, Body=ROW, ContentType="text/csv"
                )
                response["Body"].read()
                served = response["ResponseMetadata"]["HTTPHeaders"][CONFIG_HEADER]
                with self._lock:
                    self.answers.append((time.monotonic(), served))
            except Exception as exc:
                with self._lock:
                    self.failures.append((time.monotonic(), exc))

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        wait_until(
            lambda: len(self.answers) + len(self.failures) >= count,
            what=f"{count} answers",
            timeout=timeout,
            interval=0.02,
        )


def _update_and_watch(
    sm: Any, ep: Endpoint, config: str, deployment: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[float, float]]]:
    """UpdateEndpoint, then poll DescribeEndpoint as the ASL does; returns the final description
    and the (start, end) times during which the pending variant was Baking."""
    sm.update_endpoint(EndpointName=ep.name, EndpointConfigName=config, DeploymentConfig=deployment)
    baking: list[tuple[float, float]] = []

    def updated() -> dict[str, Any] | None:
        before = time.monotonic()
        described: dict[str, Any] = sm.describe_endpoint(EndpointName=ep.name)
        if described["EndpointStatus"] != "Updating":
            return described
        statuses = [
            s["Status"]
            for v in described.get("PendingDeploymentSummary", {}).get("ProductionVariants", [])
            for s in v.get("VariantStatus", [])
        ]
        if "Baking" in statuses:
            baking.append((before, time.monotonic()))
        return None

    return wait_until(updated, what=f"the update of {ep.name}", timeout=90, interval=0.03), baking


# ---- tests ----------------------------------------------------------------------------------------
def test_first_deployment_answers_real_predictions(endpoint: Endpoint) -> None:
    sm, rt = boto3.client("sagemaker"), boto3.client("sagemaker-runtime")
    described = sm.describe_endpoint(EndpointName=endpoint.name)
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 1
    assert described["DataCaptureConfig"]["CaptureStatus"] == "Started"

    answer = rt.invoke_endpoint(EndpointName=endpoint.name, Body=ROW, ContentType="text/csv")
    assert answer["InvokedProductionVariant"] == VARIANT
    assert answer["ContentType"] == "application/json"
    prediction = json.loads(answer["Body"].read())["predictions"][0]
    assert 0.0 <= prediction["score"] <= 1.0 and prediction["label"] in (0, 1)

    features = ["amount", "merchant_category", "hour", "distance_from_home_km", "tx_count_1h", "tx_count_24h",
                "amount_to_avg_ratio", "is_online"]  # fmt: skip
    record = dict(zip(features, ROW.split(","), strict=True))
    as_json = rt.invoke_endpoint(
        EndpointName=endpoint.name, Body=json.dumps({"instances": [record, record]}),
        ContentType="application/json", Accept="text/csv",
    )  # fmt: skip
    assert as_json["ContentType"] == "text/csv"
    scores = [float(s) for s in as_json["Body"].read().decode().split()]
    assert scores == pytest.approx([prediction["score"]] * 2, abs=1e-6)


def _still_serves(endpoint: Endpoint) -> None:
    """Nothing lost: the endpoint is InService and scores the next good request."""
    assert (
        boto3.client("sagemaker").describe_endpoint(EndpointName=endpoint.name)["EndpointStatus"]
        == "InService"
    )
    answer = boto3.client("sagemaker-runtime", config=NO_RETRIES).invoke_endpoint(
        EndpointName=endpoint.name, Body=ROW, ContentType="text/csv"
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.bad_input("endpoint")
def test_malformed_requests_are_4xx_with_the_models_message(endpoint: Endpoint) -> None:
    rt = boto3.client("sagemaker-runtime", config=NO_RETRIES)
    with pytest.raises(rt.exceptions.ModelError) as short_row:
        rt.invoke_endpoint(EndpointName=endpoint.name, Body="1,2", ContentType="text/csv")
    error: Any = short_row.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert "row 1 has 2 values; expected 8" in error["Error"]["Message"]

    with pytest.raises(rt.exceptions.ModelError) as bad_type:
        rt.invoke_endpoint(EndpointName=endpoint.name, Body="x", ContentType="text/plain")
    bad: Any = bad_type.value.response
    assert bad["OriginalStatusCode"] == 400
    assert "unsupported content type 'text/plain'" in bad["Error"]["Message"]

    with pytest.raises(rt.exceptions.ValidationError, match="not found"):
        rt.invoke_endpoint(EndpointName="hosting-no-such-endpoint", Body=ROW, ContentType="text/csv")
    _still_serves(endpoint)


def test_canary_update_moves_traffic_to_green_without_losing_a_request(
    models: Models, endpoint: Endpoint
) -> None:
    sm = boto3.client("sagemaker")
    blue = sm.describe_endpoint(EndpointName=endpoint.name)["EndpointConfigName"]
    green = models.registry.endpoint_config(models.good_again, instances=2)  # a canary needs 2+
    # This endpoint's servers only: the session's local cloud may host other endpoints.
    blue_pids = set(endpoints.current().routed_pids(endpoint.name))  # type: ignore[union-attr]
    assert blue_pids

    with Stream(endpoint.name, threads=2) as stream:
        stream.wait_for(20)
        described, baking = _update_and_watch(
            sm,
            endpoint,
            green,
            _deployment(endpoint, canary=25, bake=4.0, alarms=(endpoint.error_alarm, endpoint.latency_alarm)),
        )
        done = time.monotonic()
        stream.wait_for(stream.sent + 30)

    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert described["EndpointConfigName"] == green
    assert "FailureReason" not in described and "PendingDeploymentSummary" not in described
    assert (
        described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"]
        == "CANARY"
    )
    # Nothing failed, nothing vanished.
    assert stream.failures == []
    assert stream.sent == len(stream.answers)
    # While baking, green served about the canary share; once done, green served everything.
    assert baking, "never saw the Baking status"
    during = [served for t, served in stream.answers if baking[0][1] <= t <= baking[-1][0]]
    assert len(during) >= 25, f"too few requests during the bake ({len(during)})"
    share = sum(served == green for served in during) / len(during)
    margin = 4 * (0.25 * 0.75 / len(during)) ** 0.5  # four standard deviations of a binomial share
    assert abs(share - 0.25) <= margin, f"green served {share:.0%} of {len(during)} requests in a 25% canary"
    assert {served for served in during} == {blue, green}
    assert {served for t, served in stream.answers if t > done + 0.05} == {green}
    # Blue is stopped after the termination wait.
    wait_until(
        lambda: not blue_pids & set(endpoints.current().pids),  # type: ignore[union-attr]
        what="blue's model servers stopping",
        timeout=10,
    )


# What a careless or hostile client sends: each is the client's mistake, so a 4XX.
BAD_BODIES = [
    ("1e39," + ROW.split(",", 1)[1], "text/csv"),  # beyond float32: XGBoost said "Input data contains inf"
    ("[" * 100_000 + "]" * 100_000, "application/json"),  # RecursionError in the JSON parser
    (f'[[{"9" * 5000}, "gas", 1, 1, 1, 1, 1, 0]]', "application/json"),  # beyond Python's int digits
    ("inf," + ROW.split(",", 1)[1], "text/csv"),
    ("1,2", "text/csv"),
    (ROW, "text/plain"),
]


@pytest.mark.bad_input("endpoint")
def test_clients_bad_requests_during_a_bake_are_4xx_and_the_deployment_completes(
    local_cloud: LocalCloud, models: Models, endpoint: Endpoint
) -> None:
    # GIVEN a canary update whose rollback alarm fires on one 5XX, and a client sending bad requests
    sm = boto3.client("sagemaker")
    started = local_cloud.now()
    green = models.registry.endpoint_config(models.good_again, instances=2)  # a canary needs 2+
    rt = boto3.client("sagemaker-runtime", config=NO_RETRIES)
    refused: list[dict[str, Any]] = []
    stop = threading.Event()

    def misbehave() -> None:
        while not stop.is_set():
            for body, content_type in BAD_BODIES:
                try:
                    rt.invoke_endpoint(EndpointName=endpoint.name, Body=body, ContentType=content_type)
                except ClientError as exc:
                    refused.append(exc.response)

    client = threading.Thread(target=misbehave, daemon=True)
    # WHEN the bad requests keep coming during the bake
    with Stream(endpoint.name) as stream:
        client.start()
        try:
            described, baking = _update_and_watch(
                sm, endpoint, green, _deployment(endpoint, canary=50, bake=4.0)
            )
        finally:
            stop.set()
            client.join(timeout=30)

    # THEN each was a ModelError carrying the model's 400 with its reason, the 5XX alarm stayed quiet,
    # and the deployment completed
    assert baking and len(refused) >= len(BAD_BODIES)
    assert {r["Error"]["Code"] for r in refused} == {"ModelError"}
    assert {r["OriginalStatusCode"] for r in refused} == {400}
    messages = " ".join(r["Error"]["Message"] for r in refused)
    for reason in ("is beyond the model's float32 range", "nested too deeply", "number too long",
                   "'inf' is not a number", "row 1 has 2 values", "unsupported content type"):  # fmt: skip
        assert reason in messages
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == green, (
        described.get("FailureReason")
    )
    assert stream.failures == []
    alarm = boto3.client("cloudwatch").describe_alarms(AlarmNames=[endpoint.error_alarm])["MetricAlarms"][0]
    assert alarm["StateValue"] != "ALARM"
    # and CloudWatch counted them as the client's errors, none as the model's
    cw = boto3.client("cloudwatch")
    dims: Any = [{"Name": "EndpointName", "Value": endpoint.name}, {"Name": "VariantName", "Value": VARIANT}]

    def total(metric: str) -> float:
        points = cw.get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName=metric, Dimensions=dims,
            StartTime=started - timedelta(minutes=2), EndTime=local_cloud.now() + timedelta(minutes=2), Period=60, Statistics=["Sum"],
        )["Datapoints"]  # fmt: skip
        return sum(p["Sum"] for p in points)

    wait_until(
        lambda: total("Invocation4XXErrors") >= len(refused),
        what="every refusal counted",
        timeout=10,
        interval=0.2,
    )
    assert total("Invocation5XXErrors") == 0


@pytest.mark.bad_input("endpoint")
def test_a_body_over_the_6_mb_payload_limit_is_refused_before_the_model(endpoint: Endpoint) -> None:
    rt = boto3.client("sagemaker-runtime", config=NO_RETRIES)
    # GIVEN a body of exactly 6,291,456 bytes: it reaches the model (which refuses this one as bad CSV)
    with pytest.raises(rt.exceptions.ModelError, match="not valid CSV"):
        rt.invoke_endpoint(EndpointName=endpoint.name, Body="1" * 6_291_456, ContentType="text/csv")
    # WHEN a body is one byte over, THEN the service refuses it, naming the limit, and no model sees it
    with pytest.raises(rt.exceptions.ValidationError, match="less than or equal to 6291456"):
        rt.invoke_endpoint(EndpointName=endpoint.name, Body="1" * 6_291_457, ContentType="text/csv")
    _still_serves(endpoint)


def test_broken_green_trips_the_5xx_alarm_and_rolls_back(models: Models, endpoint: Endpoint) -> None:
    sm, sqs, bus = boto3.client("sagemaker"), boto3.client("sqs"), boto3.client("events")
    queue = sqs.create_queue(QueueName=f"hosting-alarms-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = f"hosting-alarm-{uuid.uuid4().hex[:6]}"
    bus.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
             "detail": {"alarmName": [endpoint.error_alarm]}}
        ),
    )  # fmt: skip
    bus.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
    blue = sm.describe_endpoint(EndpointName=endpoint.name)["EndpointConfigName"]
    green = models.registry.endpoint_config(models.broken, instances=2)  # a canary needs 2+

    with Stream(endpoint.name) as stream:
        stream.wait_for(10)
        described, _ = _update_and_watch(sm, endpoint, green, _deployment(endpoint, canary=50, bake=10.0))
        done = time.monotonic()
        stream.wait_for(stream.sent + 30)

    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == blue
    assert endpoint.error_alarm in described["FailureReason"] and "rolled back" in described["FailureReason"]
    # Only green's answers failed, each a ModelError carrying the model's 500; blue kept serving.
    assert stream.failures, "the broken green never got traffic"
    for _, failure in stream.failures:
        assert isinstance(failure, ClientError) and failure.response["Error"]["Code"] == "ModelError"
        answer: Any = failure.response
        assert answer["OriginalStatusCode"] == 500 and green in answer["LogStreamArn"]
    assert stream.sent == len(stream.answers) + len(stream.failures)
    assert {served for _, served in stream.answers} == {blue}
    assert [t for t, _ in stream.failures if t > done + 0.05] == []
    # CloudWatch's alarm went OK → ALARM, and EventBridge delivered that state change. (Its
    # state now may be OK again: the local clock's minutes are short, and green is gone.)
    alarm = boto3.client("cloudwatch").describe_alarms(AlarmNames=[endpoint.error_alarm])["MetricAlarms"][0]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2).get(
        "Messages", []
    )
    changes = [json.loads(m["Body"]) for m in messages]
    assert any(
        c["detail"]["state"]["value"] == "ALARM"
        and c["detail"]["previousState"]["value"] == "OK"
        and c["resources"] == [alarm["AlarmArn"]]
        for c in changes
    ), changes


def test_slow_green_trips_the_latency_alarm_and_rolls_back_losing_nothing(
    models: Models, endpoint: Endpoint
) -> None:
    sm = boto3.client("sagemaker")
    blue = sm.describe_endpoint(EndpointName=endpoint.name)["EndpointConfigName"]
    green = models.registry.endpoint_config(models.slow, instances=2)  # a canary needs 2+

    with Stream(endpoint.name, threads=2) as stream:
        stream.wait_for(10)
        described, _ = _update_and_watch(
            sm, endpoint, green, _deployment(endpoint, canary=50, bake=10.0, alarms=(endpoint.latency_alarm,))
        )
        stream.wait_for(stream.sent + 20)

    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == blue
    assert endpoint.latency_alarm in described["FailureReason"]
    assert stream.failures == []
    assert stream.sent == len(stream.answers)
    assert green in {served for _, served in stream.answers}, "the slow green never got traffic"


def test_green_failing_its_health_check_rolls_back(models: Models, endpoint: Endpoint) -> None:
    sm = boto3.client("sagemaker")
    blue = sm.describe_endpoint(EndpointName=endpoint.name)["EndpointConfigName"]
    green = models.registry.endpoint_config(models.corrupt, instances=2)  # a canary needs 2+

    with Stream(endpoint.name) as stream:
        described, _ = _update_and_watch(sm, endpoint, green, _deployment(endpoint))
    assert described["EndpointConfigName"] == blue and described["EndpointStatus"] == "InService"
    assert (
        "health check" in described["FailureReason"]
        and "failed to load the model" in described["FailureReason"]
    )
    assert stream.failures == [] and stream.sent == len(stream.answers)
    assert {served for _, served in stream.answers} == {blue}


def test_an_endpoint_whose_model_cannot_load_fails(models: Models) -> None:
    sm = boto3.client("sagemaker")
    name = f"hosting-bad-{uuid.uuid4().hex[:8]}"
    sm.create_endpoint(EndpointName=name, EndpointConfigName=models.registry.endpoint_config(models.corrupt))
    described = endpoint_settled(name)
    assert described["EndpointStatus"] == "Failed"
    assert "failed to load the model" in described["FailureReason"]
    with pytest.raises(ClientError, match="Failed, not InService"):
        boto3.client("sagemaker-runtime").invoke_endpoint(EndpointName=name, Body=ROW, ContentType="text/csv")
    with pytest.raises(ClientError, match=r"in-progress|InService"):
        sm.update_endpoint(EndpointName=name, EndpointConfigName=models.registry.endpoint_config(models.good))
    sm.delete_endpoint(EndpointName=name)


def test_update_endpoint_checks_the_deployment_config(models: Models, endpoint: Endpoint) -> None:
    sm = boto3.client("sagemaker")
    config = models.registry.endpoint_config(models.good)
    bad: Any = _deployment(endpoint)
    bad["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["CanarySize"]["Value"] = 60
    with pytest.raises(ClientError, match="at most 50%"):
        sm.update_endpoint(EndpointName=endpoint.name, EndpointConfigName=config, DeploymentConfig=bad)
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sm.update_endpoint(EndpointName=endpoint.name, EndpointConfigName="hosting-no-such-config")
    # A canary must be a strict part of the fleet: on a one-instance variant SageMaker refuses it.
    with pytest.raises(ClientError) as refused:
        sm.update_endpoint(
            EndpointName=endpoint.name, EndpointConfigName=config, DeploymentConfig=_deployment(endpoint)
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 50% of the variant's total instance count" in str(refused.value)
    assert sm.describe_endpoint(EndpointName=endpoint.name)["EndpointStatus"] == "InService"


def test_invocations_publish_metrics_and_capture_data(
    local_cloud: LocalCloud, models: Models, endpoint: Endpoint
) -> None:
    rt, s3 = boto3.client("sagemaker-runtime"), boto3.client("s3")
    inference_id = f"req-{uuid.uuid4().hex[:6]}"
    rt.invoke_endpoint(EndpointName=endpoint.name, Body=ROW, ContentType="text/csv", InferenceId=inference_id)

    def captured() -> tuple[dict[str, Any], str] | None:
        listing = s3.list_objects_v2(
            Bucket=models.registry.bucket, Prefix=f"datacapture/{endpoint.name}/{VARIANT}/"
        )
        for item in listing.get("Contents", []):
            for text in (
                s3.get_object(Bucket=models.registry.bucket, Key=item["Key"])["Body"]
                .read()
                .decode()
                .splitlines()
            ):
                record = json.loads(text)
                if record["eventMetadata"].get("inferenceId") == inference_id:
                    return record, item["Key"]
        return None

    line, key = wait_until(captured, what="the invocation's capture", timeout=10, interval=0.3)
    assert key.endswith(".jsonl") and len(key.split("/")) == 8  # datacapture/ep/variant/yyyy/mm/dd/hh/file
    assert line["eventVersion"] == "0" and line["eventMetadata"]["eventId"]
    assert line["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv", "mode": "INPUT", "data": ROW, "encoding": "CSV"
    }  # fmt: skip
    output = line["captureData"]["endpointOutput"]
    assert output["mode"] == "OUTPUT" and output["encoding"] == "JSON"
    assert "predictions" in json.loads(output["data"])

    cw = boto3.client("cloudwatch")
    now = local_cloud.now()
    stats = cw.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName="Invocations",
        Dimensions=[{"Name": "EndpointName", "Value": endpoint.name}, {"Name": "VariantName", "Value": VARIANT}],
        StartTime=now - timedelta(days=1), EndTime=now + timedelta(hours=1), Period=86400, Statistics=["Sum"],
    )  # fmt: skip
    assert stats["Datapoints"] and stats["Datapoints"][0]["Sum"] >= 1
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="AWS/SageMaker")["Metrics"]}
    assert {"Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency"} <= names


def test_cli_invoke_prints_predictions(endpoint: Endpoint, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from shared.local_cloud.hosting.cli import invoke

    app = typer.Typer()
    app.command()(invoke)
    runner = CliRunner()
    rows = tmp_path / "rows.csv"
    rows.write_text(f"{ROW}\n{ROW}\n")
    ok = runner.invoke(app, ["--endpoint", endpoint.name, "--file", str(rows)])
    assert ok.exit_code == 0, ok.output
    assert len(json.loads(ok.stdout.splitlines()[0])["predictions"]) == 2
    missing = runner.invoke(app, ["--endpoint", "hosting-nowhere", "--body", ROW])
    assert missing.exit_code == 1 and "endpoint hosting-nowhere not found" in missing.output
    no_file = runner.invoke(app, ["--endpoint", endpoint.name, "--file", str(tmp_path / "absent.csv")])
    assert no_file.exit_code == 2 and "cannot read" in no_file.output


# A process that owns model servers, then goes away: by LocalCloud.stop(), or killed outright.
_OWNER = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    model_dir, ending = Path(sys.argv[1]), sys.argv[2]
    if ending == "stop":
        import boto3
        from shared.local_cloud import LocalCloud
        from shared.local_cloud.workers import attach_all
        from shared.local_cloud.hosting import endpoints
        sys.path.insert(0, "tests")
        from hosting_fixture import Registry, model_tarball
        from iam_support import unconfined_role

        cloud = LocalCloud(port=0).start()
        attach_all(cloud)
        os.environ.update(cloud.env())
        unconfined_role(boto3.client("iam"), "dualloop-test-sagemaker")  # hosting reads as the model's role
        registry = Registry.create(boto3.client("s3"), boto3.client("sagemaker"))
        url = registry.upload("m/model.tar.gz", model_tarball(model_dir))
        sm = boto3.client("sagemaker")
        sm.create_endpoint(EndpointName="owned", EndpointConfigName=registry.endpoint_config(registry.package(url)))
        while sm.describe_endpoint(EndpointName="owned")["EndpointStatus"] != "InService":
            time.sleep(0.05)
        print(json.dumps(endpoints.current().pids), flush=True)
        cloud.stop()
        print("stopped", flush=True)
    else:
        from shared.local_cloud.hosting.model_server import ModelServerProcess
        from shared.local_cloud.hosting.artifacts import REPO_CODE_DIR
        server = ModelServerProcess(model_dir, REPO_CODE_DIR).start()
        server.wait_healthy(60)
        print(json.dumps([server.pid]), flush=True)
        time.sleep(600)  # until the test kills this process with SIGKILL: no cleanup code runs
    """
)


@pytest.mark.parametrize("ending", ["stop", "sigkill"])
def test_no_model_server_outlives_its_owner(ending: str, models: Models) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")}
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(models.model_dir), ending],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        assert owner.stdout is not None
        pids = json.loads(owner.stdout.readline() or "[]")
        assert pids, "the owner process did not start a model server"
        assert all(_alive(pid) for pid in pids)
        if ending == "stop":
            assert owner.stdout.readline().strip() == "stopped"
        else:
            owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
        wait_until(lambda: not any(_alive(pid) for pid in pids), what="the model servers ending", timeout=10)
    finally:
        if owner.poll() is None:
            owner.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead: only its parent has not reaped it yet.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(autouse=True, scope="module")
def _quiet_alarm_logs() -> Iterator[None]:
    import logging

    logger = logging.getLogger("shared.local_cloud.hosting")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)
