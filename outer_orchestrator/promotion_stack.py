"""A stage that receives promoted packages, on the local cloud: its stack, in its account.

Each stage is the same stack as the first (``LocalStack``, provisioned from the stack CDK
synthesizes for that stage) in the stage's own account, plus the promotion state machine
(``promotion_asl``), which runs as the stage's state machine role.
"""

from __future__ import annotations

import boto3

from outer_orchestrator.local_stack import LocalStack
from outer_orchestrator.promotion_asl import promotion_definition, substituted
from shared.config import DualloopConfig, stage_config
from shared.naming import Names


def provision_promotion_machine(cfg: DualloopConfig, session: boto3.Session) -> str:
    """Create (or update) the stage's promotion state machine; returns its ARN."""
    names = Names(cfg)
    sfn = session.client("stepfunctions")
    definition = substituted(promotion_definition(), names.asl_substitutions())
    try:
        sfn.create_state_machine(
            name=names.promotion_state_machine, definition=definition, roleArn=names.state_machine_role_arn
        )
    except sfn.exceptions.StateMachineAlreadyExists:
        sfn.update_state_machine(stateMachineArn=names.promotion_state_machine_arn, definition=definition)
    return names.promotion_state_machine_arn


def provision_stage(cfg: DualloopConfig, stage: str, session: boto3.Session) -> DualloopConfig:
    """Provision stage ``stage`` of ``cfg`` in its account (``session`` acts there)."""
    staged = stage_config(cfg, stage)
    LocalStack(staged, session=session).provision()
    provision_promotion_machine(staged, session)
    return staged
