"""The data plane: fleets of model servers, and the router InvokeEndpoint goes through.

An endpoint's traffic follows a ``RouteTable``: per production variant a weight (variants
are picked by weighted random, as SageMaker does) and the fleets serving it with their share
of the variant's traffic: one fleet normally, blue and green during a blue/green update.
Tables are immutable and replaced whole (one reference assignment), so every request sees
the old table or the new one, never a mix: that is the atomic traffic switch.

No request is lost when a fleet leaves: a request takes a slot on an instance (``acquire``)
before it is sent, and a fleet is retired only after the table that routes to it has been
replaced; retiring closes each instance to new slots, waits for the slots in use to be
released, and only then stops the process. A request that finds its instance closed (it
read the old table a moment before the switch) reads the table again.

Which fleet answered is observable: the runtime answer names the variant
(``x-Amzn-Invoked-Production-Variant``, as on AWS) and, local cloud only, the endpoint
config whose fleet served it (``x-dualloop-endpoint-config``: the old config is blue, the
new one green) and the model server (``x-dualloop-model-server``, host:port).
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from shared.local_cloud.hosting.model_server import ModelServerProcess
from shared.local_cloud.hosting.telemetry import CaptureSettings, CaptureWriter, MetricsPublisher

LOG = logging.getLogger(__name__)
EndpointKey = tuple[str, str, str]  # account, region, endpoint name
CONFIG_HEADER = "x-dualloop-endpoint-config"
SERVER_HEADER = "x-dualloop-model-server"
MODEL_TIMEOUT_SECONDS = 60.0  # SageMaker's limit for a real-time invocation


class Instance:
    """One model server process: a keep-alive connection pool and an in-flight count."""

    def __init__(self, server: ModelServerProcess) -> None:
        self.server = server
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._inflight = 0
        self._closing = False
        self._drained = threading.Event()

    @property
    def address(self) -> str:
        return f"{self.server.host}:{self.server.port}"

    def acquire(self) -> bool:
        with self._lock:
            if self._closing:
                return False
            self._inflight += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._inflight -= 1
            if self._closing and self._inflight == 0:
                self._drained.set()

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        for reused in (True, False):
            conn = self._connection() if reused else self._new_connection()
            try:
                conn.request("POST", "/invocations", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except ConnectionError:
                conn.close()
                if reused:
                    continue  # a keep-alive connection the server had closed: once more on a fresh one
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                self._idle.append(conn)
            return response.status, data, response.getheader("Content-Type") or ""
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        try:
            return self._idle.pop()  # list.pop/append are atomic: no lock on the hot path
        except IndexError:
            return self._new_connection()

    def _new_connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.server.host, self.server.port, timeout=MODEL_TIMEOUT_SECONDS)

    def close(self) -> None:
        """Take no new requests; ``wait_drained`` then returns once the running ones are done."""
        with self._lock:
            self._closing = True
            if self._inflight == 0:
                self._drained.set()

    def wait_drained(self, timeout: float) -> bool:
        return self._drained.wait(timeout)

    def stop(self) -> None:
        while self._idle:
            self._idle.pop().close()
        self.server.stop()


@dataclass(eq=False)
class Fleet:
    """The instances serving one variant of one endpoint config (the blue or the green fleet)."""

    config_name: str
    variant_name: str
    model_name: str
    instance_count: int  # as configured; the processes may be fewer (see deployment.MAX_PROCESSES)
    instances: tuple[Instance, ...]
    capture: CaptureSettings | None = None
    _next: count[int] = field(default_factory=count)

    def pick(self) -> Instance:
        return self.instances[next(self._next) % len(self.instances)]

    def retire(self, drain_timeout: float = MODEL_TIMEOUT_SECONDS) -> None:
        """Stop the fleet once its in-flight requests are done (the table must not route here)."""
        for instance in self.instances:
            instance.close()
        for instance in self.instances:
            if not instance.wait_drained(drain_timeout):
                LOG.warning("stopping %s with requests still in flight", instance.address)
            instance.stop()

    @property
    def pids(self) -> list[int]:
        return [i.server.pid for i in self.instances if i.server.pid is not None]


@dataclass(frozen=True)
class VariantRoute:
    name: str
    weight: float
    fleets: tuple[tuple[Fleet, float], ...]  # (fleet, share of the variant's traffic), shares sum to 1

    def pick(self) -> Fleet:
        if len(self.fleets) == 1:
            return self.fleets[0][0]
        r = random.random()  # noqa: S311 - traffic splitting, not cryptography
        for fleet, share in self.fleets:
            r -= share
            if r < 0:
                return fleet
        return self.fleets[-1][0]


@dataclass(frozen=True)
class RouteTable:
    config_name: str  # the endpoint config the endpoint is on (blue's, during an update)
    variants: tuple[VariantRoute, ...]

    @property
    def fleets(self) -> list[Fleet]:
        return list({id(f): f for v in self.variants for f, _ in v.fleets}.values())

    def pick(self, target_variant: str | None) -> VariantRoute:
        if target_variant:
            for variant in self.variants:
                if variant.name == target_variant:
                    return variant
            raise InvokeError("ValidationError", 400, f"The variant {target_variant} is not on the endpoint.")
        if len(self.variants) == 1:
            return self.variants[0]
        r = random.random() * sum(v.weight for v in self.variants)  # noqa: S311 - traffic splitting
        for variant in self.variants:
            r -= variant.weight
            if r < 0:
                return variant
        return self.variants[-1]


class InvokeError(Exception):
    """An InvokeEndpoint error in the runtime API's shape (error code, HTTP status, fields)."""

    def __init__(self, code: str, status: int, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.fields = fields


@dataclass(frozen=True)
class Answer:
    body: bytes
    content_type: str
    variant: str
    config_name: str
    server: str

    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": self.content_type,
            "x-Amzn-Invoked-Production-Variant": self.variant,
            CONFIG_HEADER: self.config_name,
            SERVER_HEADER: self.server,
        }


