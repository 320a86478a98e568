"""Identity-based policy evaluation, as AWS's policy evaluation logic describes it.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html:
an explicit Deny in any statement wins, otherwise any Allow allows, otherwise the request
is implicitly denied. Action matching is case-insensitive, resource matching is
case-sensitive; both take ``*`` and ``?`` wildcards. A request that touches several
resources (UpdateEndpoint: the endpoint and its config) needs every one allowed.

What this evaluator cannot decide it refuses loudly (``CannotEvaluate``) instead of
guessing: a condition operator it does not implement, a condition key the local cloud
does not know for the request, a statement that names resources for an action whose
resource the local cloud does not know. moto's own evaluator
(``moto/iam/access_control.py``) ignores Resource for most services and conditions for
identity policies, so it would allow what AWS denies.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any


class CannotEvaluate(Exception):
    """The local cloud cannot decide this request the way AWS would (one sentence why)."""


class Decision(Enum):
    ALLOW = "allow"
    IMPLICIT_DENY = "implicit"
    EXPLICIT_DENY = "explicit"


@dataclass(frozen=True)
class Request:
    """What a request asks: ``action`` is ``service:Operation``; ``resources`` are ARNs
    (``None``: the local cloud does not know which resource the action acts on; ``("*",)``:
    the action has no resource type); ``context`` holds the condition keys known for it."""

    action: str
    resources: tuple[str, ...] | None
    context: Mapping[str, Sequence[str]]


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # fnmatch also treats [...] as a class; IAM does not, so escape it first.
    escaped = pattern.replace("[", "[[]")
    return re.compile(fnmatch.translate(escaped), re.IGNORECASE if ignore_case else 0)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).match(value) is not None


def _listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _string_op(op: str, wanted: list[str], actual: list[str]) -> bool:
    if op == "StringEquals":
        return any(a == w for a in actual for w in wanted)
    if op == "StringNotEquals":
        return all(a != w for a in actual for w in wanted)
    if op == "StringEqualsIgnoreCase":
        return any(a.lower() == w.lower() for a in actual for w in wanted)
    if op == "StringNotEqualsIgnoreCase":
        return all(a.lower() != w.lower() for a in actual for w in wanted)
    if op in ("StringLike", "ArnLike", "ArnEquals"):
        return any(matches(w, a) for a in actual for w in wanted)
    if op in ("StringNotLike", "ArnNotLike", "ArnNotEquals"):
        return all(not matches(w, a) for a in actual for w in wanted)
    if op == "Bool":
        return any(a.lower() == w.lower() for a in actual for w in wanted)
    raise CannotEvaluate(f"the local cloud does not implement the IAM condition operator {op}")


def _condition_holds(op: str, key: str, wanted: list[str], context: Mapping[str, Sequence[str]]) -> bool:
    base, if_exists = (op[: -len("IfExists")], True) if op.endswith("IfExists") else (op, False)
    set_op = None
    if ":" in base:  # ForAnyValue:StringLike / ForAllValues:StringEquals
        set_op, _, base = base.partition(":")
    known = {k.lower(): v for k, v in context.items()}
    if key.lower().startswith("aws:requesttag/") and "aws:tagkeys" in known:
        known.setdefault(key.lower(), [])  # the request's tags are known; this one is not among them
    if key.lower() not in known:
        raise CannotEvaluate(
            f"the local cloud does not know the condition key {key} for this request, "
            f"so it cannot evaluate {op} as AWS would"
        )
    actual = [str(v) for v in known[key.lower()]]
    if not actual:  # the key is absent from this request (AWS: only ...IfExists matches)
        return if_exists or set_op == "ForAllValues" or base.startswith(("StringNot", "ArnNot"))
    if set_op == "ForAllValues":
        return all(_string_op(base, wanted, [a]) for a in actual)
    return _string_op(base, wanted, actual)


@dataclass(frozen=True)
class Statement:
    raw: Mapping[str, Any]

    @property
    def effect(self) -> str:
        return str(self.raw.get("Effect", ""))

    def applies_to_action(self, action: str) -> bool:
        if "NotAction" in self.raw:
            return not any(matches(p, action, ignore_case=True) for p in _listify(self.raw["NotAction"]))
        return any(matches(p, action, ignore_case=True) for p in _listify(self.raw.get("Action")))

    def applies_to_resource(self, resource: str) -> bool:
        if "NotResource" in self.raw:
            return not any(matches(p, resource) for p in _listify(self.raw["NotResource"]))
        return any(matches(p, resource) for p in _listify(self.raw.get("Resource")))

    def names_only_star(self) -> bool:
        return "NotResource" not in self.raw and _listify(self.raw.get("Resource")) == ["*"]

    def conditions_hold(self, context: Mapping[str, Sequence[str]]) -> bool:
        for op, block in (self.raw.get("Condition") or {}).items():
            for key, wanted in block.items():
                if not _condition_holds(op, key, [str(w) for w in _listify(wanted)], context):
                    return False
        return True


@dataclass(frozen=True)
class Policy:
    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, document: str | Mapping[str, Any]) -> Policy:
        return _parse(document if isinstance(document, str) else json.dumps(document, sort_keys=True))


@functools.lru_cache(maxsize=512)
def _parse(document: str) -> Policy:
    return Policy(tuple(Statement(s) for s in _listify(json.loads(document).get("Statement"))))


def _statement_allows(statement: Statement, request: Request, resource: str) -> bool:
    return statement.applies_to_resource(resource) and statement.conditions_hold(request.context)


def evaluate(policies: Iterable[Policy], request: Request) -> Decision:
    """AWS's decision for ``request`` under these identity-based policies."""
    statements = [s for p in policies for s in p.statements if s.applies_to_action(request.action)]
    resources = request.resources
    if resources is None:
        # Only statements on every resource ("*") can be decided without knowing it.
        if any(not s.names_only_star() for s in statements):
            raise CannotEvaluate(
                f"the local cloud does not know which resource {request.action} acts on, so it cannot "
                "check a policy that names resources (add it to shared/local_cloud/iam/requests.py)"
            )
        resources = ("*",)
    for s in statements:
        if s.effect == "Deny" and any(_statement_allows(s, request, r) for r in resources):
            return Decision.EXPLICIT_DENY
    allows = [s for s in statements if s.effect == "Allow"]
    if all(any(_statement_allows(s, request, r) for s in allows) for r in resources):
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY
