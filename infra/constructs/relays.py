"""The relay Lambdas that hand SageMaker's answers back to the waiting state machine.
(Just over 400 lines: four relays wired in one construct, and the Lambda helpers the other constructs import.)

- pipeline relay: pipeline execution status change → SendTaskSuccess/Failure (RunInnerPipeline);
- approval relay: model package approval change → SendTaskSuccess/Failure (AwaitApproval);
- store token: invoked by AwaitApproval, stores the task token by model package ARN and
  tells approvers.
- pipeline callback: invoked by RunInnerPipeline, stores the task token by execution name
  and starts the pipeline with that key (and answers at once, on a later check, a pipeline
  whose event was lost).

The code asset is the repo's ``outer_orchestrator`` handlers plus ``shared``, without the
workstation-only parts; Powertools comes from the AWS-published layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import sources
from infra.constructs.arns import Arns
from infra.constructs.data import DataPlane, removal_policy
from infra.nag import acknowledge, logical_id
from inner_pipeline.pipeline import EVALUATION_FILE
from shared.config import DualloopConfig, Stage
from shared.naming import Names

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64
# The Powertools release the handlers are tested with, resolved at deploy time from AWS's
# public SSM parameters (/aws/service/powertools/python/<arch>/<runtime>/<version>), so
# synth stays offline. The layer carries pydantic (Powertools' parser extra).
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_PARAMETER = (
    f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{POWERTOOLS_VERSION}"
)
# shared.contracts -> shared.config imports pydantic-settings and PyYAML, which the runtime
# lacks and the layer may lack: vendored as pure Python (pydantic itself is compiled: layer).
VENDORED = ("pydantic-settings", "python-dotenv", "PyYAML")
LAMBDA_PACKAGES = ("outer_orchestrator/handlers", "shared")
# Workstation-only code (moto, the CLI, numpy demo data) never ships to Lambda.
LAMBDA_EXCLUDES = ("shared/local_cloud", "shared/cli.py", "shared/demo_data.py")
EVENT_RETRY_ATTEMPTS = 8  # EventBridge retries with backoff; the relays are idempotent
EVENT_MAX_AGE = Duration.hours(2)


@dataclass(frozen=True)
class _Spec:
    construct_id: str
    function_name: str
    module: str
    description: str


class Relays(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DualloopConfig,
        names: Names,
        data: DataPlane,
        token_table: dynamodb.ITable,
        pipeline_token_table: dynamodb.ITable,
        topic: sns.ITopic,
        dead_letters: sqs.IQueue,
        reserved_concurrency: int | None = None,
    ) -> None:
        """``reserved_concurrency``: per relay function; None (the default) reserves nothing.

        Lambda refuses a reservation that would leave the account fewer than 100 unreserved
        executions (its whole quota, when the quota is lower), so any reservation fails to
        deploy in an account with a low concurrency quota (new accounts can start at 10). The relays handle a few events per retrain, so there
        is no burst to bound, and their callers retry throttling (EventBridge's retry policy,
        Lambda's async queue, the ASL's Retry on Lambda.TooManyRequestsException). Reserving
        is for a shared account where other functions could starve them: opt in there
        (``-c relay_reserved_concurrency=N``).
        """
        super().__init__(scope, construct_id)
        if reserved_concurrency is not None and reserved_concurrency < 1:
            raise ValueError(f"relay reserved concurrency must be at least 1, got {reserved_concurrency}")
        arn = Arns(names)
        pipeline_executions = arn.sagemaker(f"pipeline/{names.pipeline}/execution/*")
        model_packages = arn.sagemaker(f"model-package/{names.model_package_group}/*")
        reports = data.artifacts.arn_for_objects(evaluation_reports(cfg))

        def read_executions(*actions: str) -> iam.PolicyStatement:
            return iam.PolicyStatement(
                sid="ReadPipelineExecutions", actions=list(actions), resources=[pipeline_executions]
            )

        def tokens(sid: str, table: dynamodb.ITable, *actions: str) -> iam.PolicyStatement:
            return iam.PolicyStatement(
                sid=sid, actions=[f"dynamodb:{a}" for a in actions], resources=[table.table_arn]
            )

        read_packages = iam.PolicyStatement(
            sid="ReadModelPackages", actions=["sagemaker:DescribeModelPackage"], resources=[model_packages]
        )
        # The relay reads a registered model's evaluation report from the package's
        # ModelMetrics.ModelQuality.Statistics.S3Uri, which the pipeline sets: any report named
        # evaluation.json under the artifact prefix, whatever its step is called. Only GetObject:
        # CDK's grant_read would add s3:List* and s3:GetBucket*, which no relay calls.
        read_reports = iam.PolicyStatement(
            sid="ReadEvaluationReports", actions=["s3:GetObject"], resources=[reports]
        )
        answer = iam.PolicyStatement(
            sid="AnswerTaskTokens",
            actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
            # These APIs take only a task token: IAM has no resource to scope them to,
            # and a statement naming the state machine would never match (deny).
            resources=["*"],
        )
        project_key = iam.PolicyStatement(
            sid="ProjectKey",
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            resources=[data.key.key_arn],
        )
        # Each handler's own role holds exactly the calls its code makes (tests/infra lists them).
        grants: dict[str, list[iam.PolicyStatement]] = {
            "pipeline_relay": [
                read_executions(
                    "sagemaker:DescribePipelineExecution",
                    "sagemaker:ListPipelineExecutionSteps",
                    "sagemaker:ListPipelineParametersForExecution",
                ),
                read_packages,
                read_reports,
                answer,
                tokens("PipelineTaskTokens", pipeline_token_table, "GetItem", "DeleteItem"),
                project_key,
            ],
            "approval_relay": [
                read_packages,
                answer,
                tokens("TaskTokens", token_table, "DeleteItem", "PutItem"),
                project_key,
            ],
            # Starts the pipeline; answers at once for a pipeline whose event was lost.
            "pipeline_callback": [
                iam.PolicyStatement(
                    sid="StartPipeline",
                    actions=["sagemaker:StartPipelineExecution"],
                    resources=[arn.sagemaker(f"pipeline/{names.pipeline}")],
                ),
                read_executions(
                    "sagemaker:DescribePipelineExecution", "sagemaker:ListPipelineExecutionSteps"
                ),
                read_packages,
                read_reports,
                answer,
                tokens("PipelineTaskTokens", pipeline_token_table, "PutItem", "UpdateItem", "DeleteItem"),
                project_key,
            ],
            # Stores the token, tells approvers, answers a decision made before it was awaited.
            "store_token": [
                tokens("TaskTokens", token_table, "PutItem", "DeleteItem"),
                iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[topic.topic_arn]),
                read_packages,
                answer,
                project_key,
            ],
        }
        self.roles: dict[str, iam.Role] = {}
        self.policies: dict[str, iam.Policy] = {}
        for handler, statements in grants.items():
            role = iam.Role(
                self,
                f"{_construct_id(handler)}Role",
                role_name=names.relay_role(handler),
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"dualloop {handler.replace('_', ' ')} handler: only the calls it makes",
            )
            policy = iam.Policy(self, f"{_construct_id(handler)}Policy", statements=statements)
            policy.attach_to_role(role)
            self.roles[handler], self.policies[handler] = role, policy
            acknowledge(
                policy,
                "AwsSolutions-IAM5[Resource::*]",
                "Only states:SendTaskSuccess/SendTaskFailure, which have no resource-level permissions (the "
                "call carries just a task token); the token itself is the capability.",
            )
            wildcards = {
                pipeline_executions: "Pipeline execution ids are minted per run; scoped to this project's pipeline.",
                model_packages: "Model package versions are numbered by the registry; scoped to this project's group.",
            }
            for resource, reason in wildcards.items():
                if any(resource in s.resources for s in statements):
                    acknowledge(policy, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
            if read_reports in statements:
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[Resource::<{logical_id(data.artifacts)}.Arn>/{evaluation_reports(cfg)}]",
                    "Evaluation reports sit under each pipeline execution's own prefix (execution ids are "
                    "minted per run, step names are the data scientist's); only objects named "
                    "evaluation.json under the artifact prefix.",
                )

        powertools = powertools_layer(self)
        environment = {
            "DUALLOOP_TOKEN_TABLE": names.token_table,
            "DUALLOOP_PIPELINE_TOKEN_TABLE": names.pipeline_token_table,
            "DUALLOOP_TOPIC_ARN": names.topic_arn,
            "DUALLOOP_PIPELINE_NAME": names.pipeline,
            "DUALLOOP_MODEL_PACKAGE_GROUP": names.model_package_group,
        }

        specs = (
            _Spec(
                "PipelineRelay",
                names.pipeline_relay_function,
                "pipeline_relay",
                "Pipeline execution status change -> SendTaskSuccess/Failure to RunInnerPipeline",
            ),
            _Spec(
                "ApprovalRelay",
                names.approval_relay_function,
                "approval_relay",
                "Model package approval change -> SendTaskSuccess/Failure to AwaitApproval",
            ),
            _Spec(
                "PipelineCallback",
                names.pipeline_callback_function,
                "pipeline_callback",
                "RunInnerPipeline: store the task token by execution name, start the pipeline with that key",
            ),
            _Spec(
                "StoreToken",
                names.store_token_function,
                "store_token",
                "AwaitApproval: store the task token by model package ARN, notify approvers",
            ),
        )
        self.dead_letters = dead_letters
        # Invoked asynchronously by EventBridge: what they fail on, after Lambda's retries, is kept.
        asynchronous = {"pipeline_relay", "approval_relay"}
        code = handler_code(self, cfg, *(spec.module for spec in specs))
        self.functions: dict[str, lambda_.Function] = {}
        for spec in specs:
            fn = handler_function(
                self,
                spec.construct_id,
                data=data,
                function_name=spec.function_name,
                module=spec.module,
                description=spec.description,
                code=code,
                layer=powertools,
                role=self.roles[spec.module],
                log_group=handler_log_group(
                    self, f"{spec.construct_id}Logs", cfg=cfg, data=data, function_name=spec.function_name
                ),
                environment=environment,
                reserved_concurrent_executions=reserved_concurrency,
                dead_letter_queue=dead_letters if spec.module in asynchronous else None,
            )
            fn.node.add_dependency(self.policies[spec.module])
            # Each function writes to its own log group, nowhere else.
            logs_policy = iam.Policy(
                self, f"{spec.construct_id}LogsPolicy", statements=[write_own_logs(fn.log_group)]
            )
            logs_policy.attach_to_role(self.roles[spec.module])
            fn.node.add_dependency(logs_policy)
            acknowledge_xray(self.roles[spec.module])
            self.functions[spec.module] = fn

        stack = Stack.of(self)
        self.pipeline_status_rule = events.Rule(
            self,
            "PipelineStatusRule",
            rule_name=names.pipeline_status_rule,
            description="SageMaker pipeline execution status changes of the inner loop -> pipeline relay",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Building Pipeline Execution Status Change"],
                detail={"pipelineArn": [names.pipeline_arn]},
                account=[stack.account],
            ),
            targets=[self._target(self.functions["pipeline_relay"])],
        )
        self.model_package_rule = events.Rule(
            self,
            "ModelPackageStateRule",
            rule_name=names.model_package_state_rule,
            description="Model package approval changes in the project's group -> approval relay",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Model Package State Change"],
                detail={"ModelPackageGroupName": [names.model_package_group]},
                account=[stack.account],
            ),
            targets=[self._target(self.functions["approval_relay"])],
        )

    def _target(self, fn: lambda_.IFunction) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            fn,
            retry_attempts=EVENT_RETRY_ATTEMPTS,
            max_event_age=EVENT_MAX_AGE,
            dead_letter_queue=self.dead_letters,
        )


def evaluation_reports(cfg: DualloopConfig) -> str:
    """The key pattern of the evaluation reports the relays may read: any ``evaluation.json``
    under the artifact prefix (the reference pipeline's Evaluate step writes
    ``executions/<id>/Evaluate/evaluation/evaluation.json``; a data scientist's step may have
    another name). IAM's ``*`` spans ``/``."""
    return f"{cfg.artifact_prefix}*/{EVALUATION_FILE}"


