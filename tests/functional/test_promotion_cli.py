"""``dualloop promote``, ``stages``, ``approve`` and ``reject`` on the local cloud, without a
retrain: what they say about stages that serve nothing yet, the mistakes they refuse, and a
manual approval decided in prod's own account by another process while ``promote --approve
wait`` waits. Dev serves small models deployed by hand (a trained booster, as the hosting
tests do); the retrain and the rest of the story are tests/e2e/test_promotion.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hosting_fixture import model_tarball, train_model
from typer.testing import CliRunner
from wait_support import wait_until

from outer_orchestrator.local_stack import LocalStack
from outer_orchestrator.promotion import PROMOTED_FROM, Promotion, local_sessions
from outer_orchestrator.promotion_stack import provision_stage
from shared.cli import app
from shared.config import DualloopConfig, load_config, stage_config
from shared.local_cloud import LocalCloud, accounts
from shared.naming import Names

DEV, PROD = "123456789012", "210987654321"
REPO = Path(__file__).resolve().parents[2]
STAGES: list[dict[str, Any]] = [
    {"name": "dev", "account_id": DEV, "region": "us-east-1"},
    {
        "name": "prod",
        "account_id": PROD,
        "region": "us-east-1",
        # x100 local clock: prod's approvers have 864 s, far longer than the test waits
        "approval": {"mode": "manual", "timeout_seconds": 86400},
    },
]


@pytest.fixture(scope="module")
def cfg(local_cloud: LocalCloud) -> DualloopConfig:
    cfg = load_config(project=f"pcli-{uuid.uuid4().hex[:6]}", stages=STAGES)
    provision_stage(cfg, "prod", accounts.session(PROD, "us-east-1"))
    return cfg


@pytest.fixture(scope="module")
def config_file(cfg: DualloopConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("promotion-cli") / "dualloop.yaml"
    path.write_text(yaml.safe_dump({"project": cfg.project, "stages": STAGES}))
    return path


def test_stages_lists_each_stage_in_its_account(config_file: Path) -> None:
    shown = CliRunner().invoke(app, ["stages", "--json", "--config", str(config_file)])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)
    assert [
        (r["stage"], r["account_id"], r["approval"], r["status"], r["model_package_arn"]) for r in rows
    ] == [
        ("dev", DEV, "automatic", None, None),
        ("prod", PROD, "manual", None, None),
    ]


def test_promote_refuses_the_first_stage_and_an_unknown_package(config_file: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["promote", "arn:x", "--to", "dev", "--config", str(config_file)])
    assert first.exit_code == 2 and "name a stage after dev: one of prod" in first.output
    nothing = runner.invoke(app, ["promote", "--latest", "--to", "prod", "--config", str(config_file)])
    assert nothing.exit_code == 2 and "Name a MODEL_PACKAGE_ARN, or pass --latest" in nothing.output
    dev_arn = f"arn:aws:sagemaker:us-east-1:{DEV}:model-package/{yaml.safe_load(config_file.read_text())['project']}-dev-models/9"
    unknown = runner.invoke(app, ["promote", dev_arn, "--to", "prod", "--config", str(config_file)])
    assert unknown.exit_code == 1 and "is not in stage dev's registry" in unknown.output, unknown.output


def _pending(config_file: Path) -> str:
    """A package awaiting approval in prod's registry, in prod's account (no retrain needed)."""
    project = yaml.safe_load(config_file.read_text())["project"]
    sagemaker = accounts.session(PROD, "us-east-1").client("sagemaker")
    container = {"Image": "dualloop/model:1", "ModelDataUrl": f"s3://{project}-art/model.tar.gz"}
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=f"{project}-prod-models",
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification={
                "Containers": [container],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )["ModelPackageArn"]
    )


def _status(arn: str) -> str:
    sagemaker = accounts.session(PROD, "us-east-1").client("sagemaker")
    return str(sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"])


def test_approve_acts_in_the_account_the_package_arn_names(config_file: Path) -> None:
    # GIVEN a package awaiting approval in prod's registry, in prod's account (not the caller's)
    arn = _pending(config_file)
    assert f":{PROD}:" in arn
    # WHEN it is approved by its ARN
    approved = CliRunner().invoke(app, ["approve", arn, "--reason", "reviewed", "--config", str(config_file)])
    # THEN the decision is made in prod's registry
    assert approved.exit_code == 0, approved.output
    assert _status(arn) == "Approved"


def test_reject_latest_looks_in_the_named_stage(config_file: Path) -> None:
    # GIVEN a package awaiting approval in prod's registry
    arn = _pending(config_file)
    # WHEN the newest pending package of stage prod is rejected
    rejected = CliRunner().invoke(
        app, ["reject", "--latest", "--stage", "prod", "--reason", "no", "--config", str(config_file)]
    )
    # THEN it is that one, in prod's account
    assert rejected.exit_code == 0, rejected.output
    assert arn in rejected.output and _status(arn) == "Rejected"
    # ... and a stage that is not configured, or a package of no stage's registry, is refused
    runner = CliRunner()
    unknown = runner.invoke(app, ["approve", "--latest", "--stage", "qa", "--config", str(config_file)])
    assert unknown.exit_code == 2 and "--stage qa: not a configured stage (dev, prod)" in unknown.output
    elsewhere = arn.replace(f":{PROD}:", ":111122223333:")
    foreign = runner.invoke(app, ["approve", elsewhere, "--config", str(config_file)])
    assert foreign.exit_code == 1 and "which is no configured stage's registry" in foreign.output


def test_run_promote_to_refuses_an_unknown_stage_before_provisioning(
    config_file: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    project = yaml.safe_load(config_file.read_text())["project"]
    # WHEN run is asked to promote to a stage that is not configured, or with no stages at all
    unknown = runner.invoke(app, ["run", "--promote-to", "qa", "--config", str(config_file)])
    single = tmp_path / "single.yaml"
    single.write_text(yaml.safe_dump({"project": project}))
    none = runner.invoke(app, ["run", "--promote-to", "prod", "--config", str(single)])
    # THEN each exits 2 with one sentence, and nothing was provisioned in the first stage
    assert unknown.exit_code == 2, unknown.output
    assert "--promote-to: name a stage after dev: one of prod (not 'qa')." in unknown.output
    assert none.exit_code == 2, none.output
    assert "--promote-to: there is no stage to promote to" in none.output
    machines = accounts.session(DEV, "us-east-1").client("stepfunctions").list_state_machines()
    assert not [m for m in machines["stateMachines"] if m["name"].startswith(f"{project}-dev")]


# ---- a manual approval in prod's account, decided by another process --------------------------


@pytest.fixture(scope="module")
def serve_in_dev(cfg: DualloopConfig, tmp_path_factory: pytest.TempPathFactory) -> Callable[[], str]:
    """Deploys a new approved package of dev's registry on dev's endpoint (what a retrain
    leaves behind, without one): a small trained booster in dev's artifact bucket."""
    dev = stage_config(cfg, "dev")
    LocalStack(dev).provision()
    names = Names(dev)
    sagemaker = accounts.session(DEV, "us-east-1").client("sagemaker")
    s3 = accounts.session(DEV, "us-east-1").client("s3")
    model = model_tarball(train_model(tmp_path_factory.mktemp("dev-model"), rows=300, rounds=5))

    def serve() -> str:
        key = f"models/{uuid.uuid4().hex[:8]}/model.tar.gz"
        s3.put_object(Bucket=names.artifact_bucket, Key=key, Body=model)
        arn = str(
            sagemaker.create_model_package(
                ModelPackageGroupName=names.model_package_group,
                ModelApprovalStatus="Approved",
                InferenceSpecification={
                    "Containers": [
                        {
                            "Image": "local/dualloop-inference",
                            "ModelDataUrl": f"s3://{names.artifact_bucket}/{key}",
                            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                        }
                    ],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
            )["ModelPackageArn"]
        )
        name = f"{names.base}-{arn.rsplit('/', 1)[-1]}-{uuid.uuid4().hex[:4]}"
        sagemaker.create_model(
            ModelName=name,
            ExecutionRoleArn=names.sagemaker_role_arn,
            PrimaryContainer={"ModelPackageName": arn},
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        try:
            sagemaker.update_endpoint(EndpointName=names.endpoint, EndpointConfigName=name)
        except sagemaker.exceptions.ClientError:
            sagemaker.create_endpoint(EndpointName=names.endpoint, EndpointConfigName=name)
        promotion = Promotion(cfg, local_sessions())
        wait_until(
            lambda: (
                (now := promotion.serving(promotion.spec("dev"))).status == "InService"
                and now.model_package_arn == arn
            ),
            what=f"dev's endpoint serving {arn}",
            timeout=120,
            interval=0.1,
        )
        return arn

    return serve


class Approver(threading.Thread):
    """Another process deciding prod's copy of ``source`` with ``dualloop DECISION ARN``, once the
    promotion waits for it (its execution in prod's account has entered AwaitApproval)."""

    def __init__(self, cfg: DualloopConfig, config_file: Path, source: str, *decision: str) -> None:
        super().__init__(daemon=True)
        self.cfg, self.config_file, self.source, self.decision = cfg, config_file, source, decision
        self.copy_arn = ""
        self.outcome: subprocess.CompletedProcess[str] | None = None
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self.copy_arn = wait_until(
                self._waiting_copy, what="prod's promotion awaiting approval", timeout=120
            )
            self.outcome = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from shared.cli import main; main()",
                    *self.decision[:1],
                    self.copy_arn,
                    *self.decision[1:],
                    "--config",
                    str(self.config_file),
                ],
                check=False,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                capture_output=True,
                text=True,
                timeout=120,
            )
        except BaseException as exc:  # reported by the test; stop the promotion that waits for it
            self.failure = exc
            self._stop_waiting_promotions()

    def _stop_waiting_promotions(self) -> None:
        sfn = accounts.session(PROD, "us-east-1").client("stepfunctions")
        arn = Names(stage_config(self.cfg, "prod")).promotion_state_machine_arn
        for execution in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            sfn.stop_execution(executionArn=execution["executionArn"], error="ApproverFailed")

    def _waiting_copy(self) -> str | None:
        session = accounts.session(PROD, "us-east-1")
        names = Names(stage_config(self.cfg, "prod"))
        sagemaker, sfn = session.client("sagemaker"), session.client("stepfunctions")
        copies = [
            p["ModelPackageArn"]
            for p in sagemaker.list_model_packages(
                ModelPackageGroupName=names.model_package_group, ModelApprovalStatus="PendingManualApproval"
            )["ModelPackageSummaryList"]
            if sagemaker.describe_model_package(ModelPackageName=p["ModelPackageArn"])
            .get("CustomerMetadataProperties", {})
            .get(PROMOTED_FROM)
            == self.source
        ]
        running = sfn.list_executions(
            stateMachineArn=names.promotion_state_machine_arn, statusFilter="RUNNING"
        )["executions"]
        waiting = any(
            e.get("stateEnteredEventDetails", {}).get("name") == "AwaitApproval"
            for r in running
            for e in sfn.get_execution_history(executionArn=r["executionArn"], maxResults=1000)["events"]
        )
        return copies[0] if copies and waiting else None

    def result(self) -> subprocess.CompletedProcess[str]:
        self.join(timeout=240)
        if self.failure is not None:
            raise self.failure
        assert self.outcome is not None, "the approver never ran"
        return self.outcome


