"""The relay Lambdas that hand SageMaker's answers back to the waiting state machine.

- pipeline relay: pipeline execution status change → SendTaskSuccess/Failure (RunInnerPipeline);
- approval relay: model package approval change → SendTaskSuccess/Failure (AwaitApproval);
- store token: invoked by AwaitApproval, stores the task token by model package ARN and
  tells approvers.
- pipeline callback: invoked by RunInnerPipeline, stores the task token by execution name
  and starts the pipeline with that key (and answers at once, on a later check, a pipeline
  whose event was lost).

The code asset is the repo's ``outer_orchestrator`` handlers plus ``shared``, without the
workstation-only parts; Powertools comes from the AWS-published layer (``lambdas.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.lambdas import event_rule, handler_code, handler_module, lambda_target, python_function
from infra.constructs.statements import objects, project_key
from infra.context import StackContext
from infra.nag import logical_id
from inner_pipeline.pipeline import EVALUATION_FILE
from shared.config import DualloopConfig


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
        ctx: StackContext,
        *,
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
        cfg, names, data = ctx.cfg, ctx.names, ctx.data
        if reserved_concurrency is not None and reserved_concurrency < 1:
            raise ValueError(f"relay reserved concurrency must be at least 1, got {reserved_concurrency}")
        arn = ctx.arns
        pipeline_executions = arn.sagemaker(f"pipeline/{names.pipeline}/execution/*")
        model_packages = arn.sagemaker(f"model-package/{names.model_package_group}/*")

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
        read_reports = objects("ReadEvaluationReports", data.artifacts, evaluation_reports(cfg))
        answer = iam.PolicyStatement(
            sid="AnswerTaskTokens",
            actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
            # These APIs take only a task token: IAM has no resource to scope them to,
            # and a statement naming the state machine would never match (deny).
            resources=["*"],
        )
        key = project_key(data.key)
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
                key,
            ],
            "approval_relay": [
                read_packages,
                answer,
                tokens("TaskTokens", token_table, "DeleteItem", "PutItem"),
                key,
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
                key,
            ],
            # Stores the token, tells approvers, answers a decision made before it was awaited.
            "store_token": [
                tokens("TaskTokens", token_table, "PutItem", "DeleteItem"),
                iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[topic.topic_arn]),
                read_packages,
                answer,
                key,
            ],
        }
        # Each wildcard resource, and why IAM cannot name it narrower (cdk-nag), for the roles that hold it.
        wildcards = {
            "*": "Only states:SendTaskSuccess/SendTaskFailure, which have no resource-level permissions (the "
            "call carries just a task token); the token itself is the capability.",
            pipeline_executions: "Pipeline execution ids are minted per run; scoped to this project's pipeline.",
            model_packages: "Model package versions are numbered by the registry; scoped to this project's group.",
        }
        reports_pattern = f"<{logical_id(data.artifacts)}.Arn>/{evaluation_reports(cfg)}"
        reports_reason = (
            "Evaluation reports sit under each pipeline execution's own prefix (execution ids are minted per "
            "run, step names are the data scientist's); only objects named evaluation.json under the artifact "
            "prefix."
        )
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
        environment = {
            "DUALLOOP_TOKEN_TABLE": names.token_table,
            "DUALLOOP_PIPELINE_TOKEN_TABLE": names.pipeline_token_table,
            "DUALLOOP_TOPIC_ARN": names.topic_arn,
            "DUALLOOP_PIPELINE_NAME": names.pipeline,
            "DUALLOOP_MODEL_PACKAGE_GROUP": names.model_package_group,
        }
        # Invoked asynchronously by EventBridge: what they fail on, after Lambda's retries, is kept.
        asynchronous = {"pipeline_relay", "approval_relay"}
        code = handler_code(self, ctx, *(spec.module for spec in specs))
        self.functions: dict[str, lambda_.Function] = {}
        for spec in specs:
            statements = grants[spec.module]
            relay = python_function(
                self,
                ctx,
                spec.construct_id,
                function_name=spec.function_name,
                role_name=names.relay_role(spec.module),
                role_description=f"dualloop {spec.module.replace('_', ' ')} handler: only the calls it makes",
                statements=statements,
                handler=handler_module(spec.module),
                code=code,
                description=spec.description,
                environment=environment,
                wildcards={
                    **{r: why for r, why in wildcards.items() if any(r in s.resources for s in statements)},
                    **({reports_pattern: reports_reason} if read_reports in statements else {}),
                },
                reserved_concurrent_executions=reserved_concurrency,
                dead_letter_queue=dead_letters if spec.module in asynchronous else None,
            )
            self.functions[spec.module] = relay.function

        # SageMaker's events of this project -> the relay that answers the waiting task.
        account = Stack.of(self).account
        for rule_id, rule_name, description, detail_type, detail, module in (
            (
                "PipelineStatusRule",
                names.pipeline_status_rule,
                "SageMaker pipeline execution status changes of the inner loop -> pipeline relay",
                "SageMaker Model Building Pipeline Execution Status Change",
                {"pipelineArn": [names.pipeline_arn]},
                "pipeline_relay",
            ),
            (
                "ModelPackageStateRule",
                names.model_package_state_rule,
                "Model package approval changes in the project's group -> approval relay",
                "SageMaker Model Package State Change",
                {"ModelPackageGroupName": [names.model_package_group]},
                "approval_relay",
            ),
        ):
            event_rule(
                self,
                rule_id,
                rule_name=rule_name,
                description=description,
                source="aws.sagemaker",
                detail_type=detail_type,
                target=lambda_target(self.functions[module], dead_letters),
                detail=detail,
                account=[account],
            )


def evaluation_reports(cfg: DualloopConfig) -> str:
    """The key pattern of the evaluation reports the relays may read: any ``evaluation.json``
    under the artifact prefix (the reference pipeline's Evaluate step writes
    ``executions/<id>/Evaluate/evaluation/evaluation.json``; a data scientist's step may have
    another name). IAM's ``*`` spans ``/``."""
    return f"{cfg.artifact_prefix}*/{EVALUATION_FILE}"
