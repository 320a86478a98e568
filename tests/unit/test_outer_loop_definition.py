"""The outer loop's ASL is expanded from one source that declares each retry policy once.

What this proves: the expanded definition is the snapshot (the ASL every stack deploys, shown
in full for review); the source repeats no retrier, catcher or template; the expansion refuses
a name it cannot resolve, a declaration nobody uses and a template field a state redefines,
and leaves plain ASL as it is. What it cannot prove: that the ASL is valid and runs; the
asl-validator test (tests/infra/test_infra_outer_loop.py) and the e2e retrains do.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from outer_orchestrator.statemachine.definition import (
    CATCHERS,
    RETRIERS,
    SOURCE,
    TEMPLATE,
    TEMPLATES,
    DefinitionError,
    expand,
    outer_loop_definition,
)

SNAPSHOT = Path(__file__).parent / "snapshots" / "outer_loop.asl.json"
REFRESH = "UPDATE_SNAPSHOTS=1 pytest tests/unit/test_outer_loop_definition.py"

_RETRIER = {"ErrorEquals": ["S3.S3Exception"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}
_TINY: dict[str, Any] = {
    RETRIERS: {"S3TransientErrors": _RETRIER},
    CATCHERS: {"AnyErrorFails": {"ErrorEquals": ["States.ALL"], "Next": "Failed"}},
    TEMPLATES: {"GetObject": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject"}},
    "StartAt": "Read",
    "States": {
        "Read": {
            TEMPLATE: "GetObject",
            "Parameters": {"Bucket": "b", "Key": "k"},
            "Retry": ["S3TransientErrors"],
            "Catch": ["AnyErrorFails"],
            "End": True,
        },
        "Failed": {"Type": "Fail"},
    },
}


def _source() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SOURCE.read_text())
    return document


def test_the_expanded_definition_is_the_snapshot() -> None:
    # GIVEN the source, WHEN it is expanded, THEN the result is the reviewed snapshot, byte for byte
    actual = outer_loop_definition()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(actual)
    expected = SNAPSHOT.read_text()
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            "tests/unit/snapshots/outer_loop.asl.json",
            "expanded from outer_orchestrator/statemachine/outer_loop.asl.json",
        )
    )
    if actual != expected:
        pytest.fail(f"the deployed ASL changed; review the diff, then run {REFRESH}\n{diff}", pytrace=False)


def test_the_source_writes_no_retrier_catcher_or_template_twice() -> None:
    # GIVEN the source, THEN every Retry item is a declared name, no declaration repeats another,
    # and no inline Catch item copies a declared catcher
    source = _source()
    retriers, catchers = source[RETRIERS], source[CATCHERS]
    states = list(source["States"].values()) + list(source[TEMPLATES].values())
    inline_retriers = [r for s in states for r in s.get("Retry", []) if not isinstance(r, str)]
    assert inline_retriers == [], "declare the retrier once in x-retriers and name it"
    inline_catchers = [c for s in states for c in s.get("Catch", []) if not isinstance(c, str)]
    assert [c for c in inline_catchers if c in catchers.values()] == []
    for section in (retriers, catchers, source[TEMPLATES]):
        bodies = [json.dumps(v, sort_keys=True) for v in section.values()]
        assert len(bodies) == len(set(bodies)), "two names for one declaration"


def test_names_templates_and_inline_items_expand_to_plain_asl() -> None:
    # GIVEN a state that names a template, a retrier and a catcher, WHEN expanded,
    # THEN it is the template's fields plus its own, with the declarations in place of the names
    expanded = expand(copy.deepcopy(_TINY))
    assert set(expanded) == {"StartAt", "States"}
    assert expanded["States"]["Read"] == {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": "b", "Key": "k"},
        "Retry": [_RETRIER],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
        "End": True,
    }
    # ... and plain ASL (a deployed definition, say) comes back unchanged, x- payload keys and all
    expanded["States"]["Read"]["Parameters"]["Headers"] = {"x-api-key": "k"}
    assert expand(copy.deepcopy(expanded)) == expanded


def test_a_template_merges_objects_key_by_key() -> None:
    # GIVEN a template with part of the Parameters, WHEN a state adds the rest, THEN both are there
    document = copy.deepcopy(_TINY)
    document[TEMPLATES]["GetObject"]["Parameters"] = {"Bucket": "b"}
    document["States"]["Read"]["Parameters"] = {"Key": "k"}
    assert expand(document)["States"]["Read"]["Parameters"] == {"Bucket": "b", "Key": "k"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["States"]["Read"].update(Retry=["S3Throttling"]),
            "names 'S3Throttling', which x-retriers",
        ),
        (lambda d: d["States"]["Read"].update(Catch=["Oops"]), "names 'Oops', which x-catchers"),
        (lambda d: d["States"]["Read"].update({TEMPLATE: "PutObject"}), "no template 'PutObject'"),
        (lambda d: d[RETRIERS].update(Unused=_RETRIER), r"never used.*x-retriers.Unused"),
        (
            lambda d: d["States"]["Read"].update(Resource="arn:aws:states:::s3:getObject"),
            "Resource is already set",
        ),
        (lambda d: d["States"]["Read"].update(Retry="S3TransientErrors"), "Retry must be a list"),
        (lambda d: d["States"]["Read"].update(Retry=[3]), "an object or a name, not 3"),
        (lambda d: d.update({"x-policies": {}}), r"unknown top-level section\(s\) \['x-policies'\]"),
        (lambda d: d[TEMPLATES]["GetObject"].update({TEMPLATE: "GetObject"}), r"left after.*Read.x-template"),
        (lambda d: d["States"]["Read"].update({"x-templat": "GetObject"}), r"left after.*Read.x-templat"),
    ],
)
def test_a_source_the_expansion_cannot_honour_is_refused(change: Any, message: str) -> None:
    # GIVEN a source with one mistake, WHEN expanded, THEN the error names the mistake and where
    document = copy.deepcopy(_TINY)
    change(document)
    with pytest.raises(DefinitionError, match=message):
        expand(document)
