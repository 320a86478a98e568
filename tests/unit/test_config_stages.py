"""The ``stages`` block: an ordered promotion path, each stage with its account, region,
deployment policy and approval rule; errors name the stage and the field."""

from __future__ import annotations

from typing import Any

import pytest

from shared.config import ApprovalMode, ConfigError, Stage, TrafficType, load_config, stage_config, stage_path

DEV = {"name": "dev", "account_id": "111111111111", "region": "us-east-1"}
STAGING = {"name": "staging", "account_id": "111111111111", "region": "us-east-1"}
PROD = {
    "name": "prod",
    "account_id": "222222222222",
    "region": "eu-west-1",
    "approval": {"mode": "manual", "timeout_seconds": 3600},
    "deployment": {"traffic_type": "LINEAR"},
}


def test_single_stage_configs_are_unchanged() -> None:
    # GIVEN a config without stages (the demo's)
    cfg = load_config()
    # THEN the path is the one stage it names, in its account
    assert cfg.stages == ()
    [only] = stage_path(cfg)
    assert (only.name, only.account_id, only.region) == (Stage.DEV, cfg.account_id, cfg.region)
    assert stage_config(cfg, "dev") == cfg


def test_a_stage_config_takes_its_account_region_policy_and_timeout() -> None:
    cfg = load_config(stages=[DEV, STAGING, PROD])
    prod = stage_config(cfg, "prod")
    assert (prod.stage, prod.account_id, prod.region) == (Stage.PROD, "222222222222", "eu-west-1")
    assert prod.deployment.traffic_type is TrafficType.LINEAR
    assert prod.approval_timeout_seconds == 3600
    assert stage_config(cfg, "staging").deployment == cfg.deployment  # none given: the top-level one
    assert [s.approval.mode for s in stage_path(cfg)] == [ApprovalMode.AUTOMATIC] * 2 + [ApprovalMode.MANUAL]


@pytest.mark.parametrize(
    ("prod", "expected"),
    [
        ({**PROD, "account_id": "2222"}, "stages.prod.account_id"),
        (
            {**PROD, "approval": {"mode": "manual"}},
            "stages.prod.approval: Value error, a manual approval needs",
        ),
        ({**PROD, "approval": {"mode": "bake"}}, "stages.prod.approval: Value error, a bake approval needs"),
        ({**PROD, "approval": {"mode": "automatic", "bake_seconds": 5}}, "bake_seconds is for a bake"),
        ({**PROD, "region": "mars"}, "stages.prod.region"),
        ({**PROD, "deployment": {"canary_percent": 90}}, "stages.prod.deployment.canary_percent"),
        ({**PROD, "name": "qa"}, "stages.qa.name"),
    ],
)
def test_errors_name_the_stage_and_the_field(prod: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(stages=[DEV, STAGING, prod])
    assert expected in str(caught.value)


def test_a_stage_listed_twice_or_a_first_stage_that_bakes_is_refused() -> None:
    with pytest.raises(ConfigError, match="stage dev is listed twice"):
        load_config(stages=[DEV, {**DEV, "account_id": "222222222222"}])
    with pytest.raises(ConfigError, match="the first stage has no previous stage to bake in"):
        load_config(stages=[{**DEV, "approval": {"mode": "bake", "bake_seconds": 60}}, PROD])


def test_a_stage_not_in_the_path_is_named() -> None:
    with pytest.raises(ConfigError, match="stage 'prod' is not in stages \\(dev, staging\\)"):
        stage_config(load_config(stages=[DEV, STAGING]), "prod")


def test_stages_come_from_a_config_file(tmp_path: Any) -> None:
    file = tmp_path / "dualloop.yaml"
    file.write_text(
        "stages:\n"
        "  - {name: dev, account_id: '111111111111', region: us-east-1}\n"
        "  - {name: prod, account_id: '222222222222', region: us-east-1,\n"
        "     approval: {mode: bake, bake_seconds: 3600}}\n"
    )
    cfg = load_config(file)
    assert [s.name.value for s in cfg.stages] == ["dev", "prod"]
    assert cfg.stages[1].approval.bake_seconds == 3600


def test_this_stage_takes_its_account_from_its_entry() -> None:
    # GIVEN stages, and a process of stage prod that does not repeat its account
    cfg = load_config(stage="prod", stages=[DEV, STAGING, PROD])
    # THEN its account, region and deployment policy are prod's entry's (dualloop run, make deploy)
    assert (cfg.account_id, cfg.region) == ("222222222222", "eu-west-1")
    assert cfg.deployment.traffic_type is TrafficType.LINEAR
    # AND a top-level value that disagrees is refused, naming both
    with pytest.raises(ConfigError, match=r"account_id '333333333333' differs from stages\.prod\.account_id"):
        load_config(stage="prod", account_id="333333333333", stages=[DEV, STAGING, PROD])


def test_a_stage_config_survives_a_json_round_trip() -> None:
    """The local cloud hands configs to the CDK synthesis as JSON (shared/local_cloud/iam/stack_template.py)."""
    from shared.config import DualloopConfig

    for stage in ("dev", "staging", "prod"):
        cfg = stage_config(load_config(stages=[DEV, STAGING, PROD]), stage)
        assert DualloopConfig.model_validate_json(cfg.model_dump_json()) == cfg
