"""Attach every local worker (the compute behind the managed services) to a local cloud."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from shared import entry_points
from shared.local_cloud.cloud import LocalCloud

# Each worker is a ``dualloop.workers`` entry point in pyproject.toml (the composition root
# names the modules; this package names none): ``attach(cloud)`` registers hooks and its stop
# function; it may return its worker, which may have ``warm()`` to start a slow runtime
# (Spark) ahead of its first job.
Attach = Callable[[LocalCloud], Any]


def attach_all(cloud: LocalCloud, *, warm: bool = False) -> None:
    """Attach every worker; ``warm``: start their slow runtimes now, in the background."""
    for attach in entry_points.load(entry_points.WORKERS).values():
        worker = cast(Attach, attach)(cloud)
        if warm and callable(getattr(worker, "warm", None)):
            worker.warm()
