"""A job's "container" without Docker: a work dir standing in for the container's filesystem,
and its instances run as subprocesses of the local Python.

Each instance (``algo-1``, ``algo-2``, ...) gets its own root; the container path
``/opt/ml/x`` is ``<root>/opt/ml/x``. Paths under /opt/ml in the entry point, arguments and
environment are rewritten to that root, and ``python``/``python3`` is the local interpreter.
Code that hard-codes /opt/ml paths *inside* a script (rather than taking them as arguments
or environment) is the one thing this cannot map: pass paths in, as SageMaker's own
toolkits do.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.local_cloud.sagemaker.errors import StepFailure, StepStopped

LOG = logging.getLogger(__name__)

OPT_ML = "/opt/ml"
_OPT_ML = re.compile(r"(?<![\w.-])/opt/ml(?=/|$|[^\w.-])")
_PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
_POLL_SECONDS = 0.05
_FAILURE_TEXT_LIMIT = 1000


@dataclass(frozen=True)
class Instance:
    host: str
    root: Path

    def path(self, container_path: str) -> Path:
        if not (container_path == OPT_ML or container_path.startswith(OPT_ML + "/")):
            raise StepFailure(f"ClientError: container path {container_path!r} is not under {OPT_ML}")
        return self.root / container_path.lstrip("/")

    def rewrite(self, text: str) -> str:
        return _OPT_ML.sub(lambda _: str(self.root / "opt" / "ml"), text)


def local_command(command: Sequence[str], instance: Instance, python: str) -> list[str]:
    """The container command as a local one: /opt/ml rewritten, python -> the local python."""
    out = [instance.rewrite(str(part)) for part in command]
    if out and _PYTHON.match(str(command[0])):
        out[0] = python
    return out


def base_environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    # The container has its own site-packages: the dualloop package is not importable there.
    env.pop("PYTHONPATH", None)
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass(frozen=True)
class Launch:
    instance: Instance
    command: list[str]
    env: dict[str, str]
    cwd: Path


@dataclass(frozen=True)
class InstanceResult:
    host: str
    returncode: int
    log_path: Path


def run_instances(
    launches: Sequence[Launch], *, stop: threading.Event, max_runtime_seconds: float | None
) -> list[InstanceResult]:
    """Run every instance to completion; the first failure stops the others (the job has
    failed). ``max_runtime_seconds`` is wall time: local compute is not sped up by the local
    cloud's clock factor, so scaling it would fail jobs for running at real speed."""
    processes: list[tuple[Launch, subprocess.Popen[bytes], Path]] = []
    try:
        for launch in launches:
            log_path = launch.instance.root / "job.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "wb") as log:
                LOG.debug("%s: %s", launch.instance.host, " ".join(launch.command))
                process = subprocess.Popen(  # noqa: S603 - the job's own command, as its container runs it
                    launch.command,
                    cwd=launch.cwd,
                    env=launch.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            processes.append((launch, process, log_path))
        deadline = None if max_runtime_seconds is None else time.monotonic() + max_runtime_seconds
        while True:
            codes = [p.poll() for _, p, _ in processes]
            if all(c is not None for c in codes) or any(c not in (None, 0) for c in codes):
                break
            if stop.is_set():
                raise StepStopped("stopped")
            if deadline is not None and time.monotonic() > deadline:
                raise StepFailure(
                    f"ClientError: the job exceeded its MaxRuntimeInSeconds ({max_runtime_seconds:g} s)"
                )
            time.sleep(_POLL_SECONDS)
    finally:
        for _, process, _ in processes:
            _terminate(process)
    return [InstanceResult(launch.instance.host, int(p.returncode), log) for launch, p, log in processes]


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def failure_message(instance: Instance, result: InstanceResult, failure_files: Sequence[str]) -> str:
    """The job's failure text: the first non-empty failure file the script wrote (SageMaker's
    ``/opt/ml/output/message`` for processing, ``/opt/ml/output/failure`` for training), else
    the tail of its output."""
    for container_path in failure_files:
        path = instance.path(container_path)
        if path.is_file():
            text = " ".join(path.read_text(encoding="utf-8", errors="replace").split())
            if text:
                return text[:_FAILURE_TEXT_LIMIT]
    lines = [line for line in _tail(result.log_path).splitlines() if line.strip()]
    tail = " | ".join(lines[-5:])
    reason = f"exit code {result.returncode}" + (f": {tail}" if tail else "")
    return reason[-_FAILURE_TEXT_LIMIT:]


def _tail(path: Path, size: int = 8192) -> str:
    if not path.is_file():
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", errors="replace")


def read_log(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
