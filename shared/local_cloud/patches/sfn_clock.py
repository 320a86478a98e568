"""The local clock in the ASL interpreter: Wait states, Retry intervals, ``.sync`` polling
and task timeouts all pass at ``shared.local_cloud.clock.factor()`` times wall speed.

moto waits in real time: ``WaitFunction._wait_interval`` (and it re-enters on fractional
seconds, so it cannot simply be handed a scaled number), ``time.sleep`` in the retrier,
the module constant ``_DELAY_SECONDS_SYNC_CONDITION_CHECK`` (0.5 s) for ``.sync`` polls,
and ``Timeout._eval_body`` for ``TimeoutSeconds``/``TimeoutSecondsPath``.
"""

from __future__ import annotations

import time
import types
from typing import Any

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import Timeout
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as callback_module,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from shared.local_cloud import clock
from shared.local_cloud.patches import Patch, replace

SYNC_POLL_SECONDS = 0.5  # moto's own period, in AWS time


PATCH = Patch(__name__)
PATCH.pins(retrier_decl.RetrierDecl, "_eval_body", "48463fff19cefa98")  # sleeps via the module's time


@PATCH.replaces(WaitFunction, "_wait_interval", "8f954dee80372b4b")
def _wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
    deadline = time.monotonic() + clock.scaled(wait_seconds)
    while env.is_running():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        # Set when the execution stops; then is_running() turns false and we return.
        env.program_state_event.wait(min(remaining, 0.05))


@PATCH.replaces(Timeout, "_eval_body", "5c5f336e8ba14d64")
def _timeout_eval_body(self: Any, env: Any) -> None:
    seconds = self._eval_seconds(env=env)
    env.stack.append(seconds if self.is_default_value() else clock.scaled(seconds))


def _sleep(seconds: float) -> None:
    time.sleep(clock.scaled(seconds))


class _SyncPollPeriod(float):
    """Read by ``_eval_sync`` at call time; follows the clock factor as it changes."""


def apply() -> None:
    replace(
        retrier_decl, "time", types.SimpleNamespace(sleep=_sleep, time=time.time, monotonic=time.monotonic)
    )
    set_sync_poll()


def set_sync_poll() -> None:
    """``.sync`` poll period in wall seconds for the current factor (call after set_factor)."""
    callback_module._DELAY_SECONDS_SYNC_CONDITION_CHECK = clock.scaled(SYNC_POLL_SECONDS)  # type: ignore[misc]
