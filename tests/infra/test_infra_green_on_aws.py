"""What would break on a fresh AWS account (issue 13) and what would leak (issue 17, item 4),
read from the synthesized template: the bootstrap the stack needs, the grants the relays and
the state machine need at run time, and what the state machine logs.

These prove the template says the right thing; that AWS then behaves as its docs say is what
they cannot prove (the local cloud's own IAM enforcement is another helper's work).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from synth_support import Resolver, Synth, role_statements

from infra.check_credentials import MIN_BOOTSTRAP_VERSION

if TYPE_CHECKING:
    from shared.config import DualloopConfig
    from shared.naming import Names

pytestmark = pytest.mark.infra


def _by_sid(stmts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in stmts if "Sid" in s}


def test_the_template_refuses_a_bootstrap_older_than_the_one_make_bootstrap_checks(synth: Synth) -> None:
    # GIVEN the synthesized stack's rules
    rule = synth.template["Rules"]["CheckBootstrapVersion"]
    # WHEN CloudFormation evaluates them THEN bootstrap versions below 6 are refused, the
    # version `make deploy` checks for before calling cdk (infra/check_credentials.py)
    (assertion,) = rule["Assertions"]
    refused = assertion["Assert"]["Fn::Not"][0]["Fn::Contains"][0]
    assert refused == [str(v) for v in range(1, MIN_BOOTSTRAP_VERSION)]


def test_pipeline_relay_may_read_exactly_the_evaluation_reports(
    synth: Synth, resolve: Resolver, names: Names, cfg: DualloopConfig
) -> None:
    # GIVEN the relays' role WHEN we read its statements
    stmt = _by_sid(role_statements(synth, resolve, names.lambda_role))["ReadEvaluationReports"]
    # THEN GetObject, only on the Evaluate step's evaluation.json under each execution's prefix
    # (where inner_pipeline.pipeline writes it), and nothing else on the artifact bucket
    assert stmt["Action"] == "s3:GetObject" or stmt["Action"] == ["s3:GetObject"]
    assert stmt["Resource"] in (
        [
            f"arn:aws:s3:::{names.artifact_bucket}/{cfg.artifact_prefix}executions/*/Evaluate/evaluation/evaluation.json"
        ],
        f"arn:aws:s3:::{names.artifact_bucket}/{cfg.artifact_prefix}executions/*/Evaluate/evaluation/evaluation.json",
    )
    other = [
        s
        for s in role_statements(synth, resolve, names.lambda_role)
        if names.artifact_bucket in json.dumps(s.get("Resource")) and s.get("Sid") != "ReadEvaluationReports"
    ]
    assert other == []


@pytest.mark.parametrize("role_attr", ["state_machine_role", "sagemaker_role"])
def test_rollback_alarms_may_be_described_and_nothing_else(
    synth: Synth, resolve: Resolver, names: Names, role_attr: str
) -> None:
    # GIVEN the role that calls UpdateEndpoint (and the endpoint's execution role, which the
    # deployment guardrails docs name) WHEN we read their statements
    stmts = role_statements(synth, resolve, getattr(names, role_attr))
    stmt = _by_sid(stmts)["RollbackAlarms"]
    # THEN cloudwatch:DescribeAlarms on exactly the alarms the DeploymentConfig names
    actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
    assert actions == ["cloudwatch:DescribeAlarms"]
    assert sorted(stmt["Resource"]) == sorted(names.alarm_arn(a) for a in names.endpoint_alarms)
    assert [s for s in stmts if "cloudwatch:DescribeAlarms" in json.dumps(s["Action"])] == [stmt]


def test_no_task_token_reaches_the_state_machine_logs(synth: Synth, resolve: Resolver, names: Names) -> None:
    # GIVEN the deployed state machine, whose waiting tasks carry $$.Task.Token in their parameters
    _, sm = synth.one("AWS::StepFunctions::StateMachine", StateMachineName=names.state_machine)
    props = resolve(sm["Properties"])
    asl = json.loads(props["DefinitionString"])
    with_token = [
        name
        for name, state in asl["States"].items()
        if "$$.Task.Token" in json.dumps(state.get("Parameters", {}))
    ]
    assert with_token, "no task passes a token: this test no longer guards anything"
    # WHEN we read its logging configuration
    logging = props["LoggingConfiguration"]
    # THEN transitions are logged, but no execution data (inputs, outputs, task parameters)
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False
