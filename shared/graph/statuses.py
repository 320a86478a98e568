"""Overlays: each node's status from a Step Functions history or a pipeline execution's step list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.graph.model import Status


def execution_statuses(events: Iterable[Mapping[str, Any]]) -> dict[str, Status]:
    """Each state's status from a Step Functions execution history (``get_execution_history``
    events, oldest first). A state entered more than once shows its last visit; a task that
    failed and was caught is failed; one that failed and then succeeded on retry succeeded."""
    statuses: dict[str, Status] = {}
    current: str | None = None  # the state entered and not yet exited (no Parallel/Map here)
    for event in events:
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            current = str(event["stateEnteredEventDetails"]["name"])
            statuses[current] = Status.FAILED if kind == "FailStateEntered" else Status.ENTERED
        elif kind.endswith("StateExited"):
            name = str(event["stateExitedEventDetails"]["name"])
            if statuses.get(name) != Status.FAILED:
                statuses[name] = Status.SUCCEEDED
            current = None
        elif current is None:
            continue
        elif kind.startswith("Execution"):
            if kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
                statuses[current] = Status.FAILED
        elif kind.endswith(("Failed", "TimedOut", "StartFailed", "SubmitFailed")):
            statuses[current] = Status.FAILED
        elif kind.endswith(("Scheduled", "Started", "Submitted")) and statuses[current] == Status.FAILED:
            statuses[current] = Status.ENTERED  # a retry
    return statuses


_STEP_STATUSES = {
    "Starting": Status.ENTERED,
    "Executing": Status.ENTERED,
    "Stopping": Status.ENTERED,
    "Succeeded": Status.SUCCEEDED,
    "Failed": Status.FAILED,
    "Stopped": Status.FAILED,
}


def step_statuses(steps: Iterable[Mapping[str, Any]]) -> dict[str, Status]:
    """Each step's status from ``list_pipeline_execution_steps`` (oldest first: the newest
    record of a step wins). A step that was not executed is not listed: not visited."""
    statuses: dict[str, Status] = {}
    for step in steps:
        status = _STEP_STATUSES.get(str(step.get("StepStatus")), Status.ENTERED)
        if status == Status.SUCCEEDED and step.get("CacheHitResult"):
            status = Status.CACHED
        statuses[str(step["StepName"])] = status
    return statuses
