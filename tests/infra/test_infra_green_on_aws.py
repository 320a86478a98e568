"""What would break on a fresh AWS account (issue 13) and what would leak (issue 17, item 4),
read from the synthesized template: the bootstrap the stack needs, the grants the relays and
the state machine need at run time, and what the state machine logs.

These prove the template says the right thing; that AWS then behaves as its docs say is what
they cannot prove (the local cloud's own IAM enforcement is another helper's work).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from synth_support import Resolver, Synth, role_statements

from infra.check_credentials import MIN_BOOTSTRAP_VERSION

if TYPE_CHECKING:
    from shared.config import DualloopConfig
    from shared.naming import Names


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


@pytest.mark.parametrize("handler", ["pipeline_relay", "pipeline_callback"])
def test_pipeline_relays_may_read_exactly_the_evaluation_reports(
    synth: Synth, resolve: Resolver, names: Names, cfg: DualloopConfig, handler: str
) -> None:
    # GIVEN the role of a handler that answers RunInnerPipeline WHEN we read its statements
    role = names.relay_role(handler)
    stmt = _by_sid(role_statements(synth, resolve, role))["ReadEvaluationReports"]
    # THEN GetObject, only on objects named evaluation.json under the artifact prefix (the model
    # package's ModelQuality statistics, whatever the data scientist's step is called), and
    # nothing else on the artifact bucket
    assert stmt["Action"] == "s3:GetObject" or stmt["Action"] == ["s3:GetObject"]
    expected = f"arn:aws:s3:::{names.artifact_bucket}/{cfg.artifact_prefix}*/evaluation.json"
    assert stmt["Resource"] in ([expected], expected)
    other = [
        s
        for s in role_statements(synth, resolve, role)
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


def _function(synth: Synth, resolve: Resolver, name: str) -> dict[str, Any]:
    _, fn = synth.one("AWS::Lambda::Function", FunctionName=name)
    props: dict[str, Any] = resolve(fn["Properties"])
    return props


def test_every_asynchronous_lambda_and_rule_target_keeps_what_it_failed_on(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    # GIVEN the one dead-letter queue
    queue_id, queue = synth.one("AWS::SQS::Queue", QueueName=names.dead_letter_queue)
    queue_arn = resolve({"Fn::GetAtt": [queue_id, "Arn"]})
    assert "KmsMasterKeyId" in queue["Properties"]  # SSE-KMS with the project key
    # WHEN we read the functions EventBridge invokes asynchronously, and every rule's targets
    asynchronous = [
        names.pipeline_relay_function,
        names.approval_relay_function,
        names.lock_release_function,
        f"{names.base}-drift-trigger",
        names.drift_function,
    ]
    # THEN each function sends what it gave up on to the queue, and so does each rule target
    for name in asynchronous:
        assert _function(synth, resolve, name)["DeadLetterConfig"] == {"TargetArn": queue_arn}, name
    for rule_id, rule in synth.resources("AWS::Events::Rule").items():
        for target in resolve(rule["Properties"]).get("Targets", []):
            assert target.get("DeadLetterConfig", {}).get("Arn") == queue_arn, rule_id
    # The functions the state machine invokes synchronously report to it instead.
    for name in (names.store_token_function, names.pipeline_callback_function):
        assert "DeadLetterConfig" not in _function(synth, resolve, name), name


def test_a_dead_letter_raises_an_alarm_that_notifies(synth: Synth, resolve: Resolver, names: Names) -> None:
    # GIVEN the alarm on the dead-letter queue WHEN one message is visible THEN it alarms to the topic
    queue_id, _ = synth.one("AWS::SQS::Queue", QueueName=names.dead_letter_queue)
    _, alarm = synth.one("AWS::CloudWatch::Alarm", AlarmName=names.dead_letter_queue)
    props = resolve(alarm["Properties"])
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
    queue_name = resolve({"Fn::GetAtt": [queue_id, "QueueName"]})
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": queue_name}]
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert props["AlarmActions"] == [names.topic_arn]


def test_glue_jobs_install_their_python_modules_from_the_shipped_wheels_only(
    synth: Synth, resolve: Resolver, names: Names, tmp_path: Path
) -> None:
    # GIVEN the Glue jobs' arguments in the template
    for job_name in (names.ingest_job, names.data_quality_job):
        _, job = synth.one("AWS::Glue::Job", Name=job_name)
        args = resolve(job["Properties"])["DefaultArguments"]
        # THEN the modules come from one zip of wheels (an asset), with pip's index switched off
        modules = args["--additional-python-modules"]
        assert modules.startswith("s3://") and modules.endswith(".zip") and "," not in modules, modules
        assert args["--python-modules-installer-option"] == "--no-index"
    # WHEN pip installs that zip's wheels with no index (as Glue does, offline)
    asset_hash = modules.rsplit("/", 1)[1].removesuffix(".zip")
    (wheels,) = [p for p in synth.outdir.iterdir() if p.name == f"asset.{asset_hash}"]
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--target",
            str(target),
            *map(str, sorted(wheels.glob("*.whl"))),
        ],
        check=True,
    )
    # THEN everything the Glue scripts need beyond Glue 5.0's own modules is there, and imports
    probe = "import pydantic, pydantic_settings, yaml; print(pydantic.VERSION)"
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}"],
        check=True,
        capture_output=True,
        text=True,
    )
    from importlib.metadata import version

    assert out.stdout.strip() == version("pydantic")
    installed = {p.name.split("-")[0].lower() for p in target.glob("*.dist-info")}
    assert {"pydantic", "pydantic_core", "pydantic_settings", "pyyaml", "python_dotenv"} <= installed
