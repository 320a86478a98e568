"""The seam where local workers attach compute to control-plane calls.

On AWS, starting a Glue job run or a pipeline execution makes a managed service do the
work. In the local cloud the moto backend records the call and publishes one of the
events below; workers registered with ``Hooks.register`` do the work the managed service
would do, on the local cloud's worker threads, and report back through
``shared.local_cloud.backend_state``.

A handler must not block the request that triggered it: ``dispatch`` queues it.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class _InRegion:
    """The account and Region of the call that published the event (every event has them)."""

    account_id: str
    region: str


@dataclass(frozen=True)
class GlueJobRunStarted(_InRegion):
    job_name: str
    run_id: str
    arguments: dict[str, str]
    # The job's command script location (s3://... or a local path), from CreateJob.
    script_location: str | None


@dataclass(frozen=True)
class PipelineExecutionStarted(_InRegion):
    pipeline_name: str
    execution_arn: str
    definition: str
    parameters: dict[str, str]
    display_name: str | None


@dataclass(frozen=True)
class EndpointDeploymentRequested(_InRegion):
    endpoint_name: str
    endpoint_config_name: str
    # None for CreateEndpoint; the config being replaced for UpdateEndpoint.
    previous_config_name: str | None
    deployment_config: dict[str, Any] | None = None


@dataclass(frozen=True)
class ModelPackageApprovalChanged(_InRegion):
    model_package_arn: str
    group_name: str
    version: int
    status: str
    previous_status: str | None
    description: str | None = None


@dataclass(frozen=True)
class SageMakerJobCreated(_InRegion):
    """A standalone Create{Processing,Training,Transform,HyperParameterTuning}Job call."""

    kind: str  # ProcessingJob | TrainingJob | TransformJob | HyperParameterTuningJob
    name: str
    request: dict[str, Any]  # the API request, PascalCase, as sent


@dataclass(frozen=True)
class SageMakerJobStopRequested(_InRegion):
    kind: str
    name: str


HookEvent = (
    GlueJobRunStarted
    | PipelineExecutionStarted
    | EndpointDeploymentRequested
    | ModelPackageApprovalChanged
    | SageMakerJobCreated
    | SageMakerJobStopRequested
)
E = TypeVar("E", bound=HookEvent)


@dataclass
class Hooks:
    """Registry and dispatcher; one per local cloud."""

    max_workers: int = 8
    _handlers: dict[type, list[Callable[[Any], None]]] = field(default_factory=lambda: defaultdict(list))
    _pool: ThreadPoolExecutor | None = None
    _futures: set[Future[None]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Attach ``handler`` to ``event_type``; returns a function that detaches it."""
        self._handlers[event_type].append(handler)

        def unregister() -> None:
            if handler in self._handlers[event_type]:
                self._handlers[event_type].remove(handler)

        return unregister

    def has_handler(self, event_type: type[HookEvent]) -> bool:
        return bool(self._handlers.get(event_type))

    def dispatch(self, event: HookEvent) -> None:
        for handler in list(self._handlers.get(type(event), ())):
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="local-cloud-worker")
                future = self._pool.submit(self._run, handler, event)
                self._futures.add(future)
                future.add_done_callback(self._futures.discard)

    @staticmethod
    def _run(handler: Callable[[Any], None], event: HookEvent) -> None:
        try:
            handler(event)
        except Exception:  # a worker's failure must be reported by the worker, not lost
            LOG.exception("local cloud worker %s failed on %s", getattr(handler, "__name__", handler), event)

    def drain(self, timeout: float | None = None) -> None:
        """Wait until every queued handler has finished (tests and shutdown)."""
        for future in list(self._futures):
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_current: Hooks | None = None


def current() -> Hooks:
    """The hooks of the running local cloud (one per process, like moto's backends)."""
    global _current
    if _current is None:
        _current = Hooks()
    return _current


def reset() -> Hooks:
    global _current
    if _current is not None:
        _current.shutdown()
    _current = Hooks()
    return _current
