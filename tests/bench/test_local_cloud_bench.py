"""What one API call to the local cloud costs, with moto's server as shipped ("before") and
with ``shared/local_cloud/patches/server_speed.py`` ("after"); ``make bench`` prints figures.

Each side runs in its own process (the patch is applied once per process; the "before"
process sets ``DUALLOOP_LOCAL_CLOUD_FAST_SERVER=0``), alternating, ``BENCH_ROUNDS`` times;
the best round of each is printed. Measured, each for ``BENCH_SECONDS``:

- four cheap boto3 calls, one client in a closed loop: p50/p99 latency, calls/s and the
  process's CPU per call (boto3 and the server share the process and its 2 cores);
- the same four calls from 4 threads with a client each;
- **server only**: one signed ``sqs.ListQueues`` request captured from boto3 and replayed
  with ``http.client`` (a new connection per call when the server closes it), which leaves
  boto3's own client-side cost out.

Load from other jobs on the machine moves wall-clock figures a lot; CPU per call moves
less. Both are printed with the load average before and after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
THREADS = 4
FLAG = "DUALLOOP_LOCAL_CLOUD_FAST_SERVER"


# ---- measuring (runs in a child process) ---------------------------------------------------------
def _figures(latencies: list[float], elapsed: float, cpu: float) -> dict[str, float]:
    latencies.sort()
    n = len(latencies)
    return {
        "calls": n,
        "per_s": n / elapsed,
        "p50_ms": latencies[n // 2] * 1e3,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1e3,
        "cpu_ms": cpu / n * 1e3,
    }


def _loop(make_call: Callable[[], Callable[[], Any]], threads: int = 1) -> dict[str, float]:
    """``threads`` clients in a closed loop, each with its own ``make_call()``."""
    latencies: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(threads + 1)
    stop_at = [float("inf")]

    def client() -> None:
        call = make_call()
        for _ in range(10):  # warm up: connection, botocore's caches
            call()
        mine = []
        gate.wait()
        while (t := time.perf_counter()) < stop_at[0]:
            call()
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    gate.wait()
    began, cpu = time.perf_counter(), time.process_time()
    stop_at[0] = began + SECONDS
    for worker in workers:
        worker.join()
    return _figures(latencies, time.perf_counter() - began, time.process_time() - cpu)


def _constant(call: Callable[[], Any]) -> Callable[[], Callable[[], Any]]:
    return lambda: call


def measure() -> dict[str, Any]:
    import http.client
    from urllib.parse import urlsplit

    import boto3
    from botocore.exceptions import ClientError

    from shared.local_cloud import LocalCloud

    cloud = LocalCloud().start()
    os.environ.update(cloud.env())
    try:
        setup = boto3.session.Session()
        bucket = "bench-speed-bucket"
        setup.client("s3").create_bucket(Bucket=bucket)
        sfn = setup.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="bench-speed",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/bench",
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
            time.sleep(0.02)

        def calls() -> dict[str, Callable[[], Any]]:
            session = boto3.session.Session()  # clients of their own per thread
            sqs, s3, sm = session.client("sqs"), session.client("s3"), session.client("sagemaker")
            states = session.client("stepfunctions")

            def missing_endpoint() -> None:
                try:
                    sm.describe_endpoint(EndpointName="bench-missing")
                except ClientError:
                    pass

            return {
                "sqs.list_queues": sqs.list_queues,
                "s3.head_bucket": lambda: s3.head_bucket(Bucket=bucket),
                "sagemaker.describe_endpoint (404)": missing_endpoint,
                "stepfunctions.describe_execution": lambda: states.describe_execution(executionArn=execution),
            }

        results: dict[str, Any] = {}
        for name, call in calls().items():
            results[f"{name}, 1 client"] = _loop(_constant(call))

        def mixed() -> Callable[[], Any]:
            mine, turn = list(calls().values()), [0]

            def call() -> None:
                mine[turn[0] % len(mine)]()
                turn[0] += 1

            return call

        results[f"the four calls mixed, {THREADS} clients"] = _loop(mixed, THREADS)

        # server only: replay one signed request
        client = boto3.client("sqs")
        captured: dict[str, Any] = {}
        client.meta.events.register(
            "before-send.sqs.ListQueues", lambda request, **_: captured.update(r=request)
        )
        client.list_queues()
        request = captured["r"]
        path = urlsplit(request.url).path or "/"
        conn = http.client.HTTPConnection(cloud.host, cloud.port, timeout=30)

        def replay() -> None:
            conn.request(request.method, path, body=request.body, headers=dict(request.headers))
            response = conn.getresponse()
            response.read()
            assert response.status == 200

        results["server only: replayed sqs.ListQueues"] = _loop(lambda: replay)
        return results
    finally:
        cloud.stop()


# ---- the test: run both sides, print ------------------------------------------------------------
def _run_side(fast: bool) -> dict[str, Any]:
    env = {**os.environ, FLAG: "1" if fast else "0", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, "--measure"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _best(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per row, the round with the most calls/s (the least disturbed by other jobs)."""
    return {row: max((r[row] for r in rounds), key=lambda f: f["per_s"]) for row in rounds[0]}


def test_local_cloud_call_cost_before_and_after() -> None:
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    sides: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for _ in range(ROUNDS):
        sides["before"].append(_run_side(fast=False))
        sides["after"].append(_run_side(fast=True))
    load_after = os.getloadavg()
    before, after = _best(sides["before"]), _best(sides["after"])

    print(
        f"\nlocal cloud call cost: {cores} cores, {SECONDS:.0f} s per row, best of {ROUNDS} rounds per side; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    if max(load_before[0], load_after[0]) > cores * 0.75:
        print(
            "NOTE: the machine is loaded by other jobs (load average above the core count x 0.75): "
            "wall-clock figures are inflated and noisy; CPU ms/call is the steadier comparison."
        )
    print(
        f"{'row':48} {'side':6} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU ms/call':>11} {'speed-up':>8}"
    )
    for row in before:
        for side, figures in (("before", before[row]), ("after", after[row])):
            gain = f"{after[row]['per_s'] / before[row]['per_s']:.2f}x" if side == "after" else ""
            print(
                f"{row:48} {side:6} {figures['per_s']:8.0f} {figures['p50_ms']:7.2f} {figures['p99_ms']:7.2f} "
                f"{figures['cpu_ms']:11.2f} {gain:>8}"
            )
    assert all(f["calls"] > 0 for f in (*before.values(), *after.values()))


if __name__ == "__main__" and sys.argv[1:] == ["--measure"]:
    import logging

    logging.disable(logging.WARNING)
    print(json.dumps(measure()))
