"""The lock release: ``outer_orchestrator/handlers/release_lock.py`` on the outer loop's abnormal ends.

A retrain that is stopped by hand (StopExecution), times out at the state-machine level or
is killed by a service error never runs its ``ReleaseLock*`` states. The rule here hands
every ``Step Functions Execution Status Change`` of this project's state machine with status
ABORTED, TIMED_OUT or FAILED to the function, which deletes the lock only if the item still
names that execution (a conditional delete): a newer retrain's lock is never touched, and a
repeated delivery does nothing. The local twin (``outer_orchestrator/local_stack.py``)
wires the same rule to the same handler.

The role may delete the lock item and nothing else of the project's data, and describe this
state machine's executions (the handler believes no event: it reads the execution's status
before it releases anything); the project key is there to decrypt (the function's
environment, the lock table's items).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.lambdas import (
    EVENT_MAX_AGE,
    event_rule,
    handler_code,
    handler_module,
    lambda_target,
    python_function,
)
from infra.constructs.statements import project_key
from infra.context import StackContext

# The ends that skip the ASL's own ReleaseLock* states (SUCCEEDED never holds the lock).
RELEASE_ON = ("ABORTED", "TIMED_OUT", "FAILED")
DETAIL_TYPE = "Step Functions Execution Status Change"


class LockRelease(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        ctx: StackContext,
        *,
        lock_table: dynamodb.ITable,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        names, data = ctx.names, ctx.data
        # Execution ARNs: arn:aws:states:<region>:<account>:execution:<state machine name>:<execution name>
        executions = names.state_machine_arn.replace(":stateMachine:", ":execution:") + ":*"
        release = python_function(
            self,
            ctx,
            "",
            function_name=names.lock_release_function,
            role_name=names.lock_release_role,
            role_description="dualloop lock release: delete the retrain lock of an execution that ended abnormally",
            statements=[
                iam.PolicyStatement(
                    sid="ConfirmExecutionStatus",
                    actions=["states:DescribeExecution"],
                    resources=[executions],
                ),
                iam.PolicyStatement(
                    sid="ReleaseLock",
                    actions=["dynamodb:DeleteItem"],
                    resources=[lock_table.table_arn],
                ),
                # The lock table and the function's environment are encrypted with the project key.
                # GenerateDataKey: failed events go to the SSE-KMS dead-letter queue.
                project_key(
                    data.key,
                    ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"],
                    sid="ProjectKeyDecrypt",
                ),
            ],
            handler=handler_module("release_lock"),
            code=handler_code(self, ctx, "release_lock"),
            description=f"{names.state_machine} ended ABORTED/TIMED_OUT/FAILED -> release its retrain lock",
            environment={
                "DUALLOOP_LOCK_TABLE": names.lock_table,
                "DUALLOOP_STATE_MACHINE_ARN": names.state_machine_arn,
            },
            wildcards={
                executions: "Execution names are minted per retrain; scoped to this project's state machine."
            },
            max_event_age=EVENT_MAX_AGE,
            dead_letter_queue=dead_letters,  # what it fails on after Lambda's retries
        )
        self.role, self.function = release.role, release.function

        self.rule = event_rule(
            self,
            "Rule",
            rule_name=names.lock_release_rule,
            description=f"{names.state_machine} ended ABORTED, TIMED_OUT or FAILED -> release its retrain lock",
            source="aws.states",
            detail_type=DETAIL_TYPE,
            target=lambda_target(self.function, dead_letters),
            detail={"stateMachineArn": [names.state_machine_arn], "status": list(RELEASE_ON)},
            account=[Stack.of(self).account],
        )
