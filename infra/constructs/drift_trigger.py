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

from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.drift import REPORT_PREFIX, config_environment
from infra.constructs.lambdas import EVENT_MAX_AGE, handler_code, handler_module, python_function
from infra.constructs.statements import list_prefixes, objects, project_key
from infra.context import StackContext
from infra.nag import logical_id
from shared.naming import Names

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
        ctx: StackContext,
        *,
        state_machine: sfn.IStateMachine,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        names, data = ctx.names, ctx.data
        name = function_name(names)
        # The handler believes no event: it reads the alarm's state first. A metric alarm's ARN
        # scopes DescribeAlarms (only composite alarms need "*", per the DescribeAlarms API reference).
        alarm = f"arn:aws:cloudwatch:{names.region}:{names.account}:alarm:{names.drift_alarm}"
        trigger = python_function(
            self,
            ctx,
            "",
            function_name=name,
            role_name=f"{name}-role",
            role_description="dualloop drift trigger: read drift reports, start a retrain",
            statements=[
                iam.PolicyStatement(
                    sid="ConfirmAlarmState", actions=["cloudwatch:DescribeAlarms"], resources=[alarm]
                ),
                iam.PolicyStatement(
                    sid="StartRetrain",
                    actions=["states:StartExecution"],
                    resources=[state_machine.state_machine_arn],
                ),
                list_prefixes("ListReports", data.artifacts, f"{REPORT_PREFIX}*"),
                objects("ReadReports", data.artifacts, f"{REPORT_PREFIX}*"),
                # SSE-KMS reports, and the environment (encrypted with the same key).
                # GenerateDataKey: failed events go to the dead-letter queue, SSE-KMS with the same key.
                project_key(data.key, ["kms:Decrypt", "kms:GenerateDataKey"], sid="ProjectKeyDecrypt"),
            ],
            handler=handler_module("drift_trigger"),
            code=handler_code(self, ctx, "drift_trigger"),
            description=f"Drift alarm -> retrain of {names.state_machine}, naming the drifted features",
            environment=config_environment(ctx.cfg),
            wildcards={
                f"<{logical_id(data.artifacts)}.Arn>/{REPORT_PREFIX}*": (
                    "Reports are keyed by endpoint and window end; read-only, under the drift report prefix."
                )
            },
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=EVENT_MAX_AGE,
            dead_letter_queue=dead_letters,  # what it fails on after Lambda's retries
        )
        self.role, self.function = trigger.role, trigger.function
