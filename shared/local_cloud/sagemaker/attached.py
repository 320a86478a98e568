"""One worker of a kind per local cloud: attached once, stopped with the cloud or on demand."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from shared.local_cloud.cloud import LocalCloud


class Stoppable(Protocol):
    def stop(self) -> None: ...


W = TypeVar("W", bound=Stoppable)


class AttachedWorkers(Generic[W]):
    """The workers of one kind, by cloud, each with the function that unregisters its hooks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_cloud: dict[int, tuple[W, Callable[[], None]]] = {}

    def attach(self, cloud: LocalCloud, start: Callable[[], tuple[W, Callable[[], None]]]) -> W:
        """``cloud``'s worker: the attached one, or the one ``start`` makes and registers
        (which ``cloud.stop()`` then detaches)."""
        with self._lock:
            attached = self._by_cloud.get(id(cloud))
            if attached is not None:
                return attached[0]
            worker, unregister = start()
            self._by_cloud[id(cloud)] = (worker, unregister)
        cloud.add_worker(lambda: self.detach(cloud))
        return worker

    def get(self, cloud: LocalCloud) -> W | None:
        with self._lock:
            attached = self._by_cloud.get(id(cloud))
        return attached[0] if attached is not None else None

    def detach(self, cloud: LocalCloud) -> None:
        """Stop handling ``cloud``'s hooks, then stop the worker (its running work with it)."""
        with self._lock:
            attached = self._by_cloud.pop(id(cloud), None)
        if attached is not None:
            worker, unregister = attached
            unregister()
            worker.stop()
