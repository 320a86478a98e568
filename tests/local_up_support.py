"""`dualloop local up` in a process of its own, for tests that talk to it as users do."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

DUALLOOP = [sys.executable, "-m", "shared.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_local_up(env: dict[str, str], timeout: float = 60) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start `dualloop local up` on a free port; returns the process and what it told to export."""
    process = subprocess.Popen(
        [*DUALLOOP, "local", "up", "--port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    exported: dict[str, str] = {}
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while "SAGEMAKER_VALIDATE_ROLE" not in exported:
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise AssertionError("local up printed no environment")
        line = process.stdout.readline()
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").strip().partition("=")
            exported[key] = value
    return process, exported
