"""The inner loop: the SageMaker execution role, the model package group and the pipeline.

The pipeline definition is the very JSON ``inner_pipeline.pipeline.pipeline_definition``
builds (see ``infra/pipeline_build.py``); it goes into the template as
``PipelineDefinitionBody``, and the code it points at is deployed with the stack to the
same content-addressed keys in the artifact bucket.
"""

from __future__ import annotations

from aws_cdk import Annotations, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from infra.constructs.arns import Arns
from infra.constructs.data import DataPlane
from infra.constructs.statements import (
    S3_READ,
    S3_READ_WRITE,
    bucket_and_objects,
    pass_to_sagemaker,
    project_key,
    put_metric_data,
    role_with_policy,
    rollback_alarms,
)
from infra.context import StackContext
from infra.nag import acknowledge, acknowledge_wildcards, logical_id
from infra.pipeline_build import PipelineBuild
from shared.config import DualloopConfig


class InnerLoop(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        ctx: StackContext,
        *,
        pipeline: PipelineBuild | None,
    ) -> None:
        super().__init__(scope, construct_id)
        cfg, names, data = ctx.cfg, ctx.names, ctx.data
        stack = Stack.of(self)
        arn = ctx.arns

        self.role, policy = role_with_policy(
            self,
            "Execution",
            role_name=names.sagemaker_role,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker pipeline steps, registered models and endpoints of dualloop",
        )
        group_arn = arn.sagemaker(f"model-package-group/{names.model_package_group}")
        packages_arn = arn.sagemaker(f"model-package/{names.model_package_group}/*")
        policy.add_statements(
            # Steps read the curated data and read/write artifacts (code, models, baselines, capture).
            bucket_and_objects("ReadCurated", data.curated, S3_READ),
            bucket_and_objects("ReadWriteArtifacts", data.artifacts, S3_READ_WRITE),
            project_key(data.key),
            iam.PolicyStatement(
                sid="EcrAuth",
                actions=["ecr:GetAuthorizationToken"],
                resources=["*"],  # GetAuthorizationToken has no resource-level permissions
            ),
            iam.PolicyStatement(
                sid="PullImages",
                actions=[
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                resources=_image_repositories(pipeline, cfg.region),
            ),
            iam.PolicyStatement(
                sid="Logs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[arn.logs("log-group:/aws/sagemaker/*")],
            ),
            put_metric_data("Metrics", "/aws/sagemaker/*", "StringLike"),
            # The pipeline service acts as this role: it starts the step jobs (named
            # pipelines-<execution>-<step>-...) and registers the model.
            iam.PolicyStatement(
                sid="PipelineSteps",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=[
                    arn.sagemaker("processing-job/pipelines-*"),
                    arn.sagemaker("training-job/pipelines-*"),
                ],
            ),
            *_tuning_statements(cfg, arn),
            iam.PolicyStatement(
                sid="RegisterModel",
                actions=[
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:AddTags",
                ],
                resources=[group_arn, packages_arn],
            ),
            # The guardrails doc names the "IAM execution role" for the rollback alarms;
            # this is the role the endpoint's models run as, so it may read them too.
            rollback_alarms(names),
            pass_to_sagemaker("PassSelfToJobs", self.role),
        )
        acknowledge(
            policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Only ecr:GetAuthorizationToken and cloudwatch:PutMetricData (namespace-pinned by condition): "
            "neither API supports resource-level permissions.",
        )
        step_jobs = (
            "Pipeline step jobs are named by SageMaker per execution (pipelines-<execution>-<step>-<suffix>)."
        )
        acknowledge_wildcards(
            policy,
            {
                f"<{logical_id(data.curated)}.Arn>/*": (
                    "Steps read whatever the outer loop curated under per-execution prefixes; keys are not known ahead."
                ),
                f"<{logical_id(data.artifacts)}.Arn>/*": (
                    "Code, model artifacts, baselines and endpoint data capture live under content-addressed keys."
                ),
                arn.logs("log-group:/aws/sagemaker/*"): (
                    "SageMaker names a log group per job type (/aws/sagemaker/ProcessingJobs, TrainingJobs, "
                    "Endpoints/<name>)."
                ),
                arn.sagemaker("processing-job/pipelines-*"): step_jobs,
                arn.sagemaker("training-job/pipelines-*"): step_jobs,
                packages_arn: "Model package versions are numbered by the registry; scoped to this project's group.",
                **{
                    r: "SageMaker-owned image repository: pull only, scoped to the repositories the pipeline runs."
                    for r in _image_repositories(pipeline, cfg.region)
                    if "*" in r
                },
                **(
                    {
                        arn.sagemaker("hyper-parameter-tuning-job/*"): (
                            "SageMaker names a pipeline's tuning jobs per execution; the statements hold only for "
                            "tuning jobs tagged with this project and stage."
                        )
                    }
                    if cfg.tuning.enabled
                    else {}
                ),
            },
        )

        self.model_package_group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=names.model_package_group,
            model_package_group_description=f"{names.base}: models registered by the inner loop",
        )

        self.pipeline: sagemaker.CfnPipeline | None = None
        if pipeline is None:
            Annotations.of(self).add_warning_v2(
                "dualloop:no-pipeline",
                "No pipeline definition was built (is inner_pipeline/pipeline.py there?): the stack has no "
                "AWS::SageMaker::Pipeline. Create it with `make upsert-pipeline` after deploying.",
            )
            return

        # The code the definition points at, byte for byte at the keys the build used. Never
        # prune: the bucket also holds models, baselines and earlier code versions.
        code = s3deploy.BucketDeployment(
            self,
            "PipelineCode",
            sources=[s3deploy.Source.asset(str(pipeline.uploads))],
            destination_bucket=data.artifacts,
            prune=False,
            retain_on_delete=True,
            memory_limit=512,
        )
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=names.pipeline,
            pipeline_display_name=names.pipeline,
            role_arn=self.role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": pipeline.definition},
        )
        self.pipeline.node.add_dependency(code)
        self.pipeline.node.add_dependency(policy)
        _acknowledge_bucket_deployment(stack, data)


def _tuning_statements(cfg: DualloopConfig, arn: Arns) -> list[iam.PolicyStatement]:
    """With ``tuning.enabled`` Train is a tuning job, which the pipeline starts as this role.

    SageMaker names a pipeline's tuning jobs itself (not ``pipelines-*``), so the statements
    hold for this project's and stage's tags instead: on the request when creating (the step
    passes them in Tags, and tagging at creation needs sagemaker:AddTags too), on the job
    afterwards. The training jobs a tuning job launches are the tuning job's own doing;
    passing the definition's role is PassSelfToJobs. (Service Authorization Reference, Amazon
    SageMaker AI: hyper-parameter-tuning-job supports aws:RequestTag and aws:ResourceTag.)
    """
    if not cfg.tuning.enabled:
        return []
    jobs = arn.sagemaker("hyper-parameter-tuning-job/*")
    tags = {"dualloop:project": cfg.project, "dualloop:stage": cfg.stage.value}
    return [
        iam.PolicyStatement(
            sid="PipelineTuningCreate",
            actions=["sagemaker:CreateHyperParameterTuningJob", "sagemaker:AddTags"],
            resources=[jobs],
            conditions={"StringEquals": {f"aws:RequestTag/{k}": v for k, v in tags.items()}},
        ),
        iam.PolicyStatement(
            sid="PipelineTuningFollow",
            actions=[
                "sagemaker:DescribeHyperParameterTuningJob",
                "sagemaker:StopHyperParameterTuningJob",
                "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
            ],
            resources=[jobs],
            conditions={"StringEquals": {f"aws:ResourceTag/{k}": v for k, v in tags.items()}},
        ),
    ]


def _image_repositories(pipeline: PipelineBuild | None, region: str) -> list[str]:
    """ECR repositories to pull from: exactly those the definition runs, else SageMaker's own."""
    if pipeline is not None and pipeline.ecr_repositories:
        return [f"arn:aws:ecr:{r}:{a}:repository/{repo}" for a, r, repo in pipeline.ecr_repositories]
    # SageMaker's framework images live in AWS-owned accounts that differ per region.
    return [f"arn:aws:ecr:{region}:*:repository/sagemaker-*"]


def _acknowledge_bucket_deployment(stack: Stack, data: DataPlane) -> None:
    """BucketDeployment's singleton handler is CDK's own code and grants; acknowledge each
    finding on it, and only on it."""
    handler = next(c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment"))
    copy = "CDK's BucketDeployment handler copies the pipeline code asset into the artifact bucket"
    for finding, reason in (
        (
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            f"{copy}; the AWS managed basic-execution policy only lets it write its own logs.",
        ),
        ("AwsSolutions-L1", f"{copy}; its runtime is pinned by aws-cdk-lib and moves with CDK upgrades."),
        *(
            (
                f"AwsSolutions-IAM5[Action::{action}]",
                f"{copy}; CDK's asset and bucket grants use these action groups (prune=False: it never deletes).",
            )
            for action in (
                "s3:GetBucket*",
                "s3:GetObject*",
                "s3:List*",
                "s3:Abort*",
                "s3:DeleteObject*",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
            )
        ),
        (
            f"AwsSolutions-IAM5[Resource::arn:aws:s3:::{_asset_bucket(stack)}/*]",
            f"{copy}; it reads the asset zip from the CDK bootstrap bucket, whose keys are content hashes.",
        ),
        (
            f"AwsSolutions-IAM5[Resource::<{logical_id(data.artifacts)}.Arn>/*]",
            f"{copy}; the keys are content-addressed (pipelines/code/<sha256>/...), so not known to IAM ahead.",
        ),
    ):
        acknowledge(handler, finding, reason)


def _asset_bucket(stack: Stack) -> str:
    """The bootstrap asset bucket's name as the default synthesizer resolves it for this env."""
    return f"cdk-hnb659fds-assets-{stack.account}-{stack.region}"
