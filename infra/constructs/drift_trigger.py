"""The drift trigger: ``outer_orchestrator/handlers/drift_trigger.py`` as the drift alarm rule's target.

The rule hands it the ``CloudWatch Alarm State Change`` event itself; the function reads the
newest drift report of the alarm's endpoint and starts the state machine with the drifted
features in the input, under an execution name derived from the alarm transition (so a
repeated delivery starts nothing). The local twin (``outer_orchestrator/local_stack.py``)
wires the same rule to the same handler.

Its code is the relays' asset (handlers + shared): the handler reads the report as JSON and
imports nothing of the drift job. Its environment is the drift job's (``config_environment``):
the retrain's settings come from the very config the stack was built from.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import sources
from infra.constructs.data import DataPlane, removal_policy
from infra.constructs.drift import REPORT_PREFIX, config_environment
from infra.constructs.relays import (
    ARCHITECTURE,
    EVENT_MAX_AGE,
    LAMBDA_EXCLUDES,
    LAMBDA_PACKAGES,
    RUNTIME,
    VENDORED,
    powertools_layer,
    retention,
)
from infra.nag import acknowledge, logical_id
from shared.config import DualloopConfig, Stage
from shared.naming import Names

HANDLER = "outer_orchestrator.handlers.drift_trigger.handler"
ASYNC_RETRY_ATTEMPTS = 2  # a repeated run finds its execution by name and starts nothing


def function_name(names: Names) -> str:
    """Spelled again here because infrastructure does not import runtime code: the handler's
    ``function_name(names)`` (the local stack's) is kept equal by ``tests/infra``."""
    return f"{names.base}-drift-trigger"


class DriftTrigger(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DualloopConfig,
        names: Names,
        data: DataPlane,
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        name = function_name(names)
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
            role_name=f"{name}-role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="dualloop drift trigger: read drift reports, start a retrain",
        )
        reports = data.artifacts.arn_for_objects(f"{REPORT_PREFIX}*")
        policy = iam.Policy(
            self,
            "Policy",
            statements=[
                iam.PolicyStatement(
                    sid="StartRetrain",
                    actions=["states:StartExecution"],
                    resources=[state_machine.state_machine_arn],
                ),
                iam.PolicyStatement(
                    sid="ListReports",
                    actions=["s3:ListBucket"],
                    resources=[data.artifacts.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{REPORT_PREFIX}*"]}},
                ),
                iam.PolicyStatement(sid="ReadReports", actions=["s3:GetObject"], resources=[reports]),
                # SSE-KMS reports, and the environment (encrypted with the same key).
                iam.PolicyStatement(
                    sid="ProjectKeyDecrypt", actions=["kms:Decrypt"], resources=[data.key.key_arn]
                ),
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                ),
            ],
        )
        policy.attach_to_role(self.role)
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::<{logical_id(data.artifacts)}.Arn>/{REPORT_PREFIX}*]",
            "Reports are keyed by endpoint and window end; read-only, under the drift report prefix.",
        )

        handler_file = sources.HANDLERS_DIR / "drift_trigger.py"
        if not handler_file.is_file():
            sources.missing_source(self, handler_file, strict=cfg.stage is Stage.PROD)
        code_dir = sources.stage_packages("drift-trigger-code", LAMBDA_PACKAGES, exclude=LAMBDA_EXCLUDES)
        for distribution in VENDORED:
            sources.vendor_pure_python(code_dir, distribution)
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=name,
            description=f"Drift alarm -> retrain of {names.state_machine}, naming the drifted features",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(code_dir)),
            layers=[powertools_layer(self)],
            role=self.role,
            memory_size=256,
            timeout=Duration.seconds(30),
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=EVENT_MAX_AGE,
            tracing=lambda_.Tracing.ACTIVE,
            environment={**config_environment(cfg), "POWERTOOLS_SERVICE_NAME": name},
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
