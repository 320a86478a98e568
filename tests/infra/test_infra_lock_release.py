"""The lock release in the template: the rule on the outer loop's abnormal ends, the function, its role.

What this proves: the rule matches exactly ``Step Functions Execution Status Change`` of this
project's state machine with the statuses the handler acts on (and the same pattern the
local twin wires), and hands the event itself to the function, which runs the handler with
the lock table and state machine it must name; the role may delete items of the lock table
and nothing else of the project's data. What it does not: that AWS delivers the event
(best effort, per AWS), or DynamoDB's KMS authorisation (checked by a deployment).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from synth_support import Resolver, Synth, role_statements

if TYPE_CHECKING:
    from shared.naming import Names


def _function(synth: Synth, resolve: Resolver, names: Names) -> tuple[str, dict[str, Any]]:
    logical_id, fn = synth.one("AWS::Lambda::Function", FunctionName=names.lock_release_function)
    props: dict[str, Any] = resolve(fn["Properties"])
    return logical_id, props


def test_rule_matches_the_abnormal_ends_of_this_state_machine(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    from outer_orchestrator.handlers import release_lock

    _, rule = synth.one("AWS::Events::Rule", Name=names.lock_release_rule)
    pattern = resolve(rule["Properties"]["EventPattern"])

    assert pattern == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {
            "stateMachineArn": [names.state_machine_arn],
            "status": ["ABORTED", "TIMED_OUT", "FAILED"],
        },
        "account": [names.account],
    }
    assert set(pattern["detail"]["status"]) == release_lock.RELEASE_ON
    # The local cloud puts this very rule (shared/local_cloud/stack_resources.py, no second copy).
    assert rule["Properties"]["State"] == "ENABLED"


def test_rule_hands_the_event_itself_to_the_function(synth: Synth, resolve: Resolver, names: Names) -> None:
    rule_id, rule = synth.one("AWS::Events::Rule", Name=names.lock_release_rule)
    (target,) = resolve(rule["Properties"]["Targets"])
    assert target["Arn"] == names.function_arn(names.lock_release_function)
    assert not {"Input", "InputPath", "InputTransformer", "RoleArn"} & set(target)
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0

    (permission,) = [
        resolve(p["Properties"])
        for p in synth.resources("AWS::Lambda::Permission").values()
        if resolve(p["Properties"]["FunctionName"]) == names.function_arn(names.lock_release_function)
    ]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == f"<GetAtt:{rule_id}.Arn>"


def test_function_runs_the_handler_naming_the_lock_and_the_state_machine(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    _, props = _function(synth, resolve, names)
    assert props["Handler"] == "outer_orchestrator.handlers.release_lock.handler"
    assert props["Role"] == f"arn:aws:iam::{names.account}:role/{names.lock_release_role}"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert "KmsKeyArn" in props
    assert props["Environment"]["Variables"] == {
        "DUALLOOP_LOCK_TABLE": names.lock_table,
        "DUALLOOP_STATE_MACHINE_ARN": names.state_machine_arn,
        "POWERTOOLS_SERVICE_NAME": names.lock_release_function,
    }
    code_dir = synth.outdir / f"asset.{props['Code']['S3Key'].removesuffix('.zip')}"
    assert (code_dir / "outer_orchestrator" / "handlers" / "release_lock.py").is_file()
    assert not (code_dir / "shared" / "local_cloud").exists()


def test_role_may_delete_the_lock_and_describe_its_executions_and_nothing_else(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    stmts = role_statements(synth, resolve, names.lock_release_role)
    by_sid = {s["Sid"]: s for s in stmts if "Sid" in s}

    assert by_sid["ReleaseLock"]["Action"] == ["dynamodb:DeleteItem"]
    assert by_sid["ReleaseLock"]["Resource"] == [
        f"arn:aws:dynamodb:{names.region}:{names.account}:table/{names.lock_table}"
    ]
    assert by_sid["WriteOwnLogs"]["Resource"] == [
        f"arn:aws:logs:{names.region}:{names.account}:log-group:/aws/lambda/{names.lock_release_function}:*"
    ]
    # The handler reads an ended execution's status before it believes the event (only this state machine's).
    executions = f"arn:aws:states:{names.region}:{names.account}:execution:{names.state_machine}:*"
    assert by_sid["ConfirmExecutionStatus"]["Action"] == ["states:DescribeExecution"]
    assert by_sid["ConfirmExecutionStatus"]["Resource"] == [executions]
    data_actions = [
        (a, r)
        for s in stmts
        for a in s["Action"]
        for r in s["Resource"]
        if a.split(":")[0] in ("dynamodb", "s3", "states", "sagemaker", "sns", "glue")
    ]
    assert sorted(data_actions) == [
        ("dynamodb:DeleteItem", by_sid["ReleaseLock"]["Resource"][0]),
        ("states:DescribeExecution", executions),
    ]
    assert {a for s in stmts for a in s["Action"]} == {
        "states:DescribeExecution",
        "dynamodb:DeleteItem",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKey",  # the SSE-KMS dead-letter queue
        "sqs:SendMessage",  # what the function failed on, to the dead-letter queue
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
