"""The outer loop: the Step Functions state machine and everything it drives or is started by.

The state machine runs the outer loop's ASL exactly as the local cloud does: the text
``outer_orchestrator.statemachine.definition`` expands goes in with
``DefinitionBody.from_string`` and ``names.asl_substitutions()`` fills the ``${...}``
placeholders (CloudFormation's ``DefinitionSubstitutions``). Its role grants the actions of
the ASL's tasks on the resources they name, and nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.dead_letters import DeadLetters
from infra.constructs.drift_trigger import DriftTrigger
from infra.constructs.glue_jobs import ASL_CURATED_PREFIX, GlueJobs
from infra.constructs.inner_loop import InnerLoop
from infra.constructs.lambdas import EVENT_MAX_AGE, EVENT_RETRY_ATTEMPTS, event_rule, lambda_target
from infra.constructs.relays import Relays
from infra.constructs.statements import (
    objects,
    pass_to_sagemaker,
    project_key,
    role_with_policy,
    rollback_alarms,
)
from infra.context import StackContext
from infra.nag import acknowledge, acknowledge_wildcards, logical_id
from outer_orchestrator.statemachine.definition import outer_loop_definition
from shared.config import DualloopConfig
from shared.contracts import RetrainInput
from shared.naming import Names


class OuterLoop(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        ctx: StackContext,
        *,
        inner: InnerLoop,
        retrain_schedule: str,
        retrain_schedule_enabled: bool,
        relay_reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        cfg, names, data = ctx.cfg, ctx.names, ctx.data
        arn = ctx.arns

        # ---- state: the one-retrain-at-a-time lock and the approval task tokens ----------
        self.lock_table = self._table("LockTable", names.lock_table, "lock_id", ctx)
        self.token_table = self._table(
            "TokenTable", names.token_table, "model_package_arn", ctx, ttl="expires_at"
        )
        self.pipeline_token_table = self._table(
            "PipelineTokenTable", names.pipeline_token_table, "callback_key", ctx, ttl="expires_at"
        )

        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=names.topic,
            display_name="dualloop",
            master_key=data.key,
            enforce_ssl=True,
        )
        for email in cfg.notification_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

        self.dead_letters = DeadLetters(self, "DeadLetters", ctx, topic=self.topic)
        self.glue = GlueJobs(self, "Glue", ctx)
        self.relays = Relays(
            self,
            "Relays",
            ctx,
            token_table=self.token_table,
            pipeline_token_table=self.pipeline_token_table,
            topic=self.topic,
            dead_letters=self.dead_letters.queue,
            reserved_concurrency=relay_reserved_concurrency,
        )
        store_token = self.relays.functions["store_token"]

        # ---- the state machine -------------------------------------------------------------
        model_packages = arn.sagemaker(f"model-package/{names.model_package_group}/*")
        endpoint = arn.sagemaker(f"endpoint/{names.endpoint}")
        endpoint_configs = arn.sagemaker(f"endpoint-config/{names.model_name_prefix}-*")
        models = arn.sagemaker(f"model/{names.model_name_prefix}-*")
        quality_reports = f"{ASL_CURATED_PREFIX}*/quality/report.json"
        statements = [
            # AcquireLock, ReleaseLock*
            iam.PolicyStatement(
                sid="Lock",
                actions=["dynamodb:PutItem", "dynamodb:DeleteItem"],
                resources=[self.lock_table.table_arn],
            ),
            # Ingest, DataQuality (glue:startJobRun.sync polls and may stop the run)
            iam.PolicyStatement(
                sid="GlueJobs",
                actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                resources=[arn.glue(f"job/{names.ingest_job}"), arn.glue(f"job/{names.data_quality_job}")],
            ),
            # ReadQualityReport
            objects("QualityReports", data.curated, quality_reports),
            # RunInnerPipeline (the function stores the task token and starts the pipeline)
            iam.PolicyStatement(
                sid="StartPipeline",
                actions=["lambda:InvokeFunction"],
                resources=[self.relays.functions["pipeline_callback"].function_arn],
            ),
            # ConfirmApproval: the package is still Approved right before it is deployed
            iam.PolicyStatement(
                sid="ReadModelPackage", actions=["sagemaker:DescribeModelPackage"], resources=[model_packages]
            ),
            # RejectOnTimeout, MarkDeployed
            iam.PolicyStatement(
                sid="UpdateModelPackage", actions=["sagemaker:UpdateModelPackage"], resources=[model_packages]
            ),
            # CreateModel
            iam.PolicyStatement(sid="CreateModel", actions=["sagemaker:CreateModel"], resources=[models]),
            # CreateEndpointConfig
            iam.PolicyStatement(
                sid="CreateEndpointConfig",
                actions=["sagemaker:CreateEndpointConfig"],
                resources=[endpoint_configs],
            ),
            # CreateEndpoint, UpdateEndpoint: authorised on the endpoint and the config it gets
            iam.PolicyStatement(
                sid="DeployEndpoint",
                actions=["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"],
                resources=[endpoint, endpoint_configs],
            ),
            # UpdateEndpoint with AutoRollbackConfiguration
            rollback_alarms(names),
            # FindEndpoint, DescribeEndpoint
            iam.PolicyStatement(
                sid="DescribeEndpoint", actions=["sagemaker:DescribeEndpoint"], resources=[endpoint]
            ),
            # CreateModel's ExecutionRoleArn
            pass_to_sagemaker("PassSageMakerRole", inner.role),
            # AwaitApproval
            iam.PolicyStatement(
                sid="StoreToken", actions=["lambda:InvokeFunction"], resources=[store_token.function_arn]
            ),
            # Notify*
            iam.PolicyStatement(sid="Notify", actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            # The topic, the lock table and the curated objects are encrypted with the project key.
            project_key(data.key),
        ]
        self.role, policy = role_with_policy(
            self,
            "StateMachine",
            role_name=names.state_machine_role,
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description="dualloop outer loop: exactly the actions of the ASL's tasks",
            statements=statements,
        )
        acknowledge_wildcards(
            policy,
            {
                f"<{logical_id(data.curated)}.Arn>/{quality_reports}": (
                    "Quality reports sit under each execution's own prefix (execution names are minted per run)."
                ),
                model_packages: "Model package versions are numbered by the registry; scoped to this project's group.",
                models: "Models are named <prefix>-<uuid> per deployment by the ASL; scoped to the project prefix.",
                endpoint_configs: (
                    "Endpoint configs are named <prefix>-<uuid> per deployment by the ASL; scoped to the project prefix."
                ),
            },
        )

        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            # /aws/vendedlogs/ keeps CloudWatch Logs' resource policy small as log groups grow.
            log_group_name=f"/aws/vendedlogs/states/{names.state_machine}",
            encryption_key=data.key,
            retention=ctx.log_retention,
            removal_policy=ctx.removal,
        )
        self.state_machine = asl_state_machine(
            self,
            names,
            state_machine_name=names.state_machine,
            definition=outer_loop_definition(),
            role=self.role,
            log_group=self.log_group,
            removal_policy=ctx.removal,
        )
        self.state_machine.node.add_dependency(policy)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Added by CDK for logging and tracing: CloudWatch Logs' log-delivery APIs (CreateLogDelivery, ...) "
            "and X-Ray's PutTraceSegments have no resource-level permissions.",
        )

        # ---- what starts a retrain -----------------------------------------------------------
        self.events_role = iam.Role(
            self,
            "EventsRole",
            role_name=names.events_role,
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description="EventBridge rules that start a dualloop retrain",
        )
        self.drift_trigger = DriftTrigger(
            self, "DriftTrigger", ctx, state_machine=self.state_machine, dead_letters=self.dead_letters.queue
        )
        self.drift_rule = event_rule(
            self,
            "DriftAlarmRule",
            rule_name=names.drift_alarm_rule,
            description="The drift alarm entered ALARM -> retrain",
            source="aws.cloudwatch",
            detail_type="CloudWatch Alarm State Change",
            # The event itself, to a function that adds the drift report's features to the input
            # (an InputTransformer sees only the event) and names the execution per transition.
            target=lambda_target(self.drift_trigger.function, self.dead_letters.queue),
            resources=[names.alarm_arn(names.drift_alarm)],
            detail={"alarmName": [names.drift_alarm], "state": {"value": ["ALARM"]}},
        )
        self.schedule_rule = events.Rule(
            self,
            "ScheduleRule",
            rule_name=names.schedule_rule,
            description=f"Scheduled retrain ({retrain_schedule})",
            schedule=events.Schedule.expression(retrain_schedule),
            enabled=retrain_schedule_enabled,
            targets=[self._start(retrain_input(cfg, "schedule"))],
        )
        self.new_data_rule = event_rule(
            self,
            "NewDataRule",
            rule_name=names.new_data_rule,
            description="A new object under the raw prefix -> retrain (the lock drops concurrent starts)",
            source="aws.s3",
            detail_type="Object Created",
            target=self._start(
                retrain_input(cfg, "new-data", key=events.EventField.from_path("$.detail.object.key"))
            ),
            detail={"bucket": {"name": [names.raw_bucket]}, "object": {"key": [{"prefix": cfg.raw_prefix}]}},
        )

    def _start(self, payload: dict[str, Any]) -> targets.SfnStateMachine:
        return targets.SfnStateMachine(
            self.state_machine,
            input=events.RuleTargetInput.from_object(payload),
            role=self.events_role,
            retry_attempts=EVENT_RETRY_ATTEMPTS,
            max_event_age=EVENT_MAX_AGE,
            dead_letter_queue=self.dead_letters.queue,
        )

    def _table(
        self, construct_id: str, name: str, partition_key: str, ctx: StackContext, *, ttl: str | None = None
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            table_name=name,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=ctx.data.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=ttl,
            removal_policy=ctx.removal,
        )


def asl_state_machine(
    scope: Construct,
    names: Names,
    *,
    state_machine_name: str,
    definition: str,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    removal_policy: RemovalPolicy | None = None,
) -> sfn.StateMachine:
    """A state machine running ``definition`` exactly as the local cloud does: the ASL text with
    its ``${...}`` placeholders filled by DefinitionSubstitutions (``names.asl_substitutions()``).

    Every state transition and error is logged, but no execution data: the TaskScheduled
    parameters of the .waitForTaskToken tasks hold task tokens, which anyone allowed to read the
    log group could answer (states:SendTaskSuccess has no resource scope). Inputs and outputs
    stay in the execution history (DescribeExecution).
    """
    state_machine = sfn.StateMachine(
        scope,
        "StateMachine",
        state_machine_name=state_machine_name,
        state_machine_type=sfn.StateMachineType.STANDARD,
        definition_body=sfn.DefinitionBody.from_string(definition),
        definition_substitutions=names.asl_substitutions(),
        role=role,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        tracing_enabled=True,
        removal_policy=removal_policy,
    )
    cfn_state_machine = state_machine.node.default_child
    assert isinstance(cfn_state_machine, sfn.CfnStateMachine)
    # cfn-lint, false positive: E1029 reads the ${...} placeholders as Fn::Sub variables
    # (DefinitionSubstitutions fills them).
    cfn_state_machine.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E1029"]}})
    acknowledge(
        state_machine,
        "CloudFormation-Validate::E1029",
        "The ASL's ${...} placeholders are filled by DefinitionSubstitutions (names.asl_substitutions()), "
        "so the template carries the very ASL text the local cloud runs; Fn::Sub would need a rewritten copy.",
    )
    return state_machine


def retrain_input(cfg: DualloopConfig, trigger: str, **reason: Any) -> dict[str, Any]:
    """The ``RetrainInput`` an EventBridge target sends, as JSON-ready data.

    ``reason`` values may be ``EventField``s: EventBridge fills them from the event. The
    static part is validated by the contract here, at synth, not at the first retrain.
    """
    static = RetrainInput.for_config(cfg, trigger=trigger, **{k: "" for k in reason})  # type: ignore[arg-type]
    payload: dict[str, Any] = json.loads(static.model_dump_json())
    payload["reason"] = reason
    return payload
