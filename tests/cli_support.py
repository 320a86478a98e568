"""Running ``dualloop`` from a test and judging what it said: one clear sentence, its exit code."""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    seconds: float = 0.0

    @property
    def message(self) -> str:
        """The last line on stderr: the one sentence."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def assert_clean(outcome: Outcome, code: int, message: str) -> None:
    """No traceback; ``message`` is the last line on stderr; the exit code is ``code``."""
    assert "Traceback" not in outcome.err, outcome.err
    assert outcome.message == message, outcome.err
    assert outcome.code == code, outcome.err


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    """``dualloop ARGS`` in this process, through ``shared.cli.main``."""
    from shared import cli

    monkeypatch.setattr(sys, "argv", ["dualloop", *args])
    started = time.monotonic()
    with pytest.raises(SystemExit) as exited:
        cli.main()
    captured = capsys.readouterr()
    code = exited.value.code
    return Outcome(
        code if isinstance(code, int) else 1, captured.out, captured.err, time.monotonic() - started
    )


def own_project(monkeypatch: pytest.MonkeyPatch, prefix: str) -> str:
    """A new project name, set as ``DUALLOOP_PROJECT``, on the local cloud (no target, config
    file or stage from the environment)."""
    project = f"{prefix}-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("DUALLOOP_PROJECT", project)
    for name in ("DUALLOOP_TARGET", "DUALLOOP_CONFIG_FILE", "DUALLOOP_STAGE"):
        monkeypatch.delenv(name, raising=False)
    return project
