"""Attach every local worker (the compute behind the managed services) to a local cloud."""

from __future__ import annotations

import importlib

from shared.local_cloud.cloud import LocalCloud

# Each module has ``attach(cloud)``: it registers hooks and its stop function.
WORKER_MODULES: tuple[str, ...] = (
    "outer_orchestrator.glue.local_worker",
    "inner_pipeline.local_executor.worker",
    "shared.local_cloud.hosting.worker",
)


def attach_all(cloud: LocalCloud) -> None:
    for name in WORKER_MODULES:
        importlib.import_module(name).attach(cloud)
