"""The drift trigger in the template: the drift alarm rule's target, the function, its role.

What this proves: the drift alarm rule sends the alarm event itself to the trigger function
(named as the handler module names it for the local stack), which runs the handler with the
stack's configuration; and, running the real handler against recording fakes of S3 and Step
Functions with that environment, every call it makes lands inside the role's statements.
What it does not: IAM's own evaluation (a small evaluator of Allow statements here).
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
from typing import TYPE_CHECKING, Any

import pytest
from event_support import alarm_event
from synth_support import Resolver, Synth, role_statements

from infra.constructs.drift import config_environment
from infra.constructs.drift_trigger import function_name

if TYPE_CHECKING:
    from shared.config import DualloopConfig
    from shared.naming import Names


def _function(synth: Synth, resolve: Resolver, names: Names) -> dict[str, Any]:
    _, fn = synth.one("AWS::Lambda::Function", FunctionName=function_name(names))
    props: dict[str, Any] = resolve(fn["Properties"])
    return props


def test_the_name_is_the_handlers(names: Names) -> None:
    from outer_orchestrator.handlers import drift_trigger

    assert function_name(names) == drift_trigger.function_name(names)


def test_drift_alarm_rule_targets_the_trigger_with_the_event_itself(
    synth: Synth, resolve: Resolver, names: Names
) -> None:
    rule_id, rule = synth.one("AWS::Events::Rule", Name=names.drift_alarm_rule)
    (target,) = resolve(rule["Properties"]["Targets"])
    assert target["Arn"] == names.function_arn(function_name(names))
    assert not {"Input", "InputPath", "InputTransformer", "RoleArn"} & set(target)
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0

    (permission,) = [
        resolve(p["Properties"])
        for p in synth.resources("AWS::Lambda::Permission").values()
        if resolve(p["Properties"]["FunctionName"]) == names.function_arn(function_name(names))
    ]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == f"<GetAtt:{rule_id}.Arn>"


def test_trigger_function_runs_the_handler_with_the_stack_config(
    synth: Synth, resolve: Resolver, names: Names, cfg: DualloopConfig
) -> None:
    props = _function(synth, resolve, names)
    assert props["Handler"] == "outer_orchestrator.handlers.drift_trigger.handler"
    assert props["Role"] == f"arn:aws:iam::{names.account}:role/{function_name(names)}-role"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert "KmsKeyArn" in props
    env = props["Environment"]["Variables"]
    assert env == {**config_environment(cfg), "POWERTOOLS_SERVICE_NAME": function_name(names)}
    code_dir = synth.outdir / f"asset.{props['Code']['S3Key'].removesuffix('.zip')}"
    assert (code_dir / "outer_orchestrator" / "handlers" / "drift_trigger.py").is_file()
    assert not (code_dir / "shared" / "local_cloud").exists()


def test_trigger_role_statements(synth: Synth, resolve: Resolver, names: Names) -> None:
    stmts = role_statements(synth, resolve, f"{function_name(names)}-role")
    by_sid = {s["Sid"]: s for s in stmts if "Sid" in s}
    bucket = f"arn:aws:s3:::{names.artifact_bucket}"

    alarm = f"arn:aws:cloudwatch:{names.region}:{names.account}:alarm:{names.drift_alarm}"
    assert by_sid["ConfirmAlarmState"] == {
        "Sid": "ConfirmAlarmState", "Effect": "Allow", "Action": ["cloudwatch:DescribeAlarms"], "Resource": [alarm]
    }  # fmt: skip
    assert by_sid["StartRetrain"]["Action"] == ["states:StartExecution"]
    assert by_sid["StartRetrain"]["Resource"] == [names.state_machine_arn]
    assert by_sid["ListReports"]["Resource"] == [bucket]
    assert by_sid["ListReports"]["Condition"] == {"StringLike": {"s3:prefix": ["drift/*"]}}
    assert by_sid["ReadReports"]["Action"] == ["s3:GetObject"]
    assert by_sid["ReadReports"]["Resource"] == [f"{bucket}/drift/*"]
    assert by_sid["ProjectKeyDecrypt"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    actions = {a for s in stmts for a in s["Action"]}
    assert actions == {
        "cloudwatch:DescribeAlarms",
        "states:StartExecution",
        "s3:ListBucket",
        "s3:GetObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",  # the SSE-KMS dead-letter queue
        "sqs:SendMessage",  # what the function failed on, to the dead-letter queue
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


class _Recorder:
    """Fake S3 and Step Functions clients that record (action, resource, context) per call."""

    def __init__(self, report_key: str, report: bytes) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self._key, self._report = report_key, report
        self.region_account = ("", "")

    # s3
    def get_paginator(self, name: str) -> Any:
        recorder = self

        class _Pages:
            def paginate(self, *, Bucket: str, Prefix: str) -> list[dict[str, Any]]:  # noqa: N803
                recorder.calls.append(("s3:ListBucket", f"arn:aws:s3:::{Bucket}", {"s3:prefix": Prefix}))
                return [{"Contents": [{"Key": recorder._key}]}]

        return _Pages()

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("s3:GetObject", f"arn:aws:s3:::{Bucket}/{Key}", {}))
        return {"Body": io.BytesIO(self._report)}

    # cloudwatch: the alarm in ALARM, as the event says
    def describe_alarms(self, *, AlarmNames: list[str], AlarmTypes: list[str]) -> dict[str, Any]:  # noqa: N803
        (name,) = AlarmNames
        region, account = self.region_account
        self.calls.append(
            ("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}", {})
        )
        return {
            "MetricAlarms": [{"AlarmName": name, "StateValue": "ALARM", "StateReason": "Threshold Crossed"}]
        }

    # stepfunctions
    def start_execution(self, *, stateMachineArn: str, name: str, input: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("states:StartExecution", stateMachineArn, {}))
        return {"executionArn": f"{stateMachineArn.replace(':stateMachine:', ':execution:')}:{name}"}


def _allowed(stmts: list[dict[str, Any]], action: str, resource: str, context: dict[str, str]) -> bool:
    for s in stmts:
        if action not in s["Action"] or not any(fnmatch.fnmatchcase(resource, r) for r in s["Resource"]):
            continue
        like = s.get("Condition", {}).get("StringLike", {})
        if all(any(fnmatch.fnmatchcase(context.get(k, ""), v) for v in vs) for k, vs in like.items()):
            return True
    return False


def test_the_role_admits_every_call_the_handler_makes(
    synth: Synth, resolve: Resolver, names: Names, cfg: DualloopConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outer_orchestrator.handlers import drift_trigger
    from outer_orchestrator.handlers.clients import Clients
    from shared.config import load_config

    for key in [k for k in os.environ if k.startswith("DUALLOOP_")]:
        monkeypatch.delenv(key)
    for key, value in _function(synth, resolve, names)["Environment"]["Variables"].items():
        monkeypatch.setenv(key, value)
    report = {"endpoint": names.endpoint, "drifted_features": ["amount"], "features": []}
    fake = _Recorder(f"drift/{names.endpoint}/20261124T080000Z.json", json.dumps(report).encode())
    fake.region_account = (names.region, names.account)
    event = alarm_event(
        names.drift_alarm,
        "ALARM",
        "Threshold Crossed",
        "2026-11-24T08:00:00.000+0000",
        endpoint=names.endpoint,
    )

    answer = drift_trigger.handler(event, None, clients=Clients(s3=fake, sfn=fake, cloudwatch=fake))

    assert load_config() == cfg
    assert answer["started"] is True and answer["features"] == ["amount"]
    stmts = role_statements(synth, resolve, f"{function_name(names)}-role")
    assert {c[0] for c in fake.calls} == {
        "cloudwatch:DescribeAlarms",
        "s3:ListBucket",
        "s3:GetObject",
        "states:StartExecution",
    }
    denied = [c for c in fake.calls if not _allowed(stmts, *c)]
    assert denied == []
