"""The lock release: ``outer_orchestrator/handlers/release_lock.py`` on the outer loop's abnormal ends.

A retrain that is stopped by hand (StopExecution), times out at the state-machine level or
is killed by a service error never runs its ``ReleaseLock*`` states. The rule here hands
every ``Step Functions Execution Status Change`` of this project's state machine with status
ABORTED, TIMED_OUT or FAILED to the function, which deletes the lock only if the item still
names that execution (a conditional delete): a newer retrain's lock is never touched, and a
repeated delivery does nothing. The local twin (``outer_orchestrator/local_stack.py``)
wires the same rule to the same handler.

The role may delete the lock item and nothing else of the project's data; the project key
is there to decrypt (the function's environment, the lock table's items).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import sources
from infra.constructs.data import DataPlane, removal_policy
from infra.constructs.relays import (
    ARCHITECTURE,
    EVENT_MAX_AGE,
    EVENT_RETRY_ATTEMPTS,
    LAMBDA_EXCLUDES,
    LAMBDA_PACKAGES,
    RUNTIME,
    VENDORED,
    powertools_layer,
    retention,
)
from infra.nag import acknowledge
from shared.config import DualloopConfig, Stage
from shared.naming import Names

HANDLER = "outer_orchestrator.handlers.release_lock.handler"
# The ends that skip the ASL's own ReleaseLock* states (SUCCEEDED never holds the lock).
RELEASE_ON = ("ABORTED", "TIMED_OUT", "FAILED")
DETAIL_TYPE = "Step Functions Execution Status Change"


class LockRelease(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DualloopConfig,
        names: Names,
        data: DataPlane,
        lock_table: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        name = names.lock_release_function
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{name}",
            encryption_key=data.key,
            retention=retention(cfg),
            removal_policy=removal_policy(cfg),
        )
        self.role = iam.Role(
            self,
            "Role",
            role_name=names.lock_release_role,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="dualloop lock release: delete the retrain lock of an execution that ended abnormally",
        )
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                iam.PolicyStatement(
                    sid="ReleaseLock",
                    actions=["dynamodb:DeleteItem"],
                    resources=[lock_table.table_arn],
                ),
                # The lock table and the function's environment are encrypted with the project key.
                iam.PolicyStatement(
                    sid="ProjectKeyDecrypt",
                    actions=["kms:Decrypt", "kms:DescribeKey"],
                    resources=[data.key.key_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
            ],
        )
        policy.attach_to_role(self.role)

        handler_file = sources.HANDLERS_DIR / "release_lock.py"
        if not handler_file.is_file():
            sources.missing_source(self, handler_file, strict=cfg.stage is Stage.PROD)
        code_dir = sources.stage_packages("release-lock-code", LAMBDA_PACKAGES, exclude=LAMBDA_EXCLUDES)
        for distribution in VENDORED:
            sources.vendor_pure_python(code_dir, distribution)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=name,
            description=f"{names.state_machine} ended ABORTED/TIMED_OUT/FAILED -> release its retrain lock",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(code_dir)),
            layers=[powertools_layer(self)],
            role=self.role,
            memory_size=256,
            timeout=Duration.seconds(30),
            max_event_age=EVENT_MAX_AGE,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "DUALLOOP_LOCK_TABLE": names.lock_table,
                "DUALLOOP_STATE_MACHINE_ARN": names.state_machine_arn,
                "POWERTOOLS_SERVICE_NAME": name,
            },
            environment_encryption=data.key,
            log_group=log_group,
        )
        self.function.node.add_dependency(policy)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray's PutTraceSegments/PutTelemetryRecords (added by Tracing.ACTIVE) have no resource-level "
            "permissions.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"{RUNTIME.name} is pinned deliberately: it is the newest runtime the AWS Powertools layer and "
            "the project's tested Python (3.11/3.12) share.",
        )

        self.rule = events.Rule(
            self,
            "Rule",
            rule_name=names.lock_release_rule,
            description=f"{names.state_machine} ended ABORTED, TIMED_OUT or FAILED -> release its retrain lock",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=[DETAIL_TYPE],
                detail={"stateMachineArn": [names.state_machine_arn], "status": list(RELEASE_ON)},
                account=[Stack.of(self).account],
            ),
            targets=[
                targets.LambdaFunction(
                    self.function, retry_attempts=EVENT_RETRY_ATTEMPTS, max_event_age=EVENT_MAX_AGE
                )
            ],
        )
