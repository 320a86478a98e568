"""``shared.graph``: the outer state machine and the inner pipeline DAG as graphs and pictures.

What this proves: every ASL state is a node and every Next/Default/Choice rule/Catch is one
edge (Catch dashed), on the real ASL file and on a small hand-counted one; the pipeline
definition snapshot gives the executor's step graph with the ConditionStep's If/Else labelled;
the SVG parses and has one box per node, coloured by status; the Mermaid text declares every
node and edge; the PNG is a PNG; the layout keeps boxes and labels apart and routes the
polling loop's back edge; statuses are read right from execution histories and step lists;
the drawing and the one pipeline-definition reader import no loop and no local cloud.
What it cannot prove: that a picture reads well (a person looked at one), nor the histories
of a real run (tests/functional/test_graph_cli.py reads them from the local cloud).
"""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from outer_orchestrator.statemachine.definition import outer_loop_document
from shared.graph import (
    STATUS_STYLES,
    Box,
    Graph,
    Panel,
    Status,
    asl_graph,
    execution_statuses,
    layout,
    mermaid_id,
    panels_to_mermaid,
    panels_to_svg,
    pipeline_graph,
    rule_label,
    step_statuses,
    to_mermaid,
    to_png,
    to_svg,
)

SNAPSHOT = Path(__file__).parent / "snapshots" / "pipeline_definition.json"
SVG = "{http://www.w3.org/2000/svg}"

SMALL_ASL: dict[str, Any] = {
    "StartAt": "Check",
    "States": {
        "Check": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.ok", "BooleanEquals": True, "Next": "Work"},
                {"Variable": "$.n", "NumericGreaterThanEquals": 3, "Next": "Stop"},
            ],
            "Default": "Stop",
        },
        "Work": {
            "Type": "Task",
            "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Catch": [
                {"ErrorEquals": ["Glue.ThrottlingException"], "Next": "Check"},
                {"ErrorEquals": ["States.ALL"], "Next": "Stop"},
            ],
            "Next": "Done",
        },
        "Stop": {"Type": "Fail"},
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return outer_loop_document()


@pytest.fixture(scope="module")
def outer(asl: dict[str, Any]) -> Graph:
    return asl_graph(asl)


@pytest.fixture(scope="module")
def inner() -> Graph:
    return pipeline_graph(json.loads(SNAPSHOT.read_text()))


def _transitions(asl: dict[str, Any]) -> tuple[int, int]:
    """(solid, dashed) transitions, counted straight from the document."""
    solid = dashed = 0
    for state in asl["States"].values():
        solid += len(state.get("Choices", [])) + ("Default" in state) + ("Next" in state)
        dashed += len(state.get("Catch", []))
    return solid, dashed


# ---- graphs -------------------------------------------------------------------------------------------


def test_every_asl_state_is_a_node_and_every_transition_an_edge(asl: dict[str, Any], outer: Graph) -> None:
    assert [n.id for n in outer.nodes] == list(asl["States"])
    solid, dashed = _transitions(asl)
    assert sum(not e.dashed for e in outer.edges) == solid
    assert sum(e.dashed for e in outer.edges) == dashed
    assert outer.start == "ValidateInput"


def test_a_hand_counted_asl() -> None:
    # GIVEN a choice (two rules and a default), a task (Next and two Catches), two ends
    graph = asl_graph(SMALL_ASL)
    # THEN 3 + 1 + 2 edges, the catches dashed, labelled by error (the catch-all unlabelled)
    edges = {(e.source, e.target, e.label, e.dashed) for e in graph.edges}
    assert len(graph.edges) == 6
    assert edges == {
        ("Check", "Work", "ok = true", False),
        ("Check", "Stop", "n ≥ 3", False),
        ("Check", "Stop", "default", False),
        ("Work", "Done", "", False),
        ("Work", "Check", "Throttling", True),
        ("Work", "Stop", "", True),
    }
    assert graph.node("Work").detail == "glue:startJobRun.sync"
    assert graph.node("Stop").terminal and graph.node("Done").terminal


def test_the_outer_loop_edges_name_what_happens(outer: Graph) -> None:
    out_of = {(e.target, e.dashed) for e in outer.edges if e.source == "AwaitApproval"}
    assert out_of == {
        ("ConfirmApproval", False),
        ("RejectOnTimeout", True),
        ("NotifyRejected", True),
        ("NotifyFailure", True),
    }
    labels = {e.label for e in outer.edges if e.source == "QualityPassed"}
    assert labels == {"passed = true", "default"}
    assert outer.node("RunInnerPipeline").detail == "lambda:invoke (callback)"


def test_an_unknown_target_is_refused() -> None:
    with pytest.raises(ValueError, match="Nowhere"):
        asl_graph({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})


