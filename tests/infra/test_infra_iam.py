"""Least privilege across every IAM policy in the template.

No statement allows ``*`` or ``<service>:*``; ``Resource: "*"`` appears only with actions that
have no resource-level permissions (each listed below with why it is needed), and that is
checked against cfn-lint's copy of the Service Authorization Reference, not just our word.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

import pytest
from synth_support import Synth, listify, statements

if TYPE_CHECKING:
    from shared.naming import Names

# Actions allowed on Resource "*": none of them supports resource-level permissions.
ALLOWED_ON_ANY_RESOURCE = {
    # SageMaker role: logging in to ECR before pulling the (repository-scoped) framework image.
    "ecr:GetAuthorizationToken": "SageMaker role",
    # SageMaker role (namespace /aws/sagemaker/*), Glue role (namespace Glue) and drift role (the
    # drift namespace, Names.metric_namespace), each pinned by condition.
    "cloudwatch:PutMetricData": "SageMaker, Glue and drift roles",
    # Relays: the call carries only a task token, which is itself the capability.
    "states:SendTaskSuccess": "relay role",
    "states:SendTaskFailure": "relay role",
    # Added by CDK for Tracing.ACTIVE (Lambda) and tracing_enabled (Step Functions).
    "xray:PutTraceSegments": "relay, drift and state machine roles",
    "xray:PutTelemetryRecords": "relay, drift and state machine roles",
    "xray:GetSamplingRules": "state machine role",
    "xray:GetSamplingTargets": "state machine role",
    # Added by CDK for Step Functions logging: CloudWatch Logs' vended log delivery.
    "logs:CreateLogDelivery": "state machine role",
    "logs:GetLogDelivery": "state machine role",
    "logs:UpdateLogDelivery": "state machine role",
    "logs:DeleteLogDelivery": "state machine role",
    "logs:ListLogDeliveries": "state machine role",
    "logs:PutResourcePolicy": "state machine role",
    "logs:DescribeResourcePolicies": "state machine role",
    "logs:DescribeLogGroups": "state machine role",
}
# Namespace pins for the metric permissions above (plus Names.metric_namespace, the drift job's).
_METRIC_NAMESPACES = {"/aws/sagemaker/*", "Glue"}
# Optional resource types that the calls made here never involve: PutMetricData lists only
# CloudWatch's "dataset" type; plain namespaced metrics have no ARN, so the namespace
# condition is the only way to scope them.
_NOT_APPLICABLE_RESOURCE_TYPES = {"cloudwatch:PutMetricData": {"dataset"}}


def _identity_statements(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, res in synth.template["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found += [(logical_id, s) for s in statements(props["PolicyDocument"])]
        elif res["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                found += [(logical_id, s) for s in statements(policy["PolicyDocument"])]
    return found


def test_no_statement_allows_every_action(synth: Synth) -> None:
    for where, s in _identity_statements(synth):
        for action in s["Action"]:
            assert action != "*" and not action.endswith(":*"), f"{where}: {action}"
        assert "NotAction" not in s and "NotResource" not in s, where


def test_any_resource_only_where_the_api_allows_nothing_narrower(synth: Synth, names: Names) -> None:
    for where, s in _identity_statements(synth):
        if "*" not in s["Resource"]:
            continue
        assert s["Resource"] == ["*"], f"{where}: '*' mixed with specific resources"
        for action in s["Action"]:
            assert action in ALLOWED_ON_ANY_RESOURCE, f"{where}: {action} on Resource '*' is not allowlisted"
            if action == "cloudwatch:PutMetricData":
                condition = s.get("Condition", {})
                pinned = {
                    ns
                    for op in ("StringEquals", "StringLike")
                    for ns in listify(condition.get(op, {}).get("cloudwatch:namespace"))
                }
                assert pinned and pinned <= _METRIC_NAMESPACES | {names.metric_namespace}, (
                    f"{where}: PutMetricData not pinned to a namespace"
                )


def test_allowlist_agrees_with_the_service_authorization_reference() -> None:
    """cfn-lint ships AWS's action table: an action with resource types could be scoped."""
    table = json.loads((resources.files("cfnlint.data.AdditionalSpecs") / "Policies.json").read_text())
    for action in ALLOWED_ON_ANY_RESOURCE:
        service, name = action.split(":")
        types = set(table[service]["Actions"][name.lower()].get("Resources", []))
        types -= _NOT_APPLICABLE_RESOURCE_TYPES.get(action, set())
        assert not types, f"{action} supports resource types {types}: scope it"


