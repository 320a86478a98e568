"""``DualloopStack``: one stack per stage, assembled from one construct per logical unit."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Environment, Stack, Tags
from constructs import Construct

from infra import pipeline_build, sources
from infra.constructs.data import DataPlane
from infra.constructs.drift import DriftCheck
from infra.constructs.inner_loop import InnerLoop
from infra.constructs.lock_release import LockRelease
from infra.constructs.outer_loop import OuterLoop
from infra.constructs.promotion import PromotionTarget
from infra.constructs.serving import Serving
from infra.context import StackContext
from shared.config import DualloopConfig, Stage, stage_path
from shared.naming import Names

DEFAULT_RETRAIN_SCHEDULE = "rate(7 days)"


class DualloopStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: DualloopConfig,
        pipeline: pipeline_build.PipelineBuild | None,
        retrain_schedule: str = DEFAULT_RETRAIN_SCHEDULE,
        retrain_schedule_enabled: bool | None = None,
        relay_reserved_concurrency: int | None = None,
    ) -> None:
        # Pinned to the configured account and region: every ARN in the ASL and the pipeline
        # definition is spelled from them (shared.naming), so deploying elsewhere must fail.
        super().__init__(
            scope,
            construct_id,
            stack_name=Names(cfg).base,
            env=Environment(account=cfg.account_id, region=cfg.region),
            description=f"dualloop ({cfg.stage.value}): SageMaker pipeline inside a Step Functions retrain loop",
            termination_protection=cfg.stage is Stage.PROD,
        )
        names = Names(cfg)
        Tags.of(self).add("project", cfg.project)
        Tags.of(self).add("stage", cfg.stage.value)

        self.data = DataPlane(self, "Data", cfg=cfg, names=names)
        ctx = StackContext(cfg=cfg, names=names, data=self.data)
        self.inner = InnerLoop(self, "InnerLoop", ctx, pipeline=pipeline)
        self.outer = OuterLoop(
            self,
            "OuterLoop",
            ctx,
            inner=self.inner,
            retrain_schedule=retrain_schedule,
            # A schedule in dev would retrain (and bill) while nobody is looking.
            retrain_schedule_enabled=(
                cfg.stage is Stage.PROD if retrain_schedule_enabled is None else retrain_schedule_enabled
            ),
            relay_reserved_concurrency=relay_reserved_concurrency,
        )
        # A retrain that ends without its own clean-up (stopped, timed out, service error)
        # must not keep the lock: every later retrain would end AlreadyRunning.
        self.lock_release = LockRelease(
            self,
            "LockRelease",
            ctx,
            lock_table=self.outer.lock_table,
            dead_letters=self.outer.dead_letters.queue,
        )
        self.serving = Serving(self, "Serving", ctx)
        self.drift = DriftCheck(self, "Drift", ctx, dead_letters=self.outer.dead_letters.queue)
        # Several stages (config.stages): this one takes part in promotion (README, "Promotion across accounts").
        self.promotion = (
            PromotionTarget(
                self,
                "Promotion",
                ctx,
                sagemaker_role=self.inner.role,
                state_machine_role=self.outer.role,
                log_group=self.outer.log_group,
                drift_role=self.drift.role,
            )
            if len(stage_path(cfg)) > 1
            else None
        )


def build_pipeline(cfg: DualloopConfig, work_dir: Path | None = None) -> pipeline_build.PipelineBuild | None:
    """The inner pipeline's definition and code, or None while ``inner_pipeline/pipeline.py`` is absent."""
    if not pipeline_build.pipeline_module_available():
        return None
    return pipeline_build.build(cfg, work_dir or sources.staging_dir("pipeline"))
