"""Three stages in two accounts (dev and staging in one, prod in another): one stack each, each
clean under cdk-nag and cfn-lint, and every statement that reaches across accounts on a list.

One synthesis per stage (no pipeline build: promotion changes no statement the pipeline
needs), with cdk-nag on; cfn-lint on each template.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.config import DualloopConfig, load_config, stage_config
from shared.naming import Names

DEV, PROD = "123456789012", "210987654321"
BASELINES = "pipelines/executions/*/Preprocess/baseline*"  # artifact_prefix + drift.py BASELINE_KEYS
STAGES = [
    {"name": "dev", "account_id": DEV, "region": "us-east-1"},
    {"name": "staging", "account_id": DEV, "region": "us-east-1"},
    {
        "name": "prod",
        "account_id": PROD,
        "region": "us-east-1",
        "approval": {"mode": "manual", "timeout_seconds": 86400},
    },
]


def _cfg(stage: str) -> DualloopConfig:
    return stage_config(load_config(stage=stage, stages=STAGES), stage)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], Path]]:
    from infra.app import create_app

    out: dict[str, tuple[dict[str, Any], Path]] = {}
    for stage in ("dev", "staging", "prod"):
        outdir = tmp_path_factory.mktemp(f"cdk-{stage}")
        # cdk-nag on, built-in validation on: an unsuppressed finding fails the synthesis.
        app, stack = create_app(cfg=_cfg(stage), outdir=str(outdir), nag=True, validation=True, pipeline=None)
        out[stage] = (app.synth().get_stack_by_name(stack.stack_name).template, outdir)
    return out


def _statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                found.append((logical_id, statement))
    return found


def _text(node: Any) -> str:
    return json.dumps(node, sort_keys=True)


def test_each_stage_is_its_own_stack_in_its_own_account(templates: dict[str, Any]) -> None:
    for stage, (template, outdir) in templates.items():
        manifest = json.loads((outdir / "manifest.json").read_text())
        environments = {a.get("environment") for a in manifest["artifacts"].values() if a.get("environment")}
        account = PROD if stage == "prod" else DEV
        assert environments == {f"aws://{account}/us-east-1"}, (stage, environments)
        machines = {
            r["Properties"]["StateMachineName"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::StepFunctions::StateMachine"
        }
        names = Names(_cfg(stage))
        assert machines == {names.state_machine, names.promotion_state_machine}


def test_cfn_lint_finds_no_errors_in_any_stage(templates: dict[str, Any]) -> None:
    from cfnlint.api import ManualArgs, lint

    for stage, (template, _) in templates.items():
        matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1"]))
        assert [str(m) for m in matches if m.rule.id.startswith("E")] == [], stage


def test_the_cross_account_statements_are_exactly_the_allowlisted_ones(templates: dict[str, Any]) -> None:
    # GIVEN the allowlist: who in one account may touch what in another, and why
    dev_artifacts = Names(_cfg("dev")).artifact_bucket
    allowlist = {
        # prod's SageMaker role reads dev's artifact objects (dev's bucket policy admits only
        # the promoted ones) and decrypts them through S3 with dev's key
        ("prod", "ReadPromotedArtifacts", ("s3:GetObject",), f"arn:aws:s3:::{dev_artifacts}/*"),
        ("prod", "DecryptPromotedArtifacts", ("kms:Decrypt",), f"arn:aws:kms:us-east-1:{DEV}:key/*"),
        # prod's drift check role lists and reads dev's drift baselines (dev's bucket policy admits
        # only the promoted packages' ones) and decrypts them through S3 with dev's key
        ("prod", "ReadPromotedBaselines", ("s3:GetObject",), f"arn:aws:s3:::{dev_artifacts}/{BASELINES}"),
        ("prod", "ListPromotedBaselines", ("s3:ListBucket",), f"arn:aws:s3:::{dev_artifacts}"),
        ("prod", "DecryptPromotedBaselines", ("kms:Decrypt",), f"arn:aws:kms:us-east-1:{DEV}:key/*"),
        # dev's key lets prod's SageMaker and drift check roles (and only them) decrypt through S3
        (
            "dev",
            "PromotedArtifactsToProd",
            _text(
                {
                    "StringEquals": {
                        "aws:PrincipalArn": [
                            Names(_cfg("prod")).sagemaker_role_arn,
                            Names(_cfg("prod")).drift_role_arn,
                        ],
                        "kms:ViaService": "s3.us-east-1.amazonaws.com",
                    }
                }
            ),
        ),
    }
    # WHEN every policy statement naming another account's resource (or a bucket of another
    # stage in another account) is collected
    found = set()
    for stage, (template, _) in templates.items():
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::KMS::Key":
                for statement in resource["Properties"]["KeyPolicy"]["Statement"]:
                    if PROD in _text(statement.get("Principal")) and stage != "prod":
                        found.add((stage, statement.get("Sid"), _text(statement["Condition"])))
        own = PROD if stage == "prod" else DEV
        other = DEV if own == PROD else PROD
        for _, statement in _statements(template):
            resources = statement.get("Resource")
            text = _text(resources)
            if f":{other}:" in text or (own == PROD and dev_artifacts in text):
                actions = statement["Action"]
                actions = (actions,) if isinstance(actions, str) else tuple(sorted(actions))
                found.add((stage, statement.get("Sid"), actions, resources))
    # THEN they are the allowlist, nothing more
    assert found == allowlist


def test_the_promotion_role_trusts_only_the_deploying_account(templates: dict[str, Any]) -> None:
    for stage, (template, _) in templates.items():
        role = next(
            r
            for r in template["Resources"].values()
            if r["Type"] == "AWS::IAM::Role"
            and r["Properties"].get("RoleName") == Names(_cfg(stage)).promotion_role
        )
        [statement] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRole"
        assert f":{DEV}:root" in _text(statement["Principal"]), statement


def test_the_promotion_state_machine_is_the_derived_definition(templates: dict[str, Any]) -> None:
    from outer_orchestrator.promotion_asl import promotion_definition

    template, _ = templates["prod"]
    names = Names(_cfg("prod"))
    [machine] = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
        and r["Properties"]["StateMachineName"] == names.promotion_state_machine
    ]
    assert machine["Properties"]["DefinitionString"] == promotion_definition()
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    assert substitutions["EndpointName"] == names.endpoint and substitutions["TopicArn"] == names.topic_arn


def test_bootstrap_of_another_account_trusts_the_deploying_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make bootstrap STAGE=...` passes to `cdk bootstrap` (infra.check_credentials)."""
    import yaml

    from infra.check_credentials import environment

    file = tmp_path / "dualloop.yaml"
    file.write_text(yaml.safe_dump({"stages": STAGES}))
    monkeypatch.setenv("DUALLOOP_CONFIG_FILE", str(file))
    assert environment("staging") == f"aws://{DEV}/us-east-1"
    assert environment("prod") == (
        f"aws://{PROD}/us-east-1 --trust {DEV} --trust-for-lookup {DEV} "
        "--cloudformation-execution-policies arn:aws:iam::aws:policy/AdministratorAccess"
    )
