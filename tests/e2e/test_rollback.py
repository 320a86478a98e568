"""A blue/green rollback through the whole outer loop, on the local cloud.

A first retrain deploys a good model. A second retrain trains, evaluates and registers a
model that passes the quality gate; then, between registration and approval, its model
artifact in S3 is overwritten with one that loads (so the green fleet passes its health
check) but cannot score: its booster expects features under other names than its
``preprocessing.json`` gives, the training/serving skew of an out-of-band re-upload. The
approver approves it, the outer loop updates the live endpoint blue/green (a canary), and
steady traffic during the bake sends the canary's share to green, which answers 500; the
5XX alarm fires, SageMaker (the local cloud) rolls back, and the state machine ends the
retrain as ``DeploymentRolledBack``: no product code knows it is being tested.

What is asserted is what a client and an operator see: the execution's error, the endpoint
back on the first endpoint config with a ``FailureReason`` naming the alarm, every request
answered (the only failures are green's own 500s, as ``ModelError``, during the canary), the
lock released, the failed package not recorded as deployed, and the rollback notification.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from hosting_fixture import ROW, tarball
from inbox_support import drain_inbox

from inner_pipeline.upsert import upsert_pipeline
from outer_orchestrator.local_stack import LocalStack
from outer_orchestrator.runner import Retrain, RunResult, upload_data
from outer_orchestrator.status import collect
from shared.config import DualloopConfig, load_config
from shared.demo_data import generate_transactions, write_dataset
from shared.local_cloud import LocalCloud
from shared.naming import Names

ROWS = 3000
CONFIG_HEADER = "x-dualloop-endpoint-config"  # which endpoint config's fleet answered (local cloud)
MODEL_FILE = "xgboost-model.json"  # the booster inside model.tar.gz (inner_pipeline/code/common.py)
# No client retries: a request that failed or vanished must show up in the counts.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=30)


def _data(cfg: DualloopConfig, tmp_path: Path, *, seed: int) -> str:
    path = tmp_path / f"{uuid.uuid4().hex[:6]}.csv"
    write_dataset(generate_transactions(ROWS, seed=seed), path)
    return upload_data(cfg, path, uuid.uuid4().hex[:8])


def _visited(result: RunResult) -> list[str]:
    return [s["name"] for s in result.states]


def _json_bodies(bodies: list[str]) -> list[Any]:
    """The notifications the ASL publishes as JSON (the approval request is prose)."""
    return [json.loads(b) for b in bodies if b.lstrip().startswith("{")]


def _model_data_url(package_arn: str) -> str:
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=package_arn)
    return str(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])


def _skew_model_artifact(url: str) -> None:
    """Overwrite ``url`` (a model.tar.gz) with the same model, its features renamed.

    The booster still loads, so the model server starts and answers /ping; but it now
    expects features that preprocessing.json does not name, so every prediction raises
    XGBoost's feature-name mismatch in the model server: HTTP 500 for every request.
    """
    import xgboost as xgb

    s3 = boto3.client("s3")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    files: dict[str, bytes] = {}
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
        for member in archive.getmembers():
            extracted = archive.extractfile(member) if member.isfile() else None
            if extracted is not None:
                files[member.name] = extracted.read()
    name = next(n for n in files if Path(n).name == MODEL_FILE)
    booster = xgb.Booster()
    booster.load_model(bytearray(files[name]))
    assert booster.feature_names, "train.py saves the feature names with the model"
    booster.feature_names = [f"{f}_v2" for f in booster.feature_names]
    files[name] = bytes(booster.save_raw(raw_format="json"))
    s3.put_object(Bucket=bucket, Key=key, Body=tarball(files))


@dataclass
class Traffic:
    """Steady requests at an endpoint, one every ``interval`` seconds; every request is counted."""

    endpoint: str
    interval: float = 0.02
    sent: int = 0
    answers: list[tuple[float, str]] = field(default_factory=list)  # (time, endpoint config that served)
    failures: list[tuple[float, Exception]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rollback-traffic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _run(self) -> None:
        client = boto3.client("sagemaker-runtime", config=NO_RETRIES)
        while not self._stop.is_set():
            self.sent += 1
            try:
                response = client.invoke_endpoint(
                    EndpointName=self.endpoint, Body=ROW, ContentType="text/csv"
                )
                response["Body"].read()
                served = response["ResponseMetadata"]["HTTPHeaders"][CONFIG_HEADER]
                self.answers.append((time.monotonic(), served))
            except Exception as exc:  # counted here, asserted on by the test
                self.failures.append((time.monotonic(), exc))
            self._stop.wait(self.interval)


def test_a_broken_model_is_rolled_back_and_the_good_one_keeps_serving(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    # The shipped deployment policy: CANARY 10 %, a 300 s bake (3 s at clock x100), the
    # endpoint's 5XX alarm (Sum >= 1 over 60 s) and latency alarm as rollback alarms.
    cfg = load_config(project=f"rollback-{uuid.uuid4().hex[:6]}")
    LocalStack(cfg).provision()
    upsert_pipeline(cfg)
    names = Names(cfg)
    sagemaker = boto3.client("sagemaker")
    retrain = Retrain(cfg)

    # 1. A good model goes live (CreateEndpoint).
    first = retrain.follow(retrain.start(_data(cfg, tmp_path, seed=7)), approve="auto", timeout=600)
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    assert first.output is not None and first.model_package_arn is not None
    blue = first.output["endpoint_config_name"]
    good_url = _model_data_url(first.model_package_arn)
    drain_inbox(cfg)  # the first retrain's own notifications

    # 2. The second model passes the pipeline's quality gate and is registered; before anyone
    #    approves it, its artifact is overwritten in S3. Traffic starts with the approval and
    #    runs through the whole blue/green update, until the retrain has ended.
    traffic = Traffic(names.endpoint)
    broken: dict[str, str] = {}

    def skew_then_approve(package_arn: str) -> bool:
        url = _model_data_url(package_arn)
        assert url != good_url, "each training job writes its own model.tar.gz"
        _skew_model_artifact(url)
        broken["package"] = package_arn
        traffic.start()
        return True

    try:
        splits: list[dict[str, Any]] = []
        second = retrain.follow(
            retrain.start(_data(cfg, tmp_path, seed=8)),
            approve="prompt",
            ask=skew_then_approve,
            progress=lambda kind, data: splits.append(data) if kind == "traffic" else None,
            timeout=600,
        )
        ended = time.monotonic()
        time.sleep(0.3)  # a little traffic after the end: the good model only
    finally:
        traffic.stop()

    # The model passed the inner loop, was approved, and the retrain ended as a rollback.
    assert {s["step"]: s["status"] for s in second.inner_steps}.get("RegisterModel") == "Succeeded"
    assert second.approval == "Approved" and second.model_package_arn == broken["package"]
    assert second.status == "FAILED", (second.error, second.cause)
    assert second.error == "DeploymentRolledBack", (second.error, second.cause)
    visited = _visited(second)
    assert "UpdateEndpoint" in visited and "CreateEndpoint" not in visited
    assert visited[-6:] == [
        "ReadRollbackReason",
        "RollbackReasonGiven",
        "KeepRollbackReason",
        "MarkRolledBack",
        "NotifyRolledBack",
        "ReleaseLockAfterRollback",
    ]
    assert "MarkDeployed" not in visited

    # The endpoint is back on the first endpoint config, and says why.
    endpoint = sagemaker.describe_endpoint(EndpointName=names.endpoint)
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == blue
    reason = endpoint.get("FailureReason", "")
    assert "rolled back" in reason and f"{names.error_alarm} went to ALARM" in reason, reason
    # What `dualloop run` showed meanwhile: blue serving beside green, then blue alone and why.
    assert any([f["fleet"] for f in split["fleets"]] == ["blue", "green"] for split in splits), splits
    assert splits[-1]["status"] == "InService" and splits[-1]["failure_reason"] == reason, splits[-1]
    assert [(f["fleet"], f["config"], f["share"]) for f in splits[-1]["fleets"]] == [("serving", blue, 1.0)]
    assert names.latency_alarm not in reason, reason

    # Every request was answered. The good model (blue) answered everything but the canary's
    # share during the bake; that share went to the broken green fleet, whose answers, and
    # only those, failed: each a ModelError (424) carrying green's 500. (The 5XX alarm fires
    # on the first of them, so there are few.) Nothing failed once the retrain had ended.
    assert traffic.sent == len(traffic.answers) + len(traffic.failures)
    assert {served for _, served in traffic.answers} == {blue}
    assert traffic.failures, "the broken model never got traffic, so nothing could trip the alarm"
    green: set[str] = set()
    for _, failure in traffic.failures:
        assert isinstance(failure, ClientError), repr(failure)
        answer: Any = failure.response
        assert answer["Error"]["Code"] == "ModelError", answer
        assert answer["OriginalStatusCode"] == 500, answer
        assert "feature_names mismatch" in answer["OriginalMessage"], answer["OriginalMessage"]
        green.add(answer["LogStreamArn"].removeprefix("local:").split("/")[0])
    assert len(green) == 1 and blue not in green, green
    assert all(t < ended for t, _ in traffic.failures)
    first_failure = min(t for t, _ in traffic.failures)
    assert any(t > first_failure for t, _ in traffic.answers)  # blue kept answering meanwhile

    # The lock is free; the failed package is approved but not recorded as deployed: it is
    # recorded as rolled back, by which retrain and when (its pipeline metadata intact); the
    # good package is still recorded as deployed, on the first endpoint config.
    assert boto3.client("dynamodb").scan(TableName=names.lock_table)["Items"] == []
    failed = sagemaker.describe_model_package(ModelPackageName=broken["package"])
    assert failed["ModelApprovalStatus"] == "Approved"
    metadata = failed.get("CustomerMetadataProperties", {})
    assert sorted(k for k in metadata if k.startswith("dualloop:")) == [
        "dualloop:rolled-back-at",
        "dualloop:rolled-back-by",
    ], metadata
    by = second.execution_arn.rsplit(":", 1)[-1]
    assert metadata["dualloop:rolled-back-by"] == by
    assert metadata.get("QualityMetric") == cfg.quality.metric
    good = sagemaker.describe_model_package(ModelPackageName=first.model_package_arn)[
        "CustomerMetadataProperties"
    ]
    assert good["dualloop:deployed-endpoint"] == names.endpoint and good["dualloop:endpoint-config"] == blue
    packages = {
        p["version"]: (p["deployed_to"], p["serving"], p["rolled_back"]) for p in collect(cfg).packages
    }
    rolled_back = f"by {by} at {metadata['dualloop:rolled-back-at']}"
    assert packages == {1: (names.endpoint, True, None), 2: (None, False, rolled_back)}

    # One JSON notification: NotifyRolledBack's, the endpoint's status, (first) config and why.
    # Its subject says "rolled back"; the local inbox keeps bodies only (raw delivery).
    assert _json_bodies(drain_inbox(cfg)) == [
        {"status": "InService", "config_name": blue, "failure_reason": reason}
    ]

    # 3. The lock is free for the next retrain: a third start takes it (no AlreadyRunning). It
    #    points at an empty location, so it ends at Ingest in a second instead of retraining,
    #    and releases the lock again.
    third = retrain.follow(
        retrain.start(f"s3://{names.raw_bucket}/manual/{uuid.uuid4().hex[:8]}/"), timeout=120
    )
    assert _visited(third)[:4] == ["ValidateInput", "AcquireLock", "PrepareRun", "Ingest"]
    assert "AlreadyRunning" not in _visited(third)
    assert third.status == "FAILED" and "no data files" in (third.cause or ""), (third.error, third.cause)
    assert boto3.client("dynamodb").scan(TableName=names.lock_table)["Items"] == []
