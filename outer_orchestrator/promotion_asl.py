"""The promotion state machine: the outer loop's own approval and blue/green deployment states.

A stage that receives a promoted package runs no ingest and no pipeline, only the outer loop's
tail: take the stage's lock, wait for the stage's approval (``AwaitApproval``, the same token
store and relay), confirm it, deploy blue/green, poll, record where it serves (or that it was
rolled back), notify, release the lock. Rather than a second copy of those states, the
definition is derived from the outer loop's (``statemachine/definition.py``): every state
reachable from ``AwaitApproval``, plus ``AcquireLock`` and its failure paths, with one new
``PreparePromotion`` state in place of ``PrepareRun``. A fix to the deploy states reaches both
machines; the local cloud and CDK deploy this very text (tests/unit/test_promotion_asl.py).
"""

from __future__ import annotations

import json
from typing import Any

from outer_orchestrator.statemachine.definition import outer_loop_definition

ENTRY = "AwaitApproval"
LOCK = "AcquireLock"
PREPARE = "PreparePromotion"
# A promoted package came through no ingest in this stage: Summarise reports this instead.
NO_INGEST = "none: promoted, not retrained"
# The outer loop's subjects call its execution a retrain; a promotion's execution name
# (promotion-to-<stage>-package-<version>-<id>) says what it is by itself.
RETRAIN_NOUN = ("model from retrain {}", "retrain {}")


def _successors(state: dict[str, Any]) -> list[str]:
    nexts = [state.get("Next"), state.get("Default")]
    nexts += [c.get("Next") for c in state.get("Choices", [])]
    nexts += [c.get("Next") for c in state.get("Catch", [])]
    return [n for n in nexts if n]


def _reachable(states: dict[str, Any], starts: list[str]) -> list[str]:
    seen: list[str] = []
    todo = list(starts)
    while todo:
        name = todo.pop(0)
        if name in seen or name not in states:
            continue
        seen.append(name)
        todo.extend(_successors(states[name]))
    return seen


def promotion_definition(outer_asl: str | None = None) -> str:
    """The promotion state machine's ASL, with the outer loop's ``${...}`` placeholders;
    ``outer_asl`` is the outer loop's expanded ASL (by default, the repository's)."""
    outer = json.loads(outer_asl if outer_asl is not None else outer_loop_definition())
    states: dict[str, Any] = outer["States"]
    lock = json.loads(json.dumps(states[LOCK]))
    if lock.get("Next") != "PrepareRun":
        raise ValueError(f"{LOCK} no longer leads to PrepareRun: update {__name__}")
    lock["Next"] = PREPARE
    derived: dict[str, Any] = {LOCK: lock}
    derived[PREPARE] = {
        "Type": "Pass",
        "Comment": "A promoted package: its settings come with the input; this stage ingests nothing.",
        "Parameters": {"settings.$": "$.settings", "curated_uri": NO_INGEST},
        "ResultPath": "$.run",
        "Next": ENTRY,
    }
    for name in _reachable(states, [ENTRY, *_successors(lock)]):
        if name not in derived:
            derived[name] = _without_retrain_noun(states[name])
    missing = sorted({n for s in derived.values() for n in _successors(s)} - set(derived))
    if missing:
        raise ValueError(f"the promotion definition refers to states it lacks: {missing}")
    return json.dumps(
        {
            "Comment": "dualloop promotion: a package approved in the previous stage, approved and deployed "
            "blue/green here (derived from the outer loop's states).",
            "StartAt": LOCK,
            "States": derived,
        },
        indent=2,
    )


def _without_retrain_noun(state: dict[str, Any]) -> dict[str, Any]:
    """``state``, with a notification subject that names the execution without calling it a retrain."""
    subject = state.get("Parameters", {}).get("Subject.$")
    if not subject:
        return state
    for noun in RETRAIN_NOUN:
        subject = subject.replace(noun, "{}")
    copy: dict[str, Any] = json.loads(json.dumps(state))
    copy["Parameters"]["Subject.$"] = subject
    return copy


def substituted(definition: str, substitutions: dict[str, str]) -> str:
    """``definition`` with every ``${Name}`` replaced, as CDK's ``definition_substitutions`` does."""
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", value)
    if "${" in definition:
        start = definition.index("${")
        raise ValueError(
            f"unsubstituted placeholder in the promotion definition: {definition[start : start + 40]}"
        )
    return definition
