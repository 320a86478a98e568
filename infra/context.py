"""``StackContext``: what every construct of the stack is built from, passed once.

The config, the names spelled from it, and the data plane (key and buckets) that every
construct encrypts with or reads from; the rest of a construct's inputs are its own
(a table, a queue, a role another construct made).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from infra.constructs.arns import Arns
from infra.constructs.data import DataPlane, removal_policy
from shared.config import DualloopConfig, Stage
from shared.naming import Names


@dataclass(frozen=True)
class StackContext:
    cfg: DualloopConfig
    names: Names
    data: DataPlane

    @property
    def arns(self) -> Arns:
        return Arns(self.names)

    @property
    def strict(self) -> bool:
        """Prod: a missing runtime file fails the synth instead of shipping a stub (``infra/sources.py``)."""
        return self.cfg.stage is Stage.PROD

    @property
    def removal(self) -> RemovalPolicy:
        return removal_policy(self.cfg)

    @property
    def log_retention(self) -> logs.RetentionDays:
        return logs.RetentionDays.ONE_YEAR if self.cfg.stage is Stage.PROD else logs.RetentionDays.ONE_MONTH
