"""The newcomer's demo against its target (``make bench``; prints figures).

`dualloop demo` after install: the whole dual loop on a local cloud it starts (Glue ingest and
data quality on Spark, the inner pipeline, approval, blue/green deployment, sample
predictions) in under 60 s on 2 cores. Run as a user runs it, in a process of its own, ``RUNS``
times; each run's own breakdown (``--json``: phases and retrain stages) is printed, and the
best wall time is held to the target (other jobs on the machine only ever add time).

What this cannot tell: a first run on a machine whose disk cache is cold (Python and the JVM
loading their libraries from disk) is slower; install time is not included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 60.0
RUNS = 2


def _demo(home: Path) -> tuple[float, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUALLOOP_", "AWS_ENDPOINT_URL"))}
    env["DUALLOOP_HOME"] = str(home)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "demo", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    wall = time.perf_counter() - started
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    document: dict[str, object] = json.loads(done.stdout)
    return wall, document


def test_the_demo_finishes_within_a_minute(tmp_path: Path) -> None:
    walls = []
    for run in range(1, RUNS + 1):
        wall, document = _demo(tmp_path / f"run-{run}")
        walls.append(wall)
        seconds = document["seconds"]
        assert isinstance(seconds, dict)
        print(f"\ndemo run {run}: {wall:.1f} s wall (process start to exit), {seconds['total']:.1f} s inside")
        for name, value in {**seconds["phases"], **seconds["retrain_stages"]}.items():
            print(f"  {name:<58} {value:>6.2f} s")
    best = min(walls)
    print(f"best of {RUNS}: {best:.1f} s (target: under {TARGET_SECONDS:.0f} s)")
    assert best < TARGET_SECONDS
