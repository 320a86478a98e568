"""An event is a claim; the service holds the fact. Relays act on the fact only.

An EventBridge event says that a resource (a model package, an execution, a pipeline
execution) belongs to something of ours and is in some status. It may be forged (a relay
can be invoked directly, and the local bus takes any source), delivered twice, late or out of
order. So a relay turns the event into a ``Claim``, reads the resource from its service
(``establish``) and acts only when the service confirms both the owner and the status; a
mismatch is logged (resource ARNs and statuses only: never a task token) and ignored. The
legitimate event of the current status arrives too, and acts then.

The reads, by kind (the relays' roles allow exactly these, resource-scoped):

- model package: ``sagemaker:DescribeModelPackage`` → ``ModelApprovalStatus``, ``ModelPackageGroupName``;
- execution: ``states:DescribeExecution`` → ``status``, ``stateMachineArn``;
- pipeline execution: ``sagemaker:DescribePipelineExecution`` → ``PipelineExecutionStatus``,
  ``PipelineArn``;
- alarm: ``cloudwatch:DescribeAlarms`` → ``StateValue`` (an alarm is its own owner: its name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

Kind = Literal["model package", "execution", "pipeline execution", "alarm"]

# What each service answers when the resource does not exist (botocore's service models:
# DescribeModelPackage and DescribePipelineExecution raise ResourceNotFound or, for a malformed
# ARN, ValidationException; DescribeExecution raises ExecutionDoesNotExist or InvalidArn).
_NOT_FOUND = frozenset(
    {
        "ResourceNotFound",
        "ValidationException",
        "ExecutionDoesNotExist",
        "InvalidArn",
        "StateMachineDoesNotExist",
    }
)


@dataclass(frozen=True)
class Claim:
    """What an event says: ``resource`` belongs to ``owner`` and is ``status``."""

    kind: Kind
    resource: str
    owner: str  # model package group name, state machine ARN, or pipeline name
    status: str


@dataclass(frozen=True)
class Fact:
    """What the service says about the claimed resource; ``status`` None: it does not exist."""

    resource: str
    owner: str | None
    status: str | None
    described: Mapping[str, Any] = field(default_factory=dict)


def read_model_package(sagemaker: Any, arn: str) -> Fact:
    described = _describe(lambda: sagemaker.describe_model_package(ModelPackageName=arn))
    return Fact(arn, described.get("ModelPackageGroupName"), described.get("ModelApprovalStatus"), described)


def read_execution(sfn: Any, arn: str) -> Fact:
    described = _describe(lambda: sfn.describe_execution(executionArn=arn))
    return Fact(arn, described.get("stateMachineArn"), described.get("status"), described)


def read_pipeline_execution(sagemaker: Any, arn: str) -> Fact:
    described = _describe(lambda: sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn))
    pipeline = described.get("PipelineArn")
    owner = str(pipeline).rsplit("/", 1)[-1] if pipeline else None
    return Fact(arn, owner, described.get("PipelineExecutionStatus"), described)


def read_alarm(cloudwatch: Any, name: str) -> Fact:
    found = (
        cloudwatch.describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"]).get("MetricAlarms") or []
    )
    described: Mapping[str, Any] = found[0] if found else {}
    return Fact(name, described.get("AlarmName"), described.get("StateValue"), described)


def establish(claim: Claim, read: Callable[[str], Fact], logger: Logger) -> Fact | None:
    """The fact when the service confirms the claim's owner and status; None (logged) otherwise."""
    fact = read(claim.resource)
    why = _mismatch(claim, fact)
    if why is None:
        return fact
    logger.warning(
        "event not confirmed by the service; ignored",
        extra={
            "why": why,
            "kind": claim.kind,
            "resource": claim.resource,
            "claimed_status": claim.status,
            "actual_status": fact.status,
            "claimed_owner": claim.owner,
            "actual_owner": fact.owner,
        },
    )
    return None


def _mismatch(claim: Claim, fact: Fact) -> str | None:
    if fact.status is None:
        return f"no such {claim.kind}"
    actual, claimed = fact.owner or "", claim.owner
    if claim.kind == "pipeline execution":  # SageMaker lower-cases the pipeline's name in its ARN
        actual, claimed = actual.lower(), claimed.lower()
    if actual != claimed:
        return f"the {claim.kind} belongs to {fact.owner}, not {claim.owner}"
    if fact.status != claim.status:
        return f"the {claim.kind} is {fact.status}, not {claim.status}"
    return None


def _describe(call: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
    try:
        return call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _NOT_FOUND:
            return {}
        raise  # throttling, access denied: the event's retry policy delivers it again
