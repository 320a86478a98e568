"""The promotion state machine is derived from the outer loop's ASL, not a copy of it."""

from __future__ import annotations

import json

import pytest

from outer_orchestrator.local_stack import substituted_asl
from outer_orchestrator.promotion_asl import promotion_definition, substituted
from outer_orchestrator.statemachine.definition import outer_loop_document
from shared.config import load_config
from shared.naming import Names


def test_it_takes_the_lock_prepares_and_then_runs_the_outer_loops_own_states() -> None:
    outer = outer_loop_document()["States"]
    derived = json.loads(promotion_definition())
    states = derived["States"]
    assert derived["StartAt"] == "AcquireLock" and states["AcquireLock"]["Next"] == "PreparePromotion"
    assert states["PreparePromotion"]["Next"] == "AwaitApproval"
    # every other state is the outer loop's, byte for byte but for its subject's noun: a fix
    # there reaches promotion too
    for name, state in states.items():
        if name not in ("AcquireLock", "PreparePromotion"):
            subject = state.get("Parameters", {}).pop("Subject.$", None)
            outer_subject = outer[name].get("Parameters", {}).pop("Subject.$", None)
            assert state == outer[name], name
            assert (subject is None) == (outer_subject is None), name
            if subject:
                assert "retrain" not in subject and subject.startswith("States.Format('dualloop: "), subject
    # the deploy, rollback and approval paths are all there; ingest and the pipeline are not
    assert {"ConfirmApproval", "UpdateEndpoint", "MarkDeployed", "MarkRolledBack", "RejectOnTimeout"} <= set(
        states
    )
    assert not {"Ingest", "DataQuality", "RunInnerPipeline", "PrepareRun", "ValidateInput"} & set(states)
    # no transition leads out of the definition
    targets = {
        t
        for s in states.values()
        for t in [
            s.get("Next"),
            s.get("Default"),
            *[c.get("Next") for c in s.get("Choices", []) + s.get("Catch", [])],
        ]
        if t
    }
    assert targets <= set(states)


def test_it_takes_the_outer_loops_placeholders() -> None:
    names = Names(load_config(project="promo-unit", stage="prod"))
    text = substituted(promotion_definition(), names.asl_substitutions())
    assert names.endpoint in text and names.topic_arn in text and "${" not in text
    assert json.loads(substituted_asl(names))  # the outer loop's own still substitutes too
    with pytest.raises(ValueError, match="unsubstituted placeholder"):
        substituted(promotion_definition(), {})


def test_a_changed_lock_state_is_refused_loudly() -> None:
    outer = outer_loop_document()
    outer["States"]["AcquireLock"]["Next"] = "Ingest"
    with pytest.raises(ValueError, match="no longer leads to PrepareRun"):
        promotion_definition(json.dumps(outer))
