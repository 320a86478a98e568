"""Cross-account S3 on the local cloud: a bucket policy must also allow (IAM User Guide,
"Cross-account policy evaluation logic"), for the principal it names."""

from __future__ import annotations

import json

import pytest

from shared.local_cloud.iam.policy import CannotEvaluate, Decision, Request
from shared.local_cloud.iam.resource_policy import evaluate_for

ROLE = "arn:aws:iam::210987654321:role/app-prod-sagemaker-execution"
OBJECT = "arn:aws:s3:::app-dev-artifacts-123456789012/models/1/model.tar.gz"


def _policy(principal: object, resource: str = OBJECT, **extra: object) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": resource,
        **extra,
    }
    return json.dumps({"Statement": [statement]})


def _get(resource: str = OBJECT) -> Request:
    return Request("s3:GetObject", (resource,), {})


@pytest.mark.parametrize(
    "principal", [{"AWS": ROLE}, {"AWS": "210987654321"}, {"AWS": "arn:aws:iam::210987654321:root"}, "*"]
)
def test_a_statement_naming_the_role_its_account_or_everyone_allows(principal: object) -> None:
    assert evaluate_for(_policy(principal), ROLE, "210987654321", _get()) is Decision.ALLOW


def test_other_principals_other_objects_and_no_policy_deny() -> None:
    other = {"AWS": "arn:aws:iam::210987654321:role/someone-else"}
    assert evaluate_for(_policy(other), ROLE, "210987654321", _get()) is Decision.IMPLICIT_DENY
    assert (
        evaluate_for(_policy({"AWS": ROLE}), ROLE, "210987654321", _get(OBJECT + ".old"))
        is Decision.IMPLICIT_DENY
    )
    assert evaluate_for(None, ROLE, "210987654321", _get()) is Decision.IMPLICIT_DENY


def test_not_principal_is_refused_loudly() -> None:
    document = json.dumps(
        {"Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": ROLE}, "Action": "s3:*", "Resource": "*"}]}
    )
    with pytest.raises(CannotEvaluate, match="NotPrincipal"):
        evaluate_for(document, ROLE, "210987654321", _get())