def _construct_id(handler: str) -> str:
    return "".join(part.title() for part in handler.split("_"))


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The AWS-published Powertools layer (with pydantic), pinned to ``POWERTOOLS_VERSION``."""
    # value_for_string_parameter reuses one template parameter per name across the stack.
    arn = ssm.StringParameter.value_for_string_parameter(scope, POWERTOOLS_PARAMETER)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "Powertools", arn)


def retention(cfg: DualloopConfig) -> logs.RetentionDays:
    return logs.RetentionDays.ONE_YEAR if cfg.stage is Stage.PROD else logs.RetentionDays.ONE_MONTH


def handler_log_group(
    scope: Construct, construct_id: str, *, cfg: DualloopConfig, data: DataPlane, function_name: str
) -> logs.LogGroup:
    """The function's own log group, created ahead of it: encrypted, with the stage's retention."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=f"/aws/lambda/{function_name}",
        encryption_key=data.key,
        retention=retention(cfg),
        removal_policy=removal_policy(cfg),
    )


def handler_code(scope: Construct, cfg: DualloopConfig, *modules: str) -> lambda_.Code:
    """The handlers' code asset (``LAMBDA_PACKAGES`` with ``VENDORED``), once ``modules`` are
    known to be in it."""
    for module in modules:
        module_file = sources.HANDLERS_DIR / f"{module}.py"
        if not module_file.is_file():
            sources.missing_source(scope, module_file, strict=cfg.stage is Stage.PROD)
    code_dir = sources.stage_packages("lambda-code", LAMBDA_PACKAGES, exclude=LAMBDA_EXCLUDES)
    for distribution in VENDORED:
        sources.vendor_pure_python(code_dir, distribution)
    return lambda_.Code.from_asset(str(code_dir))


