"""Addition: a Standard execution that ends emits ``Step Functions Execution Status Change``.

On AWS every Standard workflow execution's status change reaches EventBridge (source
``aws.states``; detail ``executionArn``, ``stateMachineArn``, ``name``, ``status``,
``startDate``/``stopDate`` in epoch milliseconds, ``input``, ``output`` (null unless it
succeeded), ``error``/``cause``). moto 5.2.5 emits none, so nothing can react to an execution
that ended without running its own clean-up (StopExecution, a state-machine timeout, a
service error). Here the end of an execution — SUCCEEDED, FAILED, TIMED_OUT or ABORTED —
emits the event once, from the interpreter's own termination hook
(``BaseExecutionWorkerCommunication.terminated``): for SUCCEEDED, FAILED and ABORTED after
the last state has finished, so a consumer never races a state that was still running (a
state-machine timeout ends the execution while its state may still run, as on AWS). ``RUNNING`` is not emitted (nothing
here consumes it), nor are Express executions' changes (AWS emits none for them).

StopExecution had two gaps, both closed here so that a stopped execution ends ABORTED
within moments, as on AWS, and no state runs after the stop:
- a task parked on ``.waitForTaskToken`` kept waiting until its own timeout (the execution
  stayed RUNNING, emitting nothing, for up to that timeout): ``Execution.stop`` also
  interrupts the execution's pending callbacks (moto's own ``interrupt_all``);
- the task that was running when the stop came then fails (an interrupted wait, a ``.sync``
  poll that returns nothing), and the interpreter's ``set_error`` overwrote the stop, so the
  execution ended FAILED with ``States.Runtime``: a stop is final here, as on AWS
  (``Environment.set_error`` and ``set_timed_out`` leave a stopped program stopped).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.backend.state_machine import StateMachineVersion

from shared.local_cloud import events
from shared.local_cloud.patches import Patch, original

LOG = logging.getLogger(__name__)

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
_EMITTED = "_dualloop_status_event_emitted"


PATCH = Patch(__name__)


def _millis(t: datetime | None) -> int | None:
    if t is None:
        return None
    return int((t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp() * 1000)


def status_change_detail(execution: Execution) -> dict[str, Any]:
    """The event's detail, in AWS's field names, for ``execution`` as it stands."""
    machine = execution.state_machine
    machine_arn = machine.source_arn if isinstance(machine, StateMachineVersion) else machine.arn
    status = execution.exec_status.value if execution.exec_status is not None else None
    succeeded = status == "SUCCEEDED"
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": machine_arn,
        "name": execution.name,
        "status": status,
        "startDate": _millis(execution.start_date),
        "stopDate": _millis(execution.stop_date),
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "inputDetails": {"included": True},
        # default=str: an output holding dates (moto keeps them as datetimes) still goes out.
        "output": json.dumps(execution.output, separators=(",", ":"), default=str) if succeeded else None,
        "outputDetails": {"included": True} if succeeded else None,
        "error": execution.error,
        "cause": execution.cause,
    }


def emit_status_change(execution: Execution) -> str:
    """Put the execution's status change on its account's default bus; returns the event id."""
    return events.emit(
        SOURCE,
        DETAIL_TYPE,
        status_change_detail(execution),
        resources=[execution.exec_arn],
        account_id=execution.account_id,
        region=execution.region_name,
    )


@PATCH.replaces(BaseExecutionWorkerCommunication, "terminated", "360372a6a57bf99b")
def _terminated(self: BaseExecutionWorkerCommunication) -> None:
    original(BaseExecutionWorkerCommunication, "terminated")(self)
    execution = self.execution
    if execution.sm_type != "STANDARD" or getattr(execution, _EMITTED, False):
        return
    setattr(execution, _EMITTED, True)
    try:
        emit_status_change(execution)
    except Exception:
        # The execution has ended either way: a delivery problem must not break the interpreter.
        LOG.exception("could not emit the status change of %s", execution.exec_arn)


@PATCH.replaces(Execution, "stop", "16663c65db9a2f96")
def _stop(self: Execution, stop_date: datetime, error: str | None, cause: str | None) -> None:
    original(Execution, "stop")(self, stop_date, error, cause)
    env = self.exec_worker.env if self.exec_worker is not None else None
    if env is None:
        return
    # Frames share the execution's pool: this reaches every task waiting for a token.
    for endpoint in list(env.callback_pool_manager._pool.values()):
        endpoint.interrupt_all()


@PATCH.replaces(Environment, "set_error", "6447409d405612c0")
def _set_error(self: Environment, error: Any) -> None:
    with self._state_mutex:  # an RLock: moto's method takes it again
        if isinstance(self._program_state, ProgramStopped):
            return  # aborted is final: what failed after the stop is the stop's doing
        original(Environment, "set_error")(self, error)


@PATCH.replaces(Environment, "set_timed_out", "853b04bf9e6a7db4")
def _set_timed_out(self: Environment) -> None:
    with self._state_mutex:
        if isinstance(self._program_state, ProgramStopped):
            return
        original(Environment, "set_timed_out")(self)
