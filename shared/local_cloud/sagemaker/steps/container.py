"""A job's "container" without Docker: a work dir standing in for the container's filesystem,
and its instances run as subprocesses of the local Python.

Each instance (``algo-1``, ``algo-2``, ...) gets its own root; the container path
``/opt/ml/x`` is ``<root>/opt/ml/x`` on the host. How the job sees it, two modes:

- **mounted** (Linux, root, util-linux ``unshare`` and ``mount``): every instance runs in its
  own mount namespace (``unshare --mount --propagation private``) in which ``<root>/opt/ml`` is
  bind-mounted onto ``/opt/ml``. The job sees exactly SageMaker's paths, passed in or
  hard-coded (``base_dir = "/opt/ml/processing"``), and nothing else's: two jobs running at
  once each see their own ``/opt/ml``; the mount is private, so it never shows on the host
  (measured: about 5 ms per instance, an ``unshare`` + ``sh`` + ``mount``).
- **rewritten** (anything else, or ``DUALLOOP_CONTAINER_PATHS=rewrite``): ``/opt/ml`` in the
  command and the environment is rewritten to ``<root>/opt/ml``. A Python job that touches
  ``/opt/ml`` itself (hard-coded in the script) is stopped by an audit hook with one sentence
  saying why and what to do, rather than reading or writing the host's ``/opt/ml``.

``python``/``python3`` as the command is the local interpreter in both modes.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.local_cloud.sagemaker.errors import StepFailure, StepStopped
from shared.polling import NeverHappened, wait_until

LOG = logging.getLogger(__name__)

OPT_ML = "/opt/ml"
MODE_ENV = "DUALLOOP_CONTAINER_PATHS"  # "auto" (default) or "rewrite": force the fallback
_OPT_ML = re.compile(r"(?<![\w.-])/opt/ml(?=/|$|[^\w.-])")
_PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
_POLL_SECONDS = 0.05
_FAILURE_TEXT_LIMIT = 1000
# Binds the instance's root onto /opt/ml inside the new namespace, enters the working dir as
# the job sees it, then becomes the job: $0 = host root, $1 = working dir, "$@" = command.
_MOUNT_SCRIPT = 'mount --bind "$0" /opt/ml && cd "$1" && shift && exec "$@"'
_GUARD_DIR = Path(__file__).resolve().parent / "opt_ml_guard"
GUARD_MARKER = "[dualloop:opt-ml]"


@functools.cache
def _in_private_mount_namespace(unshare: str, script: str) -> list[str]:
    """A shell ``script`` in a mount namespace of its own, so its mounts stay invisible to the host."""
    return [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script]


def mount_namespaces_available() -> bool:
    """Whether jobs can get a private /opt/ml (probed once per process: root, Linux, unshare
    and mount present, /opt/ml creatable, and a namespace actually works here)."""
    if os.environ.get(MODE_ENV, "auto") == "rewrite":
        return False
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    unshare = shutil.which("unshare")
    if not (unshare and shutil.which("mount")):
        return False
    try:
        os.makedirs(OPT_ML, exist_ok=True)  # the mount point; stays empty on the host
        probe = subprocess.run(  # noqa: S603 - fixed command
            _in_private_mount_namespace(unshare, "mount --bind /tmp /opt/ml"),
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    if probe.returncode != 0:
        LOG.info(
            "no private /opt/ml for jobs (%s): rewriting paths", probe.stderr.decode(errors="replace").strip()
        )
    return probe.returncode == 0


@dataclass(frozen=True)
class Instance:
    host: str
    root: Path
    mounted: bool = False

    def path(self, container_path: str) -> Path:
        """Where ``container_path`` is on the host (for the runner's own use)."""
        if not (container_path == OPT_ML or container_path.startswith(OPT_ML + "/")):
            raise StepFailure(f"ClientError: container path {container_path!r} is not under {OPT_ML}")
        return self.root / container_path.lstrip("/")

    def seen(self, container_path: str) -> str:
        """``container_path`` as the job sees it (the path itself when /opt/ml is mounted)."""
        return container_path if self.mounted else str(self.path(container_path))

    def rewrite(self, text: str) -> str:
        if self.mounted:
            return text
        return _OPT_ML.sub(lambda _: str(self.root / "opt" / "ml"), text)


def new_instance(host: str, root: Path) -> Instance:
    """An instance with the best path mode this machine offers."""
    return Instance(host, root, mounted=mount_namespaces_available())


def local_command(command: Sequence[str], instance: Instance, python: str) -> list[str]:
    """The container command as a local one: /opt/ml rewritten (if not mounted), python -> the
    local python."""
    out = [instance.rewrite(str(part)) for part in command]
    if out and _PYTHON.match(str(command[0])):
        out[0] = python
    return out


def base_environment(extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    # The container has its own site-packages: the dualloop package is not importable there.
    env.pop("PYTHONPATH", None)
    env.pop(MODE_ENV, None)
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def isolate(
    command: Sequence[str], env: Mapping[str, str], cwd: Path, instance: Instance
) -> tuple[list[str], dict[str, str], Path]:
    """(command, env, cwd) that run the job with its container paths: wrapped in a private
    mount namespace, or with the /opt/ml guard on the Python path."""
    if instance.mounted:
        root = instance.path(OPT_ML)
        root.mkdir(parents=True, exist_ok=True)
        seen_cwd = cwd
        if cwd == root or root in cwd.parents:
            seen_cwd = Path(OPT_ML) / cwd.relative_to(root)
        wrapped = _in_private_mount_namespace(shutil.which("unshare") or "unshare", _MOUNT_SCRIPT)
        return [*wrapped, str(root), str(seen_cwd), *command], dict(env), cwd
    guarded = dict(env)
    guarded["PYTHONPATH"] = os.pathsep.join(p for p in (str(_GUARD_DIR), env.get("PYTHONPATH")) if p)
    return list(command), guarded, cwd


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
            command, env, cwd = isolate(launch.command, launch.env, launch.cwd, launch.instance)
            with open(log_path, "wb") as log:
                LOG.debug("%s: %s", launch.instance.host, " ".join(command))
                process = subprocess.Popen(  # noqa: S603 - the job's own command, as its container runs it
                    command,
                    cwd=cwd,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            processes.append((launch, process, log_path))

        def ended() -> bool:  # every instance exited, or one failed
            codes = [p.poll() for _, p, _ in processes]
            if all(c is not None for c in codes) or any(c not in (None, 0) for c in codes):
                return True
            if stop.is_set():
                raise StepStopped("stopped")
            return False

        runtime = math.inf if max_runtime_seconds is None else max_runtime_seconds
        try:
            wait_until(ended, what="the job's instances ending", timeout=runtime, interval=_POLL_SECONDS)
        except NeverHappened:
            raise StepFailure(
                f"ClientError: the job exceeded its MaxRuntimeInSeconds ({max_runtime_seconds:g} s)"
            ) from None
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
    log_tail = _tail(result.log_path)
    guarded = [line for line in log_tail.splitlines() if line.startswith(GUARD_MARKER)]
    if guarded:  # the script touched /opt/ml itself and this machine cannot mount it: say so
        return guarded[-1][len(GUARD_MARKER) :].strip()[:_FAILURE_TEXT_LIMIT]
    lines = [line for line in log_tail.splitlines() if line.strip()]
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
