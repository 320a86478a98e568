"""What a stage of a multi-stage config needs to take part in promotion (``config.stages``).

- the promotion state machine: the outer loop's approval and blue/green states
  (``outer_orchestrator.promotion_asl``), running as the outer loop's role, whose policy
  already allows exactly those tasks;
- the promotion role, which ``dualloop promote`` assumes from the deploying account (the
  first stage's): it copies a package into this stage's registry, approves it by the stage's
  rule, starts the promotion state machine, reads what the endpoint serves, notifies; in the
  stage that owns the artifacts it also reads the evaluation reports and adds the per-package
  grants to the artifact bucket's policy;
- in every stage after the first, the SageMaker execution role may read the first stage's
  artifact objects (and decrypt them with its key, through S3 only), since the endpoint reads
  the promoted artifact as that role; in another account the first stage's bucket policy then
  admits exactly the promoted packages' artifacts (cross-account access needs both; IAM User
  Guide, "Cross-account policy evaluation logic").

Every cross-account statement is listed in tests/infra/test_infra_promotion.py.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.arns import Arns
from infra.constructs.drift import BASELINE_KEYS
from infra.constructs.outer_loop import asl_state_machine
from infra.constructs.statements import project_key, role_with_policy
from infra.context import StackContext
from infra.nag import acknowledge, acknowledge_wildcards, logical_id
from outer_orchestrator.promotion_asl import promotion_definition
from shared.config import DualloopConfig, stage_config, stage_path
from shared.naming import Names


class PromotionTarget(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        ctx: StackContext,
        *,
        sagemaker_role: iam.IRole,
        state_machine_role: iam.IRole,
        log_group: logs.ILogGroup,
        drift_role: iam.IRole | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        cfg, names, data = ctx.cfg, ctx.names, ctx.data
        path = stage_path(cfg)
        if cfg.stage not in [s.name for s in path]:
            raise ValueError(
                f"stage {cfg.stage.value} is not in stages: add it, or deploy one of the listed stages"
            )
        origin = stage_config(cfg, path[0].name.value)
        origin_names = Names(origin)
        arn = ctx.arns

        # The promotion ASL's ${...} placeholders are the outer loop's.
        self.state_machine = asl_state_machine(
            self,
            names,
            state_machine_name=names.promotion_state_machine,
            definition=promotion_definition(),
            role=state_machine_role,
            log_group=log_group,
        )

        packages = arn.sagemaker(f"model-package/{names.model_package_group}/*")
        executions = (
            f"arn:aws:states:{names.region}:{names.account}:execution:{names.promotion_state_machine}:*"
        )
        models = arn.sagemaker(f"model/{names.model_name_prefix}-*")
        configs = arn.sagemaker(f"endpoint-config/{names.model_name_prefix}-*")
        statements = [
            iam.PolicyStatement(
                sid="Registry",
                actions=[
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:UpdateModelPackage",
                    "sagemaker:ListModelPackages",
                ],
                resources=[arn.sagemaker(f"model-package-group/{names.model_package_group}"), packages],
            ),
            iam.PolicyStatement(
                sid="Serving",
                actions=[
                    "sagemaker:DescribeEndpoint",
                    "sagemaker:DescribeEndpointConfig",
                    "sagemaker:DescribeModel",
                ],
                resources=[names.endpoint_arn.lower(), models, configs],
            ),
            iam.PolicyStatement(
                sid="StartPromotion",
                actions=["states:StartExecution"],
                resources=[self.state_machine.state_machine_arn],
            ),
            iam.PolicyStatement(
                sid="FollowPromotion",
                actions=["states:DescribeExecution", "states:GetExecutionHistory"],
                resources=[executions],
            ),
            iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[names.topic_arn]),
        ]
        if cfg.stage is path[0].name:
            # The stage that trains owns the artifacts: it reads evaluation reports and grants
            # each promoted artifact to the next stages' SageMaker roles, one object at a time.
            statements += [
                iam.PolicyStatement(
                    sid="ReadReports",
                    actions=["s3:GetObject"],
                    resources=[data.artifacts.arn_for_objects("*")],
                ),
                iam.PolicyStatement(
                    sid="GrantArtifacts",
                    actions=["s3:GetBucketPolicy", "s3:PutBucketPolicy"],
                    resources=[data.artifacts.bucket_arn],
                ),
                project_key(data.key, ["kms:Decrypt"]),
            ]
            # Cross-account reads of the promoted artifacts also need this key's policy to allow
            # them (KMS Developer Guide, "Allowing users in other accounts to use a KMS key"):
            # each later stage's SageMaker role, through S3 only. By account and role ARN, not
            # the role itself, which may not exist yet when this stack deploys first.
            for later in path[1:]:
                if later.account_id == cfg.account_id:
                    continue
                later_names = Names(stage_config(cfg, later.name.value))
                # The SageMaker role decrypts the artifact, the drift check role the drift baseline.
                role_arns = [later_names.sagemaker_role_arn, later_names.drift_role_arn]
                data.key.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid=f"PromotedArtifactsTo{later.name.value.capitalize()}",
                        principals=[iam.AccountPrincipal(later.account_id)],
                        actions=["kms:Decrypt"],
                        resources=["*"],  # in a key policy, "*" is this key
                        conditions={
                            "StringEquals": {
                                "kms:ViaService": f"s3.{cfg.region}.amazonaws.com",
                                "aws:PrincipalArn": role_arns,
                            }
                        },
                    )
                )
        self.role, policy = role_with_policy(
            self,
            "",
            role_name=names.promotion_role,
            # The deploying account: where `dualloop promote` runs (the first stage's account).
            assumed_by=iam.AccountPrincipal(path[0].account_id),
            description=f"dualloop promote: receive an approved package into stage {cfg.stage.value}",
            statements=statements,
        )
        acknowledge_wildcards(
            policy,
            {
                packages: "each promoted package is a new version in this stage's group; the group pins it",
                executions: "promotion executions are named per run; the state machine name pins them",
                models: "the promotion state machine names models <prefix>-<uuid>; the prefix pins them",
                configs: "the promotion state machine names endpoint configs <prefix>-<uuid>; the prefix pins them",
                f"<{logical_id(data.artifacts)}.Arn>/*": (
                    "the evaluation reports of every registered package, read to copy their metrics on promotion"
                ),
            },
        )

        if cfg.stage is not path[0].name:
            # Reads in the first stage's bucket: across accounts its bucket policy also admits only
            # what was promoted; within one account this role's policy alone decides (as hosting
            # reads the artifact as the model's role, local cloud included). Its key: through S3 only.
            across = origin.account_id != cfg.account_id
            artifacts = Arns.s3(origin_names.artifact_bucket, "*")
            _read_from_first_stage(
                sagemaker_role,
                "Artifacts",
                origin,
                [
                    iam.PolicyStatement(
                        sid="ReadPromotedArtifacts", actions=["s3:GetObject"], resources=[artifacts]
                    )
                ],
                {
                    artifacts: "the first stage's bucket policy admits only the promoted artifacts, one object per package"
                    if across
                    else "a promoted package's artifact is wherever the first stage's pipeline wrote it in its bucket"
                },
            )
            if drift_role is not None:
                # The drift check compares this stage's traffic with the promoted package's baseline.
                baselines = f"{origin.artifact_prefix}{BASELINE_KEYS}"
                objects = Arns.s3(origin_names.artifact_bucket, baselines)
                _read_from_first_stage(
                    drift_role,
                    "Baselines",
                    origin,
                    [
                        iam.PolicyStatement(
                            sid="ReadPromotedBaselines", actions=["s3:GetObject"], resources=[objects]
                        ),
                        iam.PolicyStatement(
                            sid="ListPromotedBaselines",
                            actions=["s3:ListBucket"],
                            resources=[Arns.s3(origin_names.artifact_bucket)],
                            conditions={"StringLike": {"s3:prefix": [baselines]}},
                        ),
                    ],
                    {
                        objects: "the first stage's bucket policy admits only the promoted packages' baselines"
                        if across
                        else "the baselines of the first stage's retrains, one prefix per execution"
                    },
                )


def _read_from_first_stage(
    role: iam.IRole,
    what: str,
    origin: DualloopConfig,
    reads: list[iam.PolicyStatement],
    wildcards: dict[str, str],
) -> None:
    """``role`` may make ``reads`` in the first stage's account and decrypt what they return
    through S3 with that stage's key (whose id this stack does not know)."""
    key = f"arn:aws:kms:{origin.region}:{origin.account_id}:key/*"
    for statement in reads:
        role.add_to_principal_policy(statement)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=f"DecryptPromoted{what}",
            actions=["kms:Decrypt"],
            resources=[key],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{origin.region}.amazonaws.com"}},
        )
    )
    default_policy = role.node.try_find_child("DefaultPolicy")
    if default_policy is None:
        return
    reasons = wildcards | {
        key: "the first stage's key id is not known to this stack; kms:ViaService limits it to S3 reads"
    }
    for resource, reason in reasons.items():
        acknowledge(default_policy, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
