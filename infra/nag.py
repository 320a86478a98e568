"""cdk-nag 3 acknowledgements: one helper so every suppression carries a specific reason."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct

_MIN_REASON = 20  # long enough to say *why*, not just "ok"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one finding on ``scope`` and below: a cdk-nag rule (``AwsSolutions-IAM5[Resource::...]``)
    or a plugin-qualified one (``CloudFormation-Validate::E1029``).

    cdk-nag ids are qualified with their plugin (``AwsSolutions::...``), the form CDK's
    validation report lists under ``suppressedViolations`` with the reason, for auditors.
    """
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(f"the suppression of {rule} needs a specific reason, got {reason!r}")
    qualified = rule if "::" in rule.split("[", 1)[0] else f"{rule.split('-', 1)[0]}::{rule}"
    Validations.of(scope).acknowledge(Acknowledgment(id=qualified, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of an L2's resource, as cdk-nag spells it in findings."""
    child = construct.node.default_child
    assert isinstance(child, CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return Stack.of(construct).get_logical_id(child)


def acknowledge_wildcards(scope: IConstruct, reasons: Mapping[str, str]) -> None:
    """Acknowledge cdk-nag's wildcard finding (AwsSolutions-IAM5) on each resource pattern, with
    the reason IAM cannot name the resource any narrower."""
    for resource, reason in reasons.items():
        acknowledge(scope, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
