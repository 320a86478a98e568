"""IAM: a role with one policy of its own, and the statements several roles share, each spelled
once with the rule that narrows it.

CDK's ``grant_*`` methods would be shorter but wider for these: ``grant_read`` on a bucket adds
``s3:GetBucket*``/``s3:List*`` and the key's grants, ``grant_encrypt_decrypt`` adds
``kms:ReEncrypt*``, ``grant_pass_role`` drops the ``iam:PassedToService`` condition, and
``grant_invoke`` adds the function's versions and aliases (``<arn>:*``). Those that match
(``grant_publish``, ``grant_start_execution``, ``grant_decrypt``, ``Table.grant`` with named
actions) write an unnamed statement into the role's default policy, outside the policy made
for the role, while the roles' allowlist tests (tests/infra) look each statement up by ``Sid``.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from shared.naming import Names

S3_READ = ("s3:GetObject", "s3:ListBucket")
S3_READ_WRITE = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:AbortMultipartUpload",
)
# What a role needs of the project key to read and write encrypted data (no re-encryption).
KMS_USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


def role_with_policy(
    scope: Construct,
    prefix: str,
    *,
    role_name: str,
    assumed_by: iam.IPrincipal,
    description: str,
    statements: Sequence[iam.PolicyStatement] = (),
) -> tuple[iam.Role, iam.Policy]:
    """The role ``<prefix>Role`` and the one policy made for it, ``<prefix>Policy``, holding
    ``statements`` (``add_statements`` adds those that name the role itself). What CDK grants the
    role on its own (X-Ray, log delivery, event targets) lands in the role's default policy."""
    role = iam.Role(
        scope, f"{prefix}Role", role_name=role_name, assumed_by=assumed_by, description=description
    )
    policy = iam.Policy(scope, f"{prefix}Policy", statements=list(statements))
    policy.attach_to_role(role)
    return role, policy


def project_key(
    key: kms.IKey,
    actions: Sequence[str] = KMS_USE,
    *,
    sid: str = "ProjectKey",
    conditions: dict[str, object] | None = None,
) -> iam.PolicyStatement:
    return iam.PolicyStatement(sid=sid, actions=list(actions), resources=[key.key_arn], conditions=conditions)


def bucket_and_objects(
    sid: str, bucket: s3.IBucket, actions: Sequence[str], keys: str = "*"
) -> iam.PolicyStatement:
    """``actions`` on the bucket (ListBucket) and on its objects under ``keys``."""
    return iam.PolicyStatement(
        sid=sid, actions=list(actions), resources=[bucket.bucket_arn, bucket.arn_for_objects(keys)]
    )


def objects(sid: str, bucket: s3.IBucket, *keys: str, action: str = "s3:GetObject") -> iam.PolicyStatement:
    """One object action on the objects under ``keys`` (key patterns), nothing on the bucket."""
    return iam.PolicyStatement(sid=sid, actions=[action], resources=[bucket.arn_for_objects(k) for k in keys])


def list_prefixes(sid: str, bucket: s3.IBucket, *prefixes: str) -> iam.PolicyStatement:
    """ListBucket, only for requests whose ``prefix`` matches one of ``prefixes``."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": list(prefixes)}},
    )


def put_metric_data(sid: str, namespace: str, operator: str = "StringEquals") -> iam.PolicyStatement:
    """PutMetricData has no resource-level permissions: ``*``, pinned to one namespace by condition."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],
        conditions={operator: {"cloudwatch:namespace": namespace}},
    )


def rollback_alarms(names: Names) -> iam.PolicyStatement:
    """UpdateEndpoint with AutoRollbackConfiguration: SageMaker checks the caller, and the endpoint's
    execution role, may read the rollback alarms ("Ensure that your IAM execution role has permission
    to perform the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify":
    docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html)."""
    return iam.PolicyStatement(
        sid="RollbackAlarms",
        actions=["cloudwatch:DescribeAlarms"],
        resources=[names.alarm_arn(alarm) for alarm in names.endpoint_alarms],
    )


def pass_to_sagemaker(sid: str, role: iam.IRole) -> iam.PolicyStatement:
    """PassRole of ``role``, to SageMaker only."""
    return iam.PolicyStatement(
        sid=sid,
        actions=["iam:PassRole"],
        resources=[role.role_arn],
        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    )