def test_a_manual_stage_in_another_account_waits_for_its_approvers(
    cfg: DualloopConfig, config_file: Path, serve_in_dev: Callable[[], str]
) -> None:
    promotion = Promotion(cfg, local_sessions())
    runner = CliRunner()
    # GIVEN dev serves an approved package, and prod (another account) asks for a manual approval
    first = serve_in_dev()

    # WHEN it is promoted with --approve wait, and prod's approver, in another process, approves
    # prod's copy by its ARN once the promotion waits
    approver = Approver(cfg, config_file, first, "approve", "--reason", "reviewed in prod")
    approver.start()
    promoted = runner.invoke(
        app, ["promote", first, "--to", "prod", "--approve", "wait", "--json", "--config", str(config_file)]
    )

    # THEN the approval was made in prod's account, and prod deployed the copy
    approved = approver.result()
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert f"Approved: {approver.copy_arn}" in approved.stdout and f":{PROD}:" in approver.copy_arn
    assert promoted.exit_code == 0, promoted.output
    [step] = json.loads(promoted.stdout)
    assert (step["status"], step["model_package_arn"]) == ("Promoted", approver.copy_arn), step["message"]
    assert promotion.serving(promotion.spec("prod")).model_package_arn == approver.copy_arn

    # WHEN dev then serves a second package, whose promotion prod's approver rejects
    second = serve_in_dev()
    rejecter = Approver(cfg, config_file, second, "reject", "--reason", "latency too high for prod")
    rejecter.start()
    stopped = runner.invoke(
        app, ["promote", second, "--to", "prod", "--approve", "wait", "--json", "--config", str(config_file)]
    )

    # THEN the promotion stops with the reason, and prod keeps serving the first package
    rejected = rejecter.result()
    assert rejected.returncode == 0, rejected.stdout + rejected.stderr
    assert stopped.exit_code == 1, stopped.output
    [step] = json.loads(stopped.stdout)
    assert step["status"] == "Rejected", step["message"]
    assert "latency too high for prod" in step["message"]
    assert f"stage prod keeps serving {approver.copy_arn}" in step["message"]
    assert promotion.serving(promotion.spec("prod")).model_package_arn == approver.copy_arn
