"""The whole dual loop on the local cloud, one test per path through the outer loop.

Each test provisions its own project (so locks and pipelines do not interfere), runs the
real ASL, the real Glue scripts on Spark, the real pipeline definition through the local
executor, and the real relay handlers, then asserts the final status, the states visited
and what was (not) created.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import boto3
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


def _project(local_cloud: LocalCloud, prefix: str, **overrides: Any) -> DualloopConfig:
    cfg = load_config(project=f"{prefix}-{uuid.uuid4().hex[:6]}", **overrides)
    LocalStack(cfg).provision()
    upsert_pipeline(cfg)
    return cfg


def _data(cfg: DualloopConfig, tmp_path: Path, *, rows: int = ROWS, corrupt: bool = False) -> str:
    frame = generate_transactions(rows, seed=7)
    if corrupt:
        frame.loc[frame.index[:50], "amount"] = None  # missing values
        frame.loc[frame.index[50:60], "amount"] = 1e9  # out of range
        frame.loc[frame.index[60:70], "transaction_id"] = frame["transaction_id"].iloc[0]  # duplicate ids
    path = tmp_path / f"{uuid.uuid4().hex[:6]}.csv"
    write_dataset(frame, path)
    return upload_data(cfg, path, uuid.uuid4().hex[:8])


def _visited(result: RunResult) -> list[str]:
    return [s["name"] for s in result.states]


def _packages(cfg: DualloopConfig) -> list[dict[str, Any]]:
    return boto3.client("sagemaker").list_model_packages(
        ModelPackageGroupName=Names(cfg).model_package_group
    )["ModelPackageSummaryList"]


def test_happy_path_trains_registers_approves_and_deploys(local_cloud: LocalCloud, tmp_path: Path) -> None:
    cfg = _project(local_cloud, "happy")
    retrain = Retrain(cfg)
    result = retrain.follow(retrain.start(_data(cfg, tmp_path)), approve="auto", timeout=600)

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    visited = _visited(result)
    for state in (
        "AcquireLock",
        "Ingest",
        "DataQuality",
        "RunInnerPipeline",
        "AwaitApproval",
        "CreateModel",
        "CreateEndpoint",
        "MarkDeployed",
        "ReleaseLock",
    ):
        assert state in visited
    assert result.quality is not None and result.quality["passed"] is True
    assert result.approval == "Approved"
    package = boto3.client("sagemaker").describe_model_package(ModelPackageName=result.model_package_arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["CustomerMetadataProperties"]["dualloop:deployed-endpoint"] == Names(cfg).endpoint
    assert {s["step"] for s in result.inner_steps} >= {"Preprocess", "Train", "Evaluate", "CheckQuality"}
    # The cost budget: at most 40 state transitions, endpoint polling excluded.
    assert result.state_transitions - result.polling_transitions <= 40
    lock = boto3.client("dynamodb").scan(TableName=Names(cfg).lock_table)["Items"]
    assert lock == []  # released

    status = collect(cfg)  # what `dualloop status` shows
    assert status.executions[0]["trigger"] == "manual" and status.executions[0]["status"] == "SUCCEEDED"
    assert status.packages[0]["approval"] == "Approved"
    assert status.packages[0]["deployed_to"] == Names(cfg).endpoint
    assert status.endpoint is not None and status.endpoint["status"] == "InService"
    assert status.lock is None


def test_bad_data_stops_before_any_pipeline_and_names_the_failed_rules(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    cfg = _project(local_cloud, "baddata")
    retrain = Retrain(cfg)
    result = retrain.follow(retrain.start(_data(cfg, tmp_path, corrupt=True)), timeout=300)

    assert result.status == "FAILED"
    assert result.error == "DataQualityFailed"
    assert "RunInnerPipeline" not in _visited(result)
    assert (
        boto3.client("sagemaker").list_pipeline_executions(PipelineName=Names(cfg).pipeline)[
            "PipelineExecutionSummaries"
        ]
        == []
    )
    failed = " ".join(result.quality["failed_rules"]) if result.quality else ""
    assert "amount" in failed and "transaction_id" in failed
    notes = [json.loads(body) for body in drain_inbox(cfg)]
    assert any("transaction_id" in " ".join(n.get("failed_rules", [])) for n in notes)


def test_inner_quality_gate_failure_fails_the_outer_loop_with_its_reason(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    cfg = _project(local_cloud, "gate", quality={"metric": "auc", "threshold": 0.9999})
    retrain = Retrain(cfg)
    result = retrain.follow(retrain.start(_data(cfg, tmp_path)), timeout=600)

    assert result.status == "FAILED"
    assert result.error == "InnerPipelineFailed"
    assert "auc" in (result.cause or "") and "0.9999" in (result.cause or "")
    assert _packages(cfg) == []
    assert "AwaitApproval" not in _visited(result)


def test_rejection_stops_without_deploying(local_cloud: LocalCloud, tmp_path: Path) -> None:
    cfg = _project(local_cloud, "reject")
    retrain = Retrain(cfg)
    result = retrain.follow(
        retrain.start(_data(cfg, tmp_path)), approve="prompt", ask=lambda arn: False, timeout=600
    )

    assert result.status == "FAILED"
    assert result.error == "ModelNotApproved"
    assert "CreateModel" not in _visited(result)
    assert [p["ModelApprovalStatus"] for p in _packages(cfg)] == ["Rejected"]


def test_approval_timeout_rejects_the_package(local_cloud: LocalCloud, tmp_path: Path) -> None:
    cfg = _project(local_cloud, "timeout", approval_timeout_seconds=120)  # 1.2 s on the local clock
    retrain = Retrain(cfg)
    result = retrain.follow(retrain.start(_data(cfg, tmp_path)), approve="wait", timeout=600)

    assert result.status == "FAILED"
    assert result.error == "ModelNotApproved"
    assert "RejectOnTimeout" in _visited(result)
    package = boto3.client("sagemaker").describe_model_package(
        ModelPackageName=_packages(cfg)[0]["ModelPackageArn"]
    )
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "no approval within 120 seconds" in package["ApprovalDescription"]


def test_two_concurrent_starts_one_runs_one_ends_already_running(
    local_cloud: LocalCloud, tmp_path: Path
) -> None:
    cfg = _project(local_cloud, "lock", approval_timeout_seconds=120)
    raw = _data(cfg, tmp_path)
    retrain = Retrain(cfg)
    first = retrain.start(raw)
    second = retrain.start(raw)
    results: dict[str, RunResult] = {}
    threads = [
        threading.Thread(
            target=lambda a=arn: results.__setitem__(a, retrain.follow(a, approve="wait", timeout=600))
        )
        for arn in (first, second)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = sorted(_visited(r)[-1] for r in results.values())
    assert "AlreadyRunning" in outcomes
    early = next(r for r in results.values() if _visited(r)[-1] == "AlreadyRunning")
    assert early.status == "SUCCEEDED"
    assert "Ingest" not in _visited(early)


def test_second_retrain_updates_the_endpoint_blue_green(local_cloud: LocalCloud, tmp_path: Path) -> None:
    cfg = _project(
        local_cloud, "bluegreen", deployment={"wait_interval_seconds": 60, "termination_wait_seconds": 0}
    )
    retrain = Retrain(cfg)
    first = retrain.follow(retrain.start(_data(cfg, tmp_path)), approve="auto", timeout=600)
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    assert "CreateEndpoint" in _visited(first)

    second = retrain.follow(retrain.start(_data(cfg, tmp_path, rows=ROWS + 500)), approve="auto", timeout=600)

    assert second.status == "SUCCEEDED", (second.error, second.cause)
    assert "UpdateEndpoint" in _visited(second) and "CreateEndpoint" not in _visited(second)
    endpoint = boto3.client("sagemaker").describe_endpoint(EndpointName=Names(cfg).endpoint)
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == second.output["endpoint_config_name"]  # green took over
    runtime = boto3.client("sagemaker-runtime")
    row = "12.5,grocery,14,3.2,1,4,0.8,0"
    answer = runtime.invoke_endpoint(
        EndpointName=Names(cfg).endpoint, ContentType="text/csv", Accept="text/csv", Body=row
    )
    assert 0.0 <= float(answer["Body"].read().decode().strip()) <= 1.0  # a real score from the new model
    deployed = [p for p in collect(cfg).packages if p["deployed_to"]]
    assert {p["version"] for p in deployed} == {1, 2}
    assert {p["version"]: p["serving"] for p in deployed} == {1: False, 2: True}  # 2 replaced 1
