"""Approve, then reject, before the deployment starts: nothing is deployed (issue 17, item 3).

The approval relay answers the waiting retrain when it hears ``Approved``; a rejection that
follows before the deployment starts used to change nothing, and the retrain deployed a
``Rejected`` model. The state machine now reads the package's status again
(``ConfirmApproval``) right before it deploys. The relay is driven by hand here, with its rule
disabled, so the order "approved and answered, then rejected" is exact.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from event_support import model_package_event
from wait_support import wait_until

from inner_pipeline.upsert import upsert_pipeline
from outer_orchestrator.handlers import approval_relay
from outer_orchestrator.handlers.clients import Clients
from outer_orchestrator.local_stack import LocalStack
from outer_orchestrator.runner import Retrain, upload_data
from shared.config import load_config
from shared.demo_data import generate_transactions, write_dataset
from shared.local_cloud import LocalCloud
from shared.naming import Names


def test_a_package_rejected_after_its_approval_is_not_deployed(
    local_cloud: LocalCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a retrain waiting for approval, whose approval events reach no relay by themselves
    cfg = load_config(project=f"withdraw-{uuid.uuid4().hex[:6]}")
    LocalStack(cfg).provision()
    upsert_pipeline(cfg)
    names = Names(cfg)
    boto3.client("events").disable_rule(Name=names.model_package_state_rule)
    path = tmp_path / "data.csv"
    write_dataset(generate_transactions(3000, seed=7), path)
    retrain = Retrain(cfg)
    execution = retrain.start(upload_data(cfg, path, uuid.uuid4().hex[:8]))
    dynamodb, sm = boto3.client("dynamodb"), boto3.client("sagemaker")
    _await_submitted(boto3.client("stepfunctions"), execution, "AwaitApproval")
    package = dynamodb.scan(TableName=names.token_table)["Items"][0]["model_package_arn"]["S"]

    # WHEN someone approves, then rejects, and only then the Approved event is relayed
    sm.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
    sm.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Rejected", ApprovalDescription="no")
    for key, value in {
        "DUALLOOP_TOKEN_TABLE": names.token_table,
        "DUALLOOP_MODEL_PACKAGE_GROUP": names.model_package_group,
    }.items():
        monkeypatch.setenv(key, value)
    event = model_package_event(package, "Approved", names.model_package_group)
    # The relay itself now ignores the late Approved event (the registry says Rejected) ...
    assert approval_relay.handler(event, None)["ignored"] == "not confirmed by the model registry"
    # ... so the race left is the relay answering while the package was still Approved and the
    # rejection landing before the state machine moves on: made exact here by answering as it did.
    assert approval_relay.answer_decision(Clients(dynamodb=dynamodb), package, "Approved", None) is True
    result = retrain.follow(execution, approve="wait", timeout=300)

    # THEN the retrain ends as not approved, before any deployment step, with the lock released
    assert (result.status, result.error) == ("FAILED", "ModelNotApproved"), (result.error, result.cause)
    visited = [s["name"] for s in result.states]
    assert "ConfirmApproval" in visited and "ApprovalWithdrawn" in visited
    assert "CreateModel" not in visited and "CreateEndpoint" not in visited
    assert sm.list_endpoints(NameContains=names.endpoint)["Endpoints"] == []
    assert dynamodb.scan(TableName=names.lock_table)["Items"] == []


def _await_submitted(sfn: Any, execution: str, state: str, timeout: float = 300) -> None:
    """Wait until ``state``'s Lambda has returned (TaskSubmitted), not merely until it started.

    The token's item is written at the start of ``store_token``; a decision made between that
    write and the handler's own status check is answered by the handler, not by the relay.
    """

    def submitted() -> bool:
        events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        entered = [e["id"] for e in events if e.get("stateEnteredEventDetails", {}).get("name") == state]
        return bool(entered) and any(e["type"] == "TaskSubmitted" and e["id"] > entered[-1] for e in events)

    wait_until(submitted, what=f"the retrain's {state} task being submitted", timeout=timeout, interval=0.2)
