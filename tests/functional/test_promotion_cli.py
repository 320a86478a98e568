"""``dualloop promote`` and ``dualloop stages`` on the local cloud, without a retrain: what they
say about stages that serve nothing yet, and the mistakes they refuse. (The promotion itself
is tests/e2e/test_promotion.py.)"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from outer_orchestrator.promotion_stack import provision_stage
from shared.cli import app
from shared.config import load_config
from shared.local_cloud import LocalCloud, accounts

DEV, PROD = "123456789012", "210987654321"


@pytest.fixture(scope="module")
def config_file(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Path:
    stages = [
        {"name": "dev", "account_id": DEV, "region": "us-east-1"},
        {
            "name": "prod",
            "account_id": PROD,
            "region": "us-east-1",
            "approval": {"mode": "bake", "bake_seconds": 60},
        },
    ]
    cfg = load_config(project=f"pcli-{uuid.uuid4().hex[:6]}", stages=stages)
    provision_stage(cfg, "prod", accounts.session(PROD, "us-east-1"))
    path = tmp_path_factory.mktemp("promotion-cli") / "dualloop.yaml"
    path.write_text(yaml.safe_dump({"project": cfg.project, "stages": stages}))
    return path


def test_stages_lists_each_stage_in_its_account(config_file: Path) -> None:
    shown = CliRunner().invoke(app, ["stages", "--json", "--config", str(config_file)])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.stdout)
    assert [
        (r["stage"], r["account_id"], r["approval"], r["status"], r["model_package_arn"]) for r in rows
    ] == [
        ("dev", DEV, "automatic", None, None),
        ("prod", PROD, "bake", None, None),
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
