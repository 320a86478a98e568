"""Resource-based policies (S3 bucket policies) for requests that cross accounts.

AWS: "When a principal in one account accesses a resource in another account, both the
identity-based policy of the principal and the resource-based policy of the resource must
allow the access" (IAM User Guide, "Cross-account policy evaluation logic"). Within one
account an identity-based allow is enough, which is what ``policy.evaluate`` decides; this
module adds the resource side for the cross-account case. A statement applies to a role
session when its ``Principal`` names the role, the role's account (``123456789012`` or
``arn:aws:iam::123456789012:root``) or everyone (``*``); ``NotPrincipal`` is refused loudly.
"""

from __future__ import annotations

import json
from typing import Any

from shared.local_cloud.iam.policy import CannotEvaluate, Decision, Policy, Request, Statement, evaluate


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if not isinstance(principal, dict):
        return []
    values = principal.get("AWS", [])
    return [str(v) for v in (values if isinstance(values, list) else [values])]


def names(statement: dict[str, Any], role_arn: str, account_id: str) -> bool:
    """Whether ``statement``'s Principal covers a session of ``role_arn`` (in ``account_id``)."""
    if "NotPrincipal" in statement:
        raise CannotEvaluate("the local cloud does not evaluate NotPrincipal in a resource-based policy")
    wanted = {"*", account_id, f"arn:aws:iam::{account_id}:root", role_arn}
    return any(p in wanted for p in _principals(statement))


def evaluate_for(document: str | bytes | None, role_arn: str, account_id: str, request: Request) -> Decision:
    """The resource policy's decision for a session of ``role_arn`` (no policy: implicit deny)."""
    if not document:
        return Decision.IMPLICIT_DENY
    raw = json.loads(document)
    statements = raw.get("Statement") or []
    mine = [
        s
        for s in (statements if isinstance(statements, list) else [statements])
        if names(s, role_arn, account_id)
    ]
    return evaluate([Policy(tuple(Statement(s) for s in mine))], request)
