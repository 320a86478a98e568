"""Storage: the project's KMS key, the raw/curated/artifact buckets and their access-log bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from shared.config import DualloopConfig, Stage
from shared.naming import Names


def removal_policy(cfg: DualloopConfig) -> RemovalPolicy:
    """Prod keeps its data when the stack goes; dev cleans up (non-empty buckets still refuse)."""
    return RemovalPolicy.RETAIN if cfg.stage is Stage.PROD else RemovalPolicy.DESTROY


class DataPlane(Construct):
    """One customer-managed key encrypts every project resource that holds data or logs."""

    def __init__(self, scope: Construct, construct_id: str, *, cfg: DualloopConfig, names: Names) -> None:
        super().__init__(scope, construct_id)
        self._removal = removal_policy(cfg)
        stack = Stack.of(self)

        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{names.base}",
            description=f"{names.base}: data, logs, queues and notifications",
            enable_key_rotation=True,
            removal_policy=self._removal,
        )
        # CloudWatch Logs encrypts log groups (Step Functions, Lambda, Glue) with this key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],  # in a key policy "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                        )
                    }
                },
            )
        )

        # S3 server access logs cannot be delivered to a KMS-encrypted bucket: SSE-S3 here.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=f"{names.base}-access-logs-{names.account}",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=self._removal,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(365 if cfg.stage is Stage.PROD else 90),
                    noncurrent_version_expiration=Duration.days(7),
                )
            ],
        )

        self.raw = self._bucket(
            "Raw",
            names.raw_bucket,
            s3.LifecycleRule(
                id="raw-noncurrent", noncurrent_version_expiration=Duration.days(30), prefix=cfg.raw_prefix
            ),
        )
        # EventBridge delivery natively (NotificationConfiguration), not through CDK's
        # notifications custom resource and its extra Lambda.
        raw_cfn = self.raw.node.default_child
        assert isinstance(raw_cfn, s3.CfnBucket)
        raw_cfn.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )

        # Each retrain writes curated/<execution>/...; old runs age out, the latest ones stay cheap to rerun.
        self.curated = self._bucket(
            "Curated",
            names.curated_bucket,
            s3.LifecycleRule(
                id="curated-runs",
                prefix=cfg.curated_prefix,
                transitions=[
                    s3.Transition(
                        storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30)
                    )
                ],
                expiration=Duration.days(180),
                noncurrent_version_expiration=Duration.days(7),
            ),
        )
        self.artifacts = self._bucket(
            "Artifacts",
            names.artifact_bucket,
            # Content-addressed code and model artifacts must outlive the pipelines that use them.
            s3.LifecycleRule(id="artifacts-noncurrent", noncurrent_version_expiration=Duration.days(30)),
            s3.LifecycleRule(id="datacapture", prefix="datacapture/", expiration=Duration.days(90)),
        )

    def _bucket(self, construct_id: str, name: str, *rules: s3.LifecycleRule) -> s3.Bucket:
        """A project bucket (SSE-KMS with the project key, TLS only, versioned, private, access-logged)
        with ``rules`` after the one every bucket has."""
        return s3.Bucket(
            self,
            construct_id,
            bucket_name=name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,  # one KMS call per object batch, not per request
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{name}/",
            removal_policy=self._removal,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-multipart", abort_incomplete_multipart_upload_after=Duration.days(7)
                ),
                *rules,
            ],
        )
