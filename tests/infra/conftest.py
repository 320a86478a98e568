"""One synthesis per test session, shared by every infra test.

The fast synthesis skips CDK's built-in template validation and cdk-nag (one test runs
both). The inner pipeline's definition is built once and handed to every synthesis, so the
SageMaker SDK runs once per session.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from synth_support import Resolver, Synth

if TYPE_CHECKING:
    from infra.pipeline_build import PipelineBuild
    from shared.config import DualloopConfig
    from shared.naming import Names

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def cfg() -> DualloopConfig:
    """The defaults for dev: no DUALLOOP_* from the developer's shell leaks in."""
    from shared.config import load_config

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("DUALLOOP_")}
    try:
        return load_config(stage="dev")
    finally:
        os.environ.update(saved)


@pytest.fixture(scope="session")
def custom_cfg() -> DualloopConfig:
    """A config with non-default values the stack must carry through (drift schedule and
    thresholds, artifact prefix, bucket name), again without the developer's DUALLOOP_*."""
    from shared.config import load_config

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("DUALLOOP_")}
    try:
        return load_config(
            stage="dev",
            project="driftcheck",
            artifact_bucket="driftcheck-artifacts-example",
            artifact_prefix="ml/",
            drift={"schedule": "cron(15 * * * ? *)", "psi_threshold": 0.3, "window_hours": 12},
        )
    finally:
        os.environ.update(saved)


@pytest.fixture(scope="session")
def custom_synth(custom_cfg: DualloopConfig, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack synthesized from ``custom_cfg`` with ``relay_reserved_concurrency`` set in the
    context; no pipeline (nothing checked here depends on it), no validation, no nag."""
    from infra.app import create_app

    outdir = tmp_path_factory.mktemp("cdk.out.custom")
    app, stack = create_app(
        cfg=custom_cfg,
        outdir=str(outdir),
        nag=False,
        validation=False,
        pipeline=None,
        context={"relay_reserved_concurrency": "3"},
    )
    template = app.synth().get_stack_by_name(stack.stack_name).template
    return Synth(template=template, outdir=outdir, stack=stack)


@pytest.fixture(scope="session")
def names(cfg: DualloopConfig) -> Names:
    from shared.naming import Names

    return Names(cfg)


@pytest.fixture(scope="session")
def pipeline(cfg: DualloopConfig, tmp_path_factory: pytest.TempPathFactory) -> PipelineBuild | None:
    """The built pipeline definition and code, or None while inner_pipeline/pipeline.py is absent."""
    from infra.stack import build_pipeline

    return build_pipeline(cfg, tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def synth(
    cfg: DualloopConfig, pipeline: PipelineBuild | None, tmp_path_factory: pytest.TempPathFactory
) -> Synth:
    from infra.app import create_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = create_app(cfg=cfg, outdir=str(outdir), nag=False, validation=False, pipeline=pipeline)
    assembly = app.synth()
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synth(template=template, outdir=outdir, stack=stack)


@pytest.fixture(scope="session")
def resolve(synth: Synth, cfg: DualloopConfig) -> Resolver:
    return Resolver(synth.template, cfg.account_id, cfg.region)
