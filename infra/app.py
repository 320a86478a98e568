"""The CDK app: ``cdk synth -c stage=dev|staging|prod`` (run as ``python -m infra.app`` from the repo root;
``infra/constructs`` would shadow the ``constructs`` library if ``infra/`` itself were on sys.path).

Context: ``stage`` (dev), ``retrain_schedule`` (an EventBridge schedule expression),
``retrain_schedule_enabled`` (true|false; default: enabled in prod only),
``relay_reserved_concurrency`` (reserved concurrency per relay Lambda; default: none, see
``infra/constructs/relays.py``), ``nag`` (true|false: run cdk-nag's AwsSolutions checks during
synth; default true).
"""

from __future__ import annotations

import json
import os
from typing import Literal

# Before jsii starts node: Node 20 works, and the banner would drown the synth output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.pipeline_build import PipelineBuild
from infra.sources import REPO
from infra.stack import DEFAULT_RETRAIN_SCHEDULE, DualloopStack, build_pipeline
from shared.config import DualloopConfig, load_config, stage_config


def cdk_json_context() -> dict[str, object]:
    """cdk.json's context (feature flags included), so tests synthesize what the CLI does."""
    context: dict[str, object] = json.loads((REPO / "cdk.json").read_text())["context"]
    return context


def _flag(app: cdk.App, key: str) -> bool | None:
    value = app.node.try_get_context(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes", "on")


def _int(app: cdk.App, key: str) -> int | None:
    value = app.node.try_get_context(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"context {key} must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"context {key} must be an integer, got {value!r}") from None


def create_app(
    stage: str | None = None,
    *,
    cfg: DualloopConfig | None = None,
    outdir: str | None = None,
    nag: bool | None = None,
    validation: bool = True,
    context: dict[str, object] | None = None,
    pipeline: PipelineBuild | Literal["build"] | None = "build",
) -> tuple[cdk.App, DualloopStack]:
    """Build the app and its one stack.

    Tests pass ``validation=False``/``nag=False`` for speed, and a ``pipeline`` they built
    once (``"build"`` builds it here; ``None`` leaves the pipeline out).
    """
    app = cdk.App(
        outdir=outdir,
        # The CLI's own context (cdk.json, -c) arrives through the environment and wins.
        context={**cdk_json_context(), **(context or {})},
        builtin_cloud_formation_validation=validation,
        analytics_reporting=False,
    )
    stage = stage or app.node.try_get_context("stage") or "dev"
    cfg = cfg or load_config(stage=stage)
    if cfg.stages:  # several stages: this stage's account, region and deployment policy
        cfg = stage_config(cfg, cfg.stage.value)
    stack = DualloopStack(
        app,
        f"Dualloop-{cfg.stage.value}",
        cfg=cfg,
        pipeline=build_pipeline(cfg) if pipeline == "build" else pipeline,
        retrain_schedule=app.node.try_get_context("retrain_schedule") or DEFAULT_RETRAIN_SCHEDULE,
        retrain_schedule_enabled=_flag(app, "retrain_schedule_enabled"),
        relay_reserved_concurrency=_int(app, "relay_reserved_concurrency"),
    )
    if nag if nag is not None else _flag(app, "nag") is not False:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    app, _ = create_app()
    app.synth()


if __name__ == "__main__":
    main()
