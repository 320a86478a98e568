"""Speed: moto's server spends less than half the CPU per call.

Two costs, both in moto's HTTP plumbing and none in any AWS behaviour:

1. **Routing.** ``DomainDispatcherApplication.get_application`` infers the service's host name
   from the SigV4 scope (``sqs.us-east-1.amazonaws.com``) and then asks
   ``get_backend_for_host``, which tests ``host in backends.list_of_moto_modules()``: a
   generator that runs ``os.listdir`` over moto's package and ``os.path.isdir`` on every
   entry (~180 ``stat`` calls per request), then matches ~180 URL regexes. All of it runs
   under the dispatcher's one lock, so concurrent clients queue behind it. The answer
   depends only on the host name (moto's installed module list and its URL index do not
   change while the process runs), so it is memoised per host; everything else about
   routing (the SigV4 scope, paths, targets, bodies) is still read from every request.
2. **Finding the action's method.** ``BaseResponse.call_action`` asks whether the action is a
   method with ``action in method_names_from_class(type(self))``, which runs
   ``inspect.getmembers`` over the whole response class on every call (0.1-0.4 ms for S3 and
   SageMaker's ~140 methods). ``_MethodNames`` answers the same membership question with
   one ``getattr``, looked up on every call (so methods the patches add are seen).

Not here: HTTP keep-alive. A persistent-connection handler for werkzeug's server lived here,
off by default after one CI rehearsal under load hung a request for 60 s (cause never found);
nothing needed it, so it was dropped rather than kept switched off (issue 15): moto's own
``ThreadedMotoServer`` serves the local cloud, one connection per call.

Set ``DUALLOOP_LOCAL_CLOUD_FAST_SERVER=0`` before the local cloud starts to get moto exactly
as it ships (the bench uses this for its "before" figures).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from typing import Any

import moto.core.responses as moto_responses
from moto.core.responses import BaseResponse
from moto.core.utils import method_names_from_class
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from shared.local_cloud.patches import Patch, original, replace

FAST_SERVER_ENV = "DUALLOOP_LOCAL_CLOUD_FAST_SERVER"
_HOST_CACHE_SIZE = 4096


def enabled() -> bool:
    """Whether the local cloud uses these speed-ups (read when it starts)."""
    return os.environ.get(FAST_SERVER_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


PATCH = Patch(__name__)
PATCH.pins(DomainDispatcherApplication, "get_backend_for_host", "1f41972c1e4e660f")
PATCH.pins(moto_responses, "method_names_from_class", "9dbac89d082b655f")
PATCH.pins(BaseResponse, "call_action", "26076963fd17fd1a")  # its one caller: `action in ...`


def apply() -> None:
    if enabled():
        replace(DomainDispatcherApplication, "get_backend_for_host", _get_backend_for_host)
        replace(moto_responses, "method_names_from_class", _MethodNames)


def create_server(host: str, port: int) -> ThreadedMotoServer:
    """The local cloud's server: moto's own (the speed-ups above patch its app, not its server)."""
    return ThreadedMotoServer(ip_address=host, port=port, verbose=False)


# ---- 1. routing -------------------------------------------------------------------------------
def _get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    """moto's ``get_backend_for_host``, memoised per host name (a pure function of it).

    Misses (``None``) are not cached, so moto still prints its hint for an unknown
    ``amazonaws.com`` host each time.
    """
    if host is None:
        return None
    cache: dict[str, Any] | None = self.__dict__.get("_dualloop_backend_for_host")
    if cache is None:
        cache = self.__dict__.setdefault("_dualloop_backend_for_host", {})
    backend = cache.get(host)
    if backend is None:
        backend = original(DomainDispatcherApplication, "get_backend_for_host")(self, host)
        if backend is not None and len(cache) < _HOST_CACHE_SIZE:
            cache[host] = backend
    return backend


# ---- 2. the action's method ------------------------------------------------------------------
class _MethodNames:
    """``method_names_from_class(clazz)`` as ``call_action`` uses it: ``name in names`` is
    true when the class has a plain function by that name (what ``inspect.getmembers(clazz,
    inspect.isfunction)`` lists), checked when asked rather than by listing every member."""

    __slots__ = ("_clazz",)

    def __init__(self, clazz: object) -> None:
        self._clazz = clazz

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and inspect.isfunction(getattr(self._clazz, name, None))

    def __iter__(self) -> Iterator[str]:
        return iter(method_names_from_class(self._clazz))

    def __len__(self) -> int:
        return len(method_names_from_class(self._clazz))