def test_rule_labels() -> None:
    assert rule_label({"Variable": "$.a.b", "StringMatches": "x*"}) == "b matches x*"
    assert rule_label({"Variable": "$.n", "NumericLessThanPath": "$.max"}) == "n < max"
    assert rule_label({"Not": {"Variable": "$.x", "IsPresent": True}}) == "not (x present)"
    three = {"And": [{"Variable": f"$.{v}", "IsPresent": True} for v in "abc"]}
    assert rule_label(three) == "a present and 2 more"
    assert rule_label({"Comment": "fresh data", "Variable": "$.x", "IsNull": False}) == "fresh data"


def test_the_pipeline_graph_is_the_executors(inner: Graph) -> None:
    assert [n.id for n in inner.nodes] == [
        "Preprocess",
        "Train",
        "Evaluate",
        "CheckQuality",
        "RegisterModel",
        "QualityGateFailed",
    ]
    branches = {(e.source, e.target, e.label) for e in inner.edges if e.label}
    assert branches == {
        ("CheckQuality", "RegisterModel", "If"),
        ("CheckQuality", "QualityGateFailed", "Else"),
    }
    main = {(e.source, e.target) for e in inner.edges if not e.faint}
    assert {("Preprocess", "Train"), ("Train", "Evaluate"), ("Evaluate", "CheckQuality")} <= main
    # Data dependencies a longer path already implies are kept, drawn faint.
    assert ("Preprocess", "RegisterModel") in {(e.source, e.target) for e in inner.edges if e.faint}
    assert inner.node("Train").detail == "Training · cache on"


# ---- pictures -----------------------------------------------------------------------------------------


def _boxes(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    groups = root.iter(f"{SVG}g")
    return {g.get("data-id", ""): g for g in groups if g.get("class") == "node"}


def test_the_svg_parses_and_has_one_box_per_node(outer: Graph) -> None:
    svg = to_svg(outer)
    root = ET.fromstring(svg)
    rects = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "node"]
    assert len(rects) == len(outer.nodes)
    assert set(_boxes(svg)) == {n.id for n in outer.nodes}
    edges = [p for p in root.iter(f"{SVG}polyline") if p.get("class") == "edge"]
    assert len(edges) == len(outer.edges)
    assert sum(p.get("stroke-dasharray") is not None for p in edges) == _transitions(outer_loop_document())[1]


def test_statuses_colour_the_boxes(inner: Graph) -> None:
    statuses = {"Preprocess": Status.CACHED, "Train": Status.SUCCEEDED, "Evaluate": Status.FAILED}
    boxes = _boxes(to_svg(inner, statuses))
    fill = {i: g.find(f"{SVG}rect").get("fill") for i, g in boxes.items()}  # type: ignore[union-attr]
    assert fill["Train"] == STATUS_STYLES[Status.SUCCEEDED].fill
    assert fill["Preprocess"] == STATUS_STYLES[Status.CACHED].fill
    assert fill["Evaluate"] == STATUS_STYLES[Status.FAILED].fill
    assert fill["RegisterModel"] == STATUS_STYLES[Status.NOT_VISITED].fill
    assert boxes["RegisterModel"].get("data-status") == "not visited"