def handler_function(
    scope: Construct,
    construct_id: str,
    *,
    data: DataPlane,
    function_name: str,
    module: str,
    description: str,
    code: lambda_.Code,
    layer: lambda_.ILayerVersion,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    environment: dict[str, str],
    **options: Any,
) -> lambda_.Function:
    """A project handler on Lambda as every one of them runs: the pinned runtime with the
    Powertools layer, X-Ray, its own log group, its environment encrypted with the project key."""
    function = lambda_.Function(
        scope,
        construct_id,
        function_name=function_name,
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=f"outer_orchestrator.handlers.{module}.handler",
        code=code,
        layers=[layer],
        role=role,
        memory_size=256,
        timeout=Duration.seconds(30),
        tracing=lambda_.Tracing.ACTIVE,
        environment={**environment, "POWERTOOLS_SERVICE_NAME": function_name},
        environment_encryption=data.key,
        log_group=log_group,
        **options,
    )
    acknowledge(
        function,
        "AwsSolutions-L1",
        f"{RUNTIME.name} is pinned deliberately: it is the newest runtime the AWS Powertools layer and "
        "the project's tested Python (3.11/3.12) share.",
    )
    return function


def write_own_logs(*log_groups: logs.ILogGroup) -> iam.PolicyStatement:
    """Lambda writes to the log groups created for its functions, nowhere else."""
    return iam.PolicyStatement(
        sid="WriteOwnLogs",
        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
        resources=[group.log_group_arn for group in log_groups],
    )


def acknowledge_xray(role: iam.IRole) -> None:
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments/PutTelemetryRecords (added by Tracing.ACTIVE) have no resource-level "
        "permissions.",
    )
