"""The newcomer's two journeys, through the real `dualloop` command in its own processes.

1. `dualloop demo`: the whole dual loop on a local cloud it starts, readable output (live
   states and steps, the traffic split, sample predictions, where the time went), no library
   noise, a clean exit.
2. `dualloop local up` in one process, then `dualloop run --json`, `status --json` and
   `invoke` from others: the workflow the README gives for iterating against a running cloud.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from home_support import fresh_home
from local_up_support import DUALLOOP, start_local_up

ROWS = "3000"


def _clean_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "DUALLOOP_HOME": str(fresh_home(tmp_path / "home")), "COLUMNS": "200"}
    for key in ("AWS_ENDPOINT_URL", "DUALLOOP_TARGET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(key, None)
    return env


def _model_servers(home: Path) -> set[int]:
    """The model servers a local cloud with ``home`` started (tests in other workers start theirs)."""
    found = set()
    for p in psutil.process_iter(["pid", "cmdline"]):
        if not any("model_server" in part for part in p.info["cmdline"] or []):
            continue
        try:
            if p.environ().get("DUALLOOP_HOME") == str(home):
                found.add(p.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_demo_runs_the_whole_loop_readably_and_exits_cleanly(tmp_path: Path) -> None:
    done = subprocess.run(
        [*DUALLOOP, "demo", "--rows", ROWS],
        capture_output=True,
        text=True,
        env=_clean_env(tmp_path),
        timeout=600,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    for line in (
        r"outer Ingest\s+\d+\.\d+s",
        r"outer DataQuality\s+\d+\.\d+s",
        r"inner Preprocess\s+Succeeded",
        r"inner Train\s+Succeeded",
        r"inner CheckQuality\s+Succeeded",
        r"approval Approved \(auto\)",
        r"traffic dualloop-dev-endpoint InService: serving 100%",
        r"SUCCEEDED arn:aws:states:",
        r"data quality: passed",
        r"sample predictions",
        r"where the \d+\.\d s went",
        r"ingest \(Glue; includes Spark's start\)",
    ):
        assert re.search(line, out), f"no line matching {line!r} in:\n{out[-4000:]}"
    scores = re.findall(r"│ tx-\S+\s+│[^│]+│[^│]+│[^│]+│ (\d\.\d{4})", out)
    assert len(scores) == 5 and all(0.0 <= float(s) <= 1.0 for s in scores), out[-2000:]
    # Quiet: no library logging, Spark banners, progress bars or tracebacks.
    for noise in ("Traceback", "INFO:", "WARNING:", "WARN ", "Setting default log level", "[Stage "):
        assert noise not in out, f"{noise!r} in the demo's output:\n{out[-4000:]}"
    # Clean exit: the endpoint's model servers stopped with the local cloud.
    assert _model_servers(tmp_path / "home") == set()


def test_demo_json_is_one_document_with_predictions_and_timings(tmp_path: Path) -> None:
    done = subprocess.run(
        [*DUALLOOP, "demo", "--rows", ROWS, "--json"],
        capture_output=True,
        text=True,
        env=_clean_env(tmp_path),
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    document = json.loads(done.stdout)
    assert document["retrain"]["status"] == "SUCCEEDED"
    assert [p["variant"] for p in document["predictions"]] == ["AllTraffic"] * 5
    phases = document["seconds"]["phases"]
    assert sum(phases.values()) <= document["seconds"]["total"] + 0.5
    stages = document["seconds"]["retrain_stages"]
    assert stages["ingest (Glue; includes Spark's start)"] > 0
    assert stages["inner pipeline (SageMaker Pipeline)"] > 0
    assert done.stderr.strip() == "", done.stderr[-2000:]  # --json: no progress at all


@pytest.fixture
def local_up(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = _clean_env(tmp_path)
    process, exported = start_local_up(env)
    try:
        yield {**env, **exported}
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_run_status_and_invoke_against_local_up(local_up: dict[str, str]) -> None:
    done = subprocess.run(
        [*DUALLOOP, "run", "--rows", ROWS, "--json"],
        capture_output=True,
        text=True,
        env=local_up,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert result["quality"]["passed"] is True
    assert {s["step"]: s["status"] for s in result["inner_steps"]}["RegisterModel"] == "Succeeded"
    assert result["approval"] == "Approved"

    status = json.loads(
        subprocess.run(
            [*DUALLOOP, "status", "--json"], capture_output=True, text=True, env=local_up, check=True
        ).stdout
    )
    assert status["endpoint"]["status"] == "InService"
    assert status["packages"][0]["deployed_to"] == "dualloop-dev-endpoint"
    assert status["packages"][0]["serving"] is True
    assert status["lock"] is None

    invoked = subprocess.run(
        [*DUALLOOP, "invoke", "--body", "61.42,online_retail,6,34.9,2,3,0.9736,1"],
        capture_output=True,
        text=True,
        env=local_up,
        check=True,
    )
    prediction = json.loads(invoked.stdout)["predictions"][0]
    assert 0.0 <= prediction["score"] <= 1.0
    assert "AllTraffic" in invoked.stderr
