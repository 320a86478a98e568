"""Run one of infra's modules in a child process, the config as JSON on its stdin.

The pipeline build (moto resets process-wide backends) and the local cloud's synthesis
(jsii's Node process) must not live in the caller's process: both run
``python -m infra.<module>`` from the repo root, with the repo first on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from shared.config import DualloopConfig

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_SECONDS = 300


def run_module(
    module: str, cfg: DualloopConfig, env: Mapping[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """``python -m <module> <args>`` with ``cfg`` on stdin and ``env`` as its whole environment;
    the caller reads the exit code and the captured output."""
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", module, *args],
        input=cfg.model_dump_json(),
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))},
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
