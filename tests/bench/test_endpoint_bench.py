"""Endpoint throughput and latency on the local cloud (``make bench``; prints figures).

Paths measured, single-row and 100-row CSV requests:

- **model server**: HTTP keep-alive straight to a model server process (2 workers, one per
  core), the real XGBoost model and ``inference.py``. The target, >= 500 single-row
  requests/s with p99 < 20 ms on 2 cores, applies to this path; it is also measured open
  loop (requests offered at 500/s, latency counted from the scheduled send time, so queueing
  is not hidden).
- **local cloud**: boto3 ``sagemaker-runtime`` ``invoke_endpoint`` through the local cloud
  (moto's server, the router, metrics and data capture) to the same kind of server.
- **server only**: both paths again with trivial handlers (constant predictions), which shows
  what the HTTP layers cost apart from the model code.

The load generator runs in this process on the same 2 cores, so every figure is a floor.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from hosting_fixture import ROW, Registry, model_tarball, tarball, train_model

from shared.local_cloud import LocalCloud
from shared.local_cloud.hosting.artifacts import REPO_CODE_DIR
from shared.local_cloud.hosting.model_server import ModelServerProcess

SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
CONCURRENCY = 4
TARGET_RPS, TARGET_P99_MS = 500, 20.0
NULL_HANDLERS = b"""
import json
class InvalidInput(ValueError):
    pass
def model_fn(model_dir):
    return None
def input_fn(body, content_type):
    return max(1, body.count(b"\\n"))
def predict_fn(rows, model):
    return [0.5] * rows
def output_fn(prediction, accept):
    return json.dumps({"predictions": [{"score": s, "label": 0} for s in prediction]})
"""
PAYLOADS = {"1 row": (ROW + "\n").encode(), "100 rows": ((ROW + "\n") * 100).encode()}

Send = Callable[[bytes], None]


@dataclass(frozen=True)
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def _summarise(latencies: list[float], errors: int, elapsed: float) -> Result:
    latencies.sort()
    n = len(latencies)
    return Result(
        rps=n / elapsed,
        p50_ms=latencies[n // 2] * 1e3 if n else float("nan"),
        p99_ms=latencies[min(n - 1, int(n * 0.99))] * 1e3 if n else float("nan"),
        requests=n,
        errors=errors,
    )


def closed_loop(make_sender: Callable[[], Send], body: bytes, concurrency: int = CONCURRENCY) -> Result:
    """``concurrency`` clients, each sending its next request when the last one is answered."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(concurrency + 1)
    stop_at = [0.0]

    def client() -> None:
        send = make_sender()
        for _ in range(5):  # warm the connection and the worker
            send(body)
        mine: list[float] = []
        failed = 0
        start_gate.wait()
        while time.perf_counter() < stop_at[0]:
            t = time.perf_counter()
            try:
                send(body)
                mine.append(time.perf_counter() - t)
            except Exception:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + 3600
    start_gate.wait()
    began = time.perf_counter()
    stop_at[0] = began + SECONDS
    for thread in threads:
        thread.join()
    return _summarise(latencies, errors[0], time.perf_counter() - began)


