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