class Router:
    def __init__(self, metrics: MetricsPublisher, capture: CaptureWriter) -> None:
        self._tables: dict[EndpointKey, RouteTable] = {}
        self._fleets: dict[int, Fleet] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._metrics = metrics
        self._capture = capture

    # ---- control plane ------------------------------------------------------------------------
    def publish(self, key: EndpointKey, table: RouteTable | None) -> RouteTable | None:
        """Switch the endpoint to ``table`` (None: take it off the data plane); returns the old one."""
        with self._lock:
            old = self._tables.pop(key, None) if table is None else self._tables.get(key)
            if table is not None:
                self._tables[key] = table
            return old

    def table(self, key: EndpointKey) -> RouteTable | None:
        return self._tables.get(key)

    def adopt(self, fleet: Fleet) -> Fleet:
        """Track a fleet so ``stop`` reaches it, even one no table routes to yet."""
        with self._lock:
            if not self._closed:
                self._fleets[id(fleet)] = fleet
                return fleet
        fleet.retire(0)  # stopped already: its servers will refuse to start
        return fleet

    def retire(self, fleets: Iterable[Fleet], drain_timeout: float = MODEL_TIMEOUT_SECONDS) -> None:
        for fleet in fleets:
            fleet.retire(drain_timeout)
            with self._lock:
                self._fleets.pop(id(fleet), None)
        self._capture.flush()

    def remove(self, key: EndpointKey) -> None:
        """DeleteEndpoint: off the data plane now, fleets stopped once drained (in the background)."""
        old = self.publish(key, None)
        if old is not None:
            threading.Thread(
                target=self.retire, args=(old.fleets,), name="hosting-delete", daemon=True
            ).start()

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            self._tables.clear()
            fleets = list(self._fleets.values())
        self.retire(fleets, drain_timeout=2.0)

    @property
    def pids(self) -> list[int]:
        """Every live model server process, draining ones included."""
        with self._lock:
            return [pid for fleet in self._fleets.values() for pid in fleet.pids]

    def routed_pids(self, endpoint_name: str) -> list[int]:
        """The processes the endpoint's current route table sends traffic to."""
        with self._lock:
            tables = [t for key, t in self._tables.items() if key[2] == endpoint_name]
        return [pid for table in tables for fleet in table.fleets for pid in fleet.pids]

    # ---- data plane ---------------------------------------------------------------------------
    def invoke(
        self,
        key: EndpointKey,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        target_variant: str | None = None,
        inference_id: str | None = None,
    ) -> Answer:
        started = time.perf_counter()
        for _ in range(10):
            table = self._tables.get(key)
            if table is None:
                raise InvokeError("ValidationError", 400, f"Endpoint {key[2]} of account {key[0]} not found.")
            fleet = table.pick(target_variant).pick()
            instance = fleet.pick()
            if instance.acquire():
                break
        else:  # only if tables kept changing under this request
            raise InvokeError("ServiceUnavailable", 503, "The endpoint is switching fleets; try again.")
        headers = {"Content-Type": content_type} if content_type else {}
        if accept:
            headers["Accept"] = accept
        try:
            sent = time.perf_counter()
            try:
                status, data, answer_type = instance.post(body, headers)
            except (OSError, http.client.HTTPException) as exc:
                status, data, answer_type = (
                    500,
                    json.dumps({"message": f"{exc}"}).encode(),
                    "application/json",
                )
            model_us = int((time.perf_counter() - sent) * 1e6)
        finally:
            instance.release()
        account, region, endpoint = key
        overhead_us = int((time.perf_counter() - started) * 1e6) - model_us
        self._metrics.record(account, region, endpoint, fleet.variant_name, status, model_us, overhead_us)
        if status >= 400:
            raise _model_error(status, data, fleet, instance)
        capture = fleet.capture
        if capture is not None and random.random() * 100.0 < capture.sampling_percent:  # noqa: S311
            self._capture.record(
                capture, endpoint, fleet.variant_name, inference_id, body, content_type, data, answer_type
            )
        return Answer(data, answer_type, fleet.variant_name, fleet.config_name, instance.address)


def _model_error(status: int, data: bytes, fleet: Fleet, instance: Instance) -> InvokeError:
    text = data.decode(errors="replace")
    try:
        detail = json.loads(text).get("message", text)
    except (ValueError, AttributeError):
        detail = text
    kind = "client" if status < 500 else "server"
    message = f'Received {kind} error ({status}) from primary with message "{detail}".'
    if instance.server.log_path:
        message += f" See the model server log {instance.server.log_path} for more information."
    return InvokeError(
        "ModelError",
        424,  # ModelError's status in the runtime API: a 4XX for the client, whatever the model said
        message,
        OriginalStatusCode=status,
        OriginalMessage=text,
        LogStreamArn=f"local:{fleet.config_name}/{fleet.variant_name}/{instance.address}",
    )


# ---- the router the moto patch reaches (one local cloud per process) ----------------------------
_current: Router | None = None


def install(router: Router | None) -> None:
    global _current
    _current = router


def current() -> Router | None:
    return _current
