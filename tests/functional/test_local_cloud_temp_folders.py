"""The local cloud's temporary folders: all under one root per cloud, gone after ``stop()``,
and swept by the next cloud when a cloud was killed (``kill -9``: no cleanup code ran).

What this proves: a cloud with every worker attached makes its folders (Lambda code, STS
certificates, Glue scripts, hosting) inside its root and leaves nothing in the temporary
folder after it stops; a killed cloud's root is removed by the next cloud's start. Each
cloud runs in a child process with its own TMPDIR, so the count sees only that cloud (and
the session's cloud in this process is untouched). It does not run jobs: the job and
pipeline folders are made with the same ``cloud.mkdtemp``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

_CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from shared.local_cloud import LocalCloud
    from shared.local_cloud.workers import attach_all

    cloud = LocalCloud(port=0).start()
    if sys.argv[1] == "workers":
        attach_all(cloud)
    root = cloud.temp_root
    print(json.dumps({"root": str(root), "inside": sorted(p.name for p in root.iterdir())}), flush=True)
    if sys.argv[1] == "hang":
        time.sleep(600)  # until the test kills this process with SIGKILL
    cloud.stop()
    print(json.dumps({"root_exists": root.exists()}), flush=True)
    """
)


def _start(tmp: Path, mode: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, mode], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"the child cloud printed nothing (exit {process.wait()})"
    return process, json.loads(line)


def _dualloop_folders(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("dualloop-"))


def test_a_stopped_cloud_leaves_no_folder_behind(tmp_path: Path) -> None:
    # GIVEN an empty temporary folder
    assert _dualloop_folders(tmp_path) == []
    # WHEN a cloud with every worker starts
    process, started = _start(tmp_path, "workers")
    # THEN it has one root there, holding every part's folder
    root = Path(str(started["root"]))
    assert root.parent == tmp_path and root.name.startswith(f"dualloop-cloud-{process.pid}-")
    inside = [str(name) for name in started["inside"]]  # type: ignore[attr-defined]
    for part in ("dualloop-lambda-", "dualloop-sts-proxy-", "dualloop-glue-", "dualloop-hosting-"):
        assert any(name.startswith(part) for name in inside), (part, inside)
    # AND WHEN it stops  THEN the temporary folder is as it was
    assert process.stdout is not None
    assert json.loads(process.stdout.readline()) == {"root_exists": False}
    assert process.wait(timeout=60) == 0
    assert _dualloop_folders(tmp_path) == []


def test_the_next_cloud_sweeps_a_killed_clouds_folders(tmp_path: Path) -> None:
    # GIVEN a cloud (no workers: the root is what matters) killed with SIGKILL: its root stays
    killed, started = _start(tmp_path, "hang")
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    left = Path(str(started["root"]))
    assert left.is_dir() and _dualloop_folders(tmp_path) == [left.name]
    # WHEN the next cloud starts (and stops)
    process, _ = _start(tmp_path, "stop")
    assert process.stdout is not None
    process.stdout.read()
    assert process.wait(timeout=60) == 0
    # THEN the killed cloud's root is gone, and nothing else is left
    assert not left.exists()
    assert _dualloop_folders(tmp_path) == []
