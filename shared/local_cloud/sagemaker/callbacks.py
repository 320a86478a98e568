"""The callback tokens that Callback steps wait on, and how answers reach them.

A Callback step registers its token here before it sends the SQS message; the SageMaker API
(``SendPipelineExecutionStepSuccess`` / ``...Failure``, added to moto by
``patches/sagemaker_callback_steps.py``) answers through ``answer``. No moto here: the
executor imports this module, the patch imports it too.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Answer:
    succeeded: bool
    output_parameters: Mapping[str, str] = field(default_factory=dict)
    failure_reason: str | None = None


@dataclass
class _Waiter:
    execution_arn: str
    event: threading.Event = field(default_factory=threading.Event)
    answer: Answer | None = None


class UnknownCallbackToken(LookupError):
    """No Callback step is waiting on this token (never issued, or already answered)."""


_lock = threading.Lock()
_waiters: dict[str, _Waiter] = {}


def register(token: str, execution_arn: str) -> None:
    with _lock:
        _waiters[token] = _Waiter(execution_arn)


def answer(token: str, result: Answer) -> str:
    """Deliver ``result`` to the step waiting on ``token``; returns its execution ARN."""
    with _lock:
        waiter = _waiters.get(token)
        if waiter is None or waiter.answer is not None:
            raise UnknownCallbackToken(token)
        waiter.answer = result
    waiter.event.set()
    return waiter.execution_arn


def wait(token: str, stop: threading.Event, timeout: float) -> Answer | None:
    """The answer, or None if ``stop`` was set or ``timeout`` wall seconds passed."""
    with _lock:
        waiter = _waiters[token]
    deadline_step = 0.05
    waited = 0.0
    try:
        while not waiter.event.wait(deadline_step):
            waited += deadline_step
            if stop.is_set() or waited >= timeout:
                return None
        return waiter.answer
    finally:
        with _lock:
            _waiters.pop(token, None)