def test_two_panels_side_by_side(outer: Graph, inner: Graph) -> None:
    svg = panels_to_svg([Panel(outer), Panel(inner, {"Train": Status.SUCCEEDED}, caption="run-1")])
    root = ET.fromstring(svg)
    panels = [g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"]
    assert [p.get("data-title") for p in panels] == [outer.title, inner.title]
    assert len(_boxes(svg)) == len(outer.nodes) + len(inner.nodes)
    assert "run-1" in svg


def test_mermaid_declares_every_node_and_edge(outer: Graph) -> None:
    text = to_mermaid(outer, {"ValidateInput": Status.SUCCEEDED})
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    for node in outer.nodes:
        assert any(re.match(rf"\s+{node.id}[\[\{{(]", line) for line in lines), node.id
    arrows = [line for line in lines if re.search(r" (-->|-\.->)(\|.*\|)? ", line)]
    assert len(arrows) == len(outer.edges)
    assert sum("-.->" in line for line in arrows) == sum(e.dashed for e in outer.edges)
    assert "    ValidateInput{" in text and "    Done([" in text  # a choice and an end
    assert re.search(r"class ValidateInput succeeded", text)
    assert "classDef succeeded fill:" in text


def test_mermaid_panels_are_subgraphs_with_their_own_ids(outer: Graph, inner: Graph) -> None:
    text = panels_to_mermaid([Panel(outer), Panel(inner)])
    assert text.startswith("flowchart TD\n")
    assert text.count("    subgraph ") == 2 and text.count("\n    end\n") == 2
    assert "outer_Ingest[" in text and "inner_CheckQuality{" in text
    assert 'inner_CheckQuality -->|"If"| inner_RegisterModel' in text


def test_mermaid_ids_avoid_reserved_words() -> None:
    assert mermaid_id("end") == "end_"
    assert mermaid_id("a-b.c") == "a_b_c"


def test_the_png_is_a_png(inner: Graph, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "inner.png"
    to_png(inner, path, {"Preprocess": Status.SUCCEEDED})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- layout -------------------------------------------------------------------------------------------


def _apart(a: Box, b: Box) -> bool:
    return (
        a.left + a.width <= b.left
        or b.left + b.width <= a.left
        or a.top + a.height <= b.top
        or b.top + b.height <= a.top
    )


@pytest.mark.parametrize("which", ["outer", "inner"])
def test_boxes_and_labels_do_not_overlap(which: str, request: pytest.FixtureRequest) -> None:
    graph: Graph = request.getfixturevalue(which)
    placed = layout(graph)
    boxes = list(placed.boxes.values())
    labels = [r.label_box for r in placed.edges if r.label_box is not None]
    assert len(labels) == sum(1 for e in graph.edges if e.label)
    for a, b in combinations(boxes + labels, 2):
        assert _apart(a, b), (a, b)
    assert all(b.left >= 0 and b.left + b.width <= placed.width for b in boxes)


def test_every_edge_is_routed_from_source_to_target(outer: Graph) -> None:
    placed = layout(outer)
    for routed in placed.edges:
        source, target = placed.boxes[routed.edge.source], placed.boxes[routed.edge.target]
        (x0, y0), (x1, y1) = routed.points[0], routed.points[-1]
        assert source.left <= x0 <= source.left + source.width
        assert target.left <= x1 <= target.left + target.width
        assert y0 in (source.top, source.top + source.height)
        assert y1 in (target.top, target.top + target.height)
    # The polling loop closes a cycle: its back edge runs upwards.
    back = next(r for r in placed.edges if (r.edge.source, r.edge.target) == ("CountPoll", "WaitForEndpoint"))
    assert back.points[-1][1] < back.points[0][1]
    # Layers follow the main path downwards.
    assert placed.boxes["ValidateInput"].y < placed.boxes["Ingest"].y < placed.boxes["Done"].y


# ---- statuses -----------------------------------------------------------------------------------------


def _entered(name: str, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name}}


def _exited(name: str, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateExited", "stateExitedEventDetails": {"name": name}}


def test_statuses_from_an_execution_history() -> None:
    events = [
        {"type": "ExecutionStarted"},
        _entered("ValidateInput", "Choice"),
        _exited("ValidateInput", "Choice"),
        _entered("Ingest"),
        {"type": "TaskScheduled"},
        {"type": "TaskFailed"},  # retried ...
        {"type": "TaskScheduled"},
        {"type": "TaskSucceeded"},  # ... and then fine
        _exited("Ingest"),
        _entered("DataQuality"),
        {"type": "TaskScheduled"},
        {"type": "TaskFailed"},  # caught: on to NotifyFailure
        _entered("NotifyFailure"),
        {"type": "TaskScheduled"},
        {"type": "TaskSucceeded"},
        _exited("NotifyFailure"),
        _entered("Failed", "Fail"),
        {"type": "ExecutionFailed"},
    ]
    assert execution_statuses(events) == {
        "ValidateInput": Status.SUCCEEDED,
        "Ingest": Status.SUCCEEDED,
        "DataQuality": Status.FAILED,
        "NotifyFailure": Status.SUCCEEDED,
        "Failed": Status.FAILED,
    }


def test_a_running_execution_shows_the_state_it_is_in() -> None:
    events = [_entered("RunInnerPipeline"), {"type": "TaskScheduled"}, {"type": "TaskSubmitted"}]
    assert execution_statuses(events) == {"RunInnerPipeline": Status.ENTERED}


def test_a_timed_out_task_failed() -> None:
    events = [_entered("AwaitApproval"), {"type": "TaskTimedOut"}, _entered("RejectOnTimeout")]
    assert execution_statuses(events)["AwaitApproval"] == Status.FAILED


def test_statuses_from_pipeline_steps() -> None:
    steps: list[dict[str, Any]] = [
        {
            "StepName": "Preprocess",
            "StepStatus": "Succeeded",
            "CacheHitResult": {"SourcePipelineExecutionArn": "x"},
        },
        {"StepName": "Train", "StepStatus": "Succeeded"},
        {"StepName": "Evaluate", "StepStatus": "Executing"},
        {"StepName": "CheckQuality", "StepStatus": "Failed"},
    ]
    assert step_statuses(steps) == {
        "Preprocess": Status.CACHED,
        "Train": Status.SUCCEEDED,
        "Evaluate": Status.ENTERED,
        "CheckQuality": Status.FAILED,
    }


# ---- one reader, no loop -----------------------------------------------------------------------


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_drawing_and_the_definition_reader_import_no_loop_and_no_local_cloud() -> None:
    # GIVEN the drawing package and the one pipeline-definition reader
    root = Path(__file__).parents[2] / "shared"
    files = [*sorted((root / "graph").glob("*.py")), root / "pipeline_graph.py"]
    forbidden = ("shared.local_cloud", "inner_pipeline", "outer_orchestrator", "moto")
    # WHEN their imports are read (inside functions too)
    offending = {
        f"{path.relative_to(root.parent)}: {module}"
        for path in files
        for module in _imported_modules(path)
        if module.startswith(forbidden)
    }
    # THEN drawing or reading a pipeline needs no loop and starts no AWS twin
    assert len(files) > 5
    assert offending == set()
