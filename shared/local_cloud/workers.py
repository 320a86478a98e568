"""Attach every local worker (the compute behind the managed services) to a local cloud."""

from __future__ import annotations

import importlib

from shared.local_cloud.cloud import LocalCloud

# Each module has ``attach(cloud)``: it registers hooks and its stop function; it may return
# its worker, which may have ``warm()`` to start a slow runtime (Spark) ahead of its first job.
WORKER_MODULES: tuple[str, ...] = (
    "outer_orchestrator.glue.local_worker",
    "shared.local_cloud.sagemaker.worker",
    "shared.local_cloud.sagemaker.jobs",
    "shared.local_cloud.hosting.worker",
)


def attach_all(cloud: LocalCloud, *, warm: bool = False) -> None:
    """Attach every worker; ``warm``: start their slow runtimes now, in the background."""
    for name in WORKER_MODULES:
        worker = importlib.import_module(name).attach(cloud)
        if warm and callable(getattr(worker, "warm", None)):
            worker.warm()