def open_loop(make_sender: Callable[[], Send], body: bytes, rate: float, senders: int = 8) -> Result:
    """Requests offered at ``rate``/s on a fixed schedule; latency runs from the scheduled time."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    interval = senders / rate
    ready = threading.Barrier(senders + 1)
    began = [0.0]

    def client(offset: int) -> None:
        send = make_sender()
        send(body)
        mine: list[float] = []
        failed = 0
        ready.wait()
        due = began[0] + offset * (1.0 / rate)
        while due < began[0] + SECONDS:
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                send(body)
                mine.append(time.perf_counter() - due)
            except Exception:
                failed += 1
            due += interval
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    began[0] = time.perf_counter() + 0.2
    ready.wait()
    for thread in threads:
        thread.join()
    return _summarise(latencies, errors[0], time.perf_counter() - began[0])


def direct(port: int) -> Callable[[], Send]:
    def make() -> Send:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

        def send(body: bytes) -> None:
            conn.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")

        return send

    return make


def through_local_cloud(endpoint: str) -> Callable[[], Send]:
    def make() -> Send:
        client: Any = boto3.client(
            "sagemaker-runtime", config=Config(retries={"total_max_attempts": 1}, max_pool_connections=4)
        )

        def send(body: bytes) -> None:
            client.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="text/csv")["Body"].read()

        return send

    return make


def _endpoint(registry: Registry, package: str) -> str:
    sm = boto3.client("sagemaker")
    name = f"bench-{uuid.uuid4().hex[:8]}"
    sm.create_endpoint(EndpointName=name, EndpointConfigName=registry.endpoint_config(package))
    deadline = time.monotonic() + 120
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] != "InService":
        assert time.monotonic() < deadline, "the bench endpoint did not come up"
        time.sleep(0.05)
    return name


def test_endpoint_throughput_and_latency(local_cloud: LocalCloud, tmp_path: Path) -> None:
    model_dir = train_model(tmp_path / "model")
    null_code = tmp_path / "null-code"
    null_code.mkdir()
    (null_code / "inference.py").write_bytes(NULL_HANDLERS)

    registry = Registry.create(boto3.client("s3"), boto3.client("sagemaker"))
    model_url = registry.upload("bench/model.tar.gz", model_tarball(model_dir))
    two_workers = {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}
    real_endpoint = _endpoint(registry, registry.package(model_url, env=two_workers))
    null_url = registry.upload("bench/null/sourcedir.tar.gz", tarball({"inference.py": NULL_HANDLERS}))
    null_endpoint = _endpoint(registry, registry.package(model_url, null_url, env=two_workers))

    servers = {
        "real": ModelServerProcess(model_dir, REPO_CODE_DIR, workers=2).start(),
        "null": ModelServerProcess(model_dir, null_code, workers=2).start(),
    }
    rows: list[tuple[str, str, str, Result]] = []
    try:
        for server in servers.values():
            server.wait_healthy(60)
        for payload, body in PAYLOADS.items():
            rows.append(
                (
                    "model server, 2 workers",
                    payload,
                    f"closed x{CONCURRENCY}",
                    closed_loop(direct(servers["real"].port), body),
                )
            )
            if payload == "1 row":
                rows.append(
                    (
                        "model server, 2 workers",
                        payload,
                        f"open {TARGET_RPS}/s",
                        open_loop(direct(servers["real"].port), body, TARGET_RPS),
                    )
                )
            rows.append(
                (
                    "local cloud (boto3)",
                    payload,
                    f"closed x{CONCURRENCY}",
                    closed_loop(through_local_cloud(real_endpoint), body),
                )
            )
        body = PAYLOADS["1 row"]
        rows.append(
            (
                "server only: null handlers",
                "1 row",
                f"closed x{CONCURRENCY}",
                closed_loop(direct(servers["null"].port), body),
            )
        )
        rows.append(
            (
                "server only: null handlers",
                "1 row",
                f"open {TARGET_RPS}/s",
                open_loop(direct(servers["null"].port), body, TARGET_RPS),
            )
        )
        rows.append(
            (
                "local cloud only: null handlers",
                "1 row",
                f"closed x{CONCURRENCY}",
                closed_loop(through_local_cloud(null_endpoint), body),
            )
        )
    finally:
        for server in servers.values():
            server.stop()

    print(f"\nendpoint bench: {os.cpu_count()} cores, {SECONDS:.0f} s per run")
    print(f"{'path':34} {'payload':9} {'load':13} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for path, payload, load, r in rows:
        print(f"{path:34} {payload:9} {load:13} {r.rps:8.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.errors:6d}")
    target = next(
        r for p, pl, ld, r in rows if p.startswith("model server") and pl == "1 row" and ld.startswith("open")
    )
    met = target.rps >= TARGET_RPS * 0.97 and target.p99_ms < TARGET_P99_MS
    print(
        f"target (model server path, 1 row): >= {TARGET_RPS} req/s with p99 < {TARGET_P99_MS:.0f} ms: "
        f"{'met' if met else 'NOT met'} ({target.rps:.0f} req/s, p99 {target.p99_ms:.1f} ms)"
    )
    assert all(r.errors == 0 for *_, r in rows), "requests failed during the bench"
