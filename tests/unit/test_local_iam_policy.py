"""The local cloud's IAM evaluator follows AWS's evaluation logic, and refuses what it cannot decide."""

from __future__ import annotations

import pytest

from shared.local_cloud.iam.policy import CannotEvaluate, Decision, Policy, Request, evaluate
from shared.local_cloud.iam.requests import describe

BUCKET = "arn:aws:s3:::artifacts"


def _policy(*statements: dict[str, object]) -> Policy:
    return Policy.parse({"Version": "2012-10-17", "Statement": list(statements)})


def _request(action: str, *resources: str, **context: list[str]) -> Request:
    return Request(action, resources or None, context)


def test_an_allow_on_the_resource_allows_and_nothing_else_does() -> None:
    policy = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/drift/*"})
    assert evaluate([policy], _request("s3:GetObject", f"{BUCKET}/drift/r.json")) is Decision.ALLOW
    assert (
        evaluate([policy], _request("s3:GetObject", f"{BUCKET}/pipelines/e.json")) is Decision.IMPLICIT_DENY
    )
    assert evaluate([policy], _request("s3:PutObject", f"{BUCKET}/drift/r.json")) is Decision.IMPLICIT_DENY


def test_actions_match_without_case_and_an_explicit_deny_wins() -> None:
    allow = _policy({"Effect": "Allow", "Action": "S3:Get*", "Resource": "*"})
    deny = _policy({"Effect": "Deny", "NotAction": "s3:ListBucket", "Resource": f"{BUCKET}/secret/*"})
    assert evaluate([allow], _request("s3:GetObject", f"{BUCKET}/secret/k")) is Decision.ALLOW
    assert evaluate([allow, deny], _request("s3:GetObject", f"{BUCKET}/secret/k")) is Decision.EXPLICIT_DENY


def test_every_resource_of_a_request_must_be_allowed() -> None:
    # UpdateEndpoint authorizes the endpoint and the config it deploys.
    policy = _policy(
        {
            "Effect": "Allow",
            "Action": "sagemaker:UpdateEndpoint",
            "Resource": "arn:aws:sagemaker:*:*:endpoint/e",
        }
    )
    request = describe(
        "sagemaker", "UpdateEndpoint", {"EndpointName": "e", "EndpointConfigName": "c"}, "us-east-1", "1"
    )
    assert request.resources == (
        "arn:aws:sagemaker:us-east-1:1:endpoint/e",
        "arn:aws:sagemaker:us-east-1:1:endpoint-config/c",
    )
    assert evaluate([policy], request) is Decision.IMPLICIT_DENY


def test_conditions_use_the_request_keys() -> None:
    policy = _policy(
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": BUCKET,
            "Condition": {"StringLike": {"s3:prefix": ["drift/*"]}},
        }
    )
    listing = describe(
        "s3", "ListObjectsV2", {"prefix": ["drift/2026"]}, "us-east-1", "1", s3_resource=BUCKET
    )
    other = describe("s3", "ListObjectsV2", {"prefix": ["pipelines/"]}, "us-east-1", "1", s3_resource=BUCKET)
    no_prefix = describe("s3", "ListObjectsV2", {}, "us-east-1", "1", s3_resource=BUCKET)
    assert evaluate([policy], listing) is Decision.ALLOW
    assert evaluate([policy], other) is Decision.IMPLICIT_DENY
    assert evaluate([policy], no_prefix) is Decision.IMPLICIT_DENY  # a missing key fails StringLike


def test_what_cannot_be_decided_is_refused_not_allowed() -> None:
    named = _policy({"Effect": "Allow", "Action": "glue:CreateJob", "Resource": "arn:aws:glue:*:*:job/j"})
    with pytest.raises(CannotEvaluate, match="which resource glue:CreateJob acts on"):
        evaluate([named], describe("glue", "CreateJob", {"Name": "j"}, "us-east-1", "1"))
    unknown_key = _policy(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpce": "v"}},
        }
    )
    with pytest.raises(CannotEvaluate, match="aws:SourceVpce"):
        evaluate([unknown_key], _request("s3:GetObject", f"{BUCKET}/k"))
    # a statement on "*" decides it without knowing the resource
    star = _policy({"Effect": "Allow", "Action": "glue:CreateJob", "Resource": "*"})
    assert evaluate([star], describe("glue", "CreateJob", {"Name": "j"}, "us-east-1", "1")) is Decision.ALLOW