def test_resource_policies_grant_nothing_broad(synth: Synth) -> None:
    """Bucket and topic policies only deny (TLS) or admit S3 log delivery; the key policy is
    CDK's default (the account delegates to IAM) plus CloudWatch Logs, pinned by condition."""
    for logical_id, res in synth.template["Resources"].items():
        if res["Type"] in ("AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy"):
            for s in statements(res["Properties"]["PolicyDocument"]):
                if s["Effect"] == "Allow":
                    assert s["Principal"] == {"Service": "logging.s3.amazonaws.com"}, logical_id
                    assert s["Action"] == ["s3:PutObject"], logical_id
        if res["Type"] == "AWS::SQS::QueuePolicy":
            for s in statements(res["Properties"]["PolicyDocument"]):
                if s["Effect"] == "Allow":  # EventBridge rules' dead letters, each rule by its ARN
                    assert s["Principal"] == {"Service": "events.amazonaws.com"}, logical_id
                    assert s["Action"] == "sqs:SendMessage" or s["Action"] == ["sqs:SendMessage"], logical_id
                    assert "aws:SourceArn" in s["Condition"]["ArnEquals"], logical_id
        if res["Type"] == "AWS::KMS::Key":
            for s in statements(res["Properties"]["KeyPolicy"]):
                principal = s["Principal"]
                if s["Action"] == ["kms:*"]:
                    assert "AWS" in principal and ":root" in json.dumps(principal), logical_id
                elif s.get("Sid") == "DeadLettersAndAlarms":
                    # EventBridge (dead letters) and CloudWatch (alarm to the topic), this account only.
                    assert sorted(principal["Service"]) == [
                        "cloudwatch.amazonaws.com",
                        "events.amazonaws.com",
                    ]
                    assert s["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"], logical_id
                    assert list(s["Condition"]["StringEquals"]) == ["aws:SourceAccount"], logical_id
                else:
                    assert principal["Service"].startswith("logs."), logical_id
                    assert "kms:EncryptionContext:aws:logs:arn" in s["Condition"]["ArnLike"], logical_id


def test_the_local_clouds_template_for_any_project_is_the_one_synthesized_for_it(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local cloud synthesizes once for a stand-in project and renames it (tests use a project
    # each): that must be exactly what synthesizing for the project itself gives.
    from infra import local_template
    from shared.config import load_config
    from shared.local_cloud.iam import stack_template

    monkeypatch.setenv("DUALLOOP_HOME", str(tmp_path))
    cfg = load_config(project="fraud-scoring-7")
    direct = local_template.synthesize(cfg)
    assert stack_template.stand_in(cfg.project) not in json.dumps(direct)
    assert stack_template.load(cfg, local_template.synthesize) == direct


# Each relay handler's role: exactly the calls its code makes (outer_orchestrator/handlers/*),
# plus the project key (its tables, topic and bucket are SSE-KMS), its own log group and X-Ray.
_KEY = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"}
_COMMON = _KEY | {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}
_ANSWER = {"states:SendTaskSuccess", "states:SendTaskFailure"}
_DEAD_LETTER = {"sqs:SendMessage"}  # invoked asynchronously by EventBridge: Lambda's DLQ (CDK adds it)
RELAY_ROLE_ACTIONS = {
    "pipeline_relay": _COMMON
    | _ANSWER
    | _DEAD_LETTER
    | {
        "sagemaker:DescribePipelineExecution",
        "sagemaker:ListPipelineExecutionSteps",
        "sagemaker:ListPipelineParametersForExecution",
        "sagemaker:DescribeModelPackage",
        "s3:GetObject",
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
    },
    "approval_relay": _COMMON
    | _ANSWER
    | _DEAD_LETTER
    | {"sagemaker:DescribeModelPackage", "dynamodb:DeleteItem", "dynamodb:PutItem"},
    "pipeline_callback": _COMMON
    | _ANSWER
    | {
        "sagemaker:StartPipelineExecution",
        "sagemaker:DescribePipelineExecution",
        "sagemaker:ListPipelineExecutionSteps",
        "sagemaker:DescribeModelPackage",
        "s3:GetObject",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    },
    "store_token": _COMMON
    | _ANSWER
    | {"dynamodb:PutItem", "dynamodb:DeleteItem", "sns:Publish", "sagemaker:DescribeModelPackage"},
}


@pytest.mark.parametrize("handler", sorted(RELAY_ROLE_ACTIONS))
def test_each_relay_handler_runs_as_its_own_role_with_exactly_its_calls(
    synth: Synth, resolve: Any, names: Names, handler: str
) -> None:
    from synth_support import role_statements

    # GIVEN the handler's function WHEN we read its role and the role's statements
    _, fn = synth.one("AWS::Lambda::Function", FunctionName=getattr(names, f"{handler}_function"))
    assert resolve(fn["Properties"]["Role"]) == names.relay_role_arn(handler)
    actions = {
        a for s in role_statements(synth, resolve, names.relay_role(handler)) for a in listify(s["Action"])
    }
    # THEN it holds exactly the allowlisted actions: no other handler's (the callback alone starts pipelines)
    assert actions == RELAY_ROLE_ACTIONS[handler]
