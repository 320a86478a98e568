"""Pictures of both loops: the outer state machine and the inner pipeline DAG.

``asl_graph`` reads an ASL document (states; Next, Default, Choices and Catch edges) and
``pipeline_graph`` a pipeline definition (the step graph the local executor runs, so the
picture shows what runs). Either renders as Mermaid text for docs (``to_mermaid``), or as a
picture laid out here in pure Python (``to_svg``; ``to_png`` draws the same layout with
matplotlib), optionally with an execution's statuses overlaid as colours.

The layout is the classic layered (Sugiyama) one, small enough to read: cycles broken by
reversing DFS back edges, longest-path layering, dummy nodes on long edges so they route
between boxes, barycentre ordering sweeps (kept when they cut crossings), then x positions
by weighted isotonic regression (as close to the neighbours' barycentre as the order and
spacing allow). No Graphviz: its binary is not installable everywhere.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

# ---- the graph --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    id: str
    kind: str  # the ASL state Type or the pipeline step Type
    detail: str = ""  # the second line of the box: the service action, the step type
    terminal: bool = False  # Succeed/Fail: drawn as a pill


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False  # a Catch: the error path
    faint: bool = False  # implied by a longer path (pipeline data dependencies)


@dataclass(frozen=True)
class Graph:
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    start: str | None = None

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)


class Status(StrEnum):
    NOT_VISITED = "not visited"
    ENTERED = "entered"
    SUCCEEDED = "succeeded"
    CACHED = "cache hit"
    FAILED = "failed"


Statuses = Mapping[str, Status]


@dataclass(frozen=True)
class Style:
    fill: str
    stroke: str
    text: str = "#212529"


NEUTRAL = Style("#f1f3f5", "#495057")
STATUS_STYLES: dict[Status, Style] = {
    Status.NOT_VISITED: Style("#ffffff", "#ced4da", "#adb5bd"),
    Status.ENTERED: Style("#fff3bf", "#e67700"),
    Status.SUCCEEDED: Style("#d3f9d8", "#2b8a3e"),
    Status.CACHED: Style("#d0ebff", "#1971c2"),
    Status.FAILED: Style("#ffe3e3", "#c92a2a"),
}
EDGE_COLOUR, CATCH_COLOUR, FAINT_COLOUR = "#495057", "#e03131", "#ced4da"


def style_of(node_id: str, statuses: Statuses | None) -> Style:
    if statuses is None:
        return NEUTRAL
    return STATUS_STYLES[statuses.get(node_id, Status.NOT_VISITED)]


# ---- from ASL -----------------------------------------------------------------------------------------

_OPERATORS = {
    "Equals": "=",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "≤",
    "GreaterThanEquals": "≥",
    "Matches": "matches",
}
_TESTS = {"IsPresent": "present", "IsNull": "null", "IsNumeric": "numeric", "IsString": "a string"}
_TESTS |= {"IsBoolean": "a boolean", "IsTimestamp": "a timestamp"}
LABEL_CHARS = 34


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path_tail(path: Any) -> str:
    return str(path).removeprefix("$.").removeprefix("$").rsplit(".", 1)[-1] or "$"


def rule_label(rule: Mapping[str, Any]) -> str:
    """A Choice rule in a few words: ``passed = true``, ``raw_uri present and 3 more``."""
    if rule.get("Comment"):
        return str(rule["Comment"])
    for key, joiner in (("And", " and "), ("Or", " or ")):
        if key in rule:
            parts = [rule_label(r) for r in rule[key]]
            return f"{parts[0]}{joiner}{len(parts) - 1} more" if len(parts) > 2 else joiner.join(parts)
    if "Not" in rule:
        return f"not ({rule_label(rule['Not'])})"
    if "Condition" in rule:  # JSONata
        return str(rule["Condition"]).strip("{%} ")
    variable = _path_tail(rule.get("Variable", "$"))
    for key, value in rule.items():
        if key in _TESTS:
            return f"{variable} {'' if value else 'not '}{_TESTS[key]}"
        for suffix, symbol in _OPERATORS.items():
            for kind in ("String", "Numeric", "Boolean", "Timestamp"):
                if key == f"{kind}{suffix}":
                    return f"{variable} {symbol} {_json_value(value)}"
                if key == f"{kind}{suffix}Path":
                    return f"{variable} {symbol} {_path_tail(value)}"
    return variable


def _json_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _error_label(errors: Sequence[str]) -> str:
    """``DynamoDB.ConditionalCheckFailedException`` reads as ``ConditionalCheckFailed``; the
    catch-all is left unlabelled (the dashed line says "on error")."""
    names = [e.rsplit(".", 1)[-1].removesuffix("Exception") for e in errors if e != "States.ALL"]
    return ", ".join(names)


def _resource_detail(resource: str) -> str:
    action = resource.removeprefix("arn:aws:states:::").removeprefix("aws-sdk:")
    if action.endswith(".waitForTaskToken"):
        return action.removesuffix(".waitForTaskToken") + " (callback)"
    if resource.startswith("arn:aws:lambda:"):
        return "lambda"
    return action


def asl_graph(asl: Mapping[str, Any], title: str = "Outer loop · Step Functions") -> Graph:
    """The top-level states of an ASL document and their transitions.

    One edge per Next, per Choice rule, per Default and per Catch (dashed); two transitions
    between the same states stay two edges. Branches inside Parallel/Map states are not drawn.
    """
    states: Mapping[str, Mapping[str, Any]] = asl["States"]
    nodes: list[Node] = []
    edges: list[Edge] = []
    for name, state in states.items():
        kind = str(state.get("Type", "?"))
        detail = _resource_detail(str(state["Resource"])) if kind == "Task" and "Resource" in state else kind
        nodes.append(Node(name, kind, detail, terminal=kind in ("Succeed", "Fail")))
        for rule in state.get("Choices", []):
            edges.append(Edge(name, rule["Next"], _short(rule_label(rule))))
        if "Default" in state:
            edges.append(Edge(name, state["Default"], "default"))
        if "Next" in state:
            edges.append(Edge(name, state["Next"]))
        for catch in state.get("Catch", []):
            edges.append(Edge(name, catch["Next"], _short(_error_label(catch["ErrorEquals"])), dashed=True))
    unknown = sorted({e.target for e in edges} - set(states))
    if unknown:
        raise ValueError(f"transitions to unknown state(s): {', '.join(unknown)}")
    return Graph(title, tuple(nodes), tuple(edges), start=asl.get("StartAt"))


# ---- from a pipeline definition ---------------------------------------------------------------------


def pipeline_graph(definition: Mapping[str, Any], title: str = "Inner loop · SageMaker Pipeline") -> Graph:
    """The steps of a pipeline definition and their dependencies, as the local executor reads
    them: DependsOn, data dependencies (``Get``/``JsonGet``), and a ConditionStep's If/Else
    branches (labelled). A data dependency already implied by a longer path is drawn faint."""
    from shared.local_cloud.sagemaker.graph import PipelineGraph

    steps = PipelineGraph.from_definition(definition)
    nodes = []
    for step in steps.nodes.values():
        cached = bool((step.spec.get("CacheConfig") or {}).get("Enabled"))
        detail = step.type + (" · cache on" if cached else "")
        nodes.append(Node(step.name, step.type, detail, terminal=step.type == "Fail"))
    pairs = [(dep, step.name) for step in steps.nodes.values() for dep in sorted(step.depends_on)]
    edges = []
    for source, target in pairs:
        branch = steps.nodes[target].branch
        if branch is not None and branch.condition == source:
            edges.append(Edge(source, target, "If" if branch.outcome else "Else"))
        else:
            edges.append(Edge(source, target, faint=_reachable(pairs, source, target, skip=(source, target))))
    start = next(iter(steps.nodes), None)
    return Graph(title, tuple(nodes), tuple(edges), start=start)


def _reachable(pairs: Sequence[tuple[str, str]], source: str, target: str, skip: tuple[str, str]) -> bool:
    frontier, seen = [source], {source}
    while frontier:
        here = frontier.pop()
        for a, b in pairs:
            if a == here and (a, b) != skip and b not in seen:
                if b == target:
                    return True
                seen.add(b)
                frontier.append(b)
    return False


# ---- statuses -----------------------------------------------------------------------------------------


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


# ---- Mermaid ------------------------------------------------------------------------------------------

_MERMAID_RESERVED = {"end", "graph", "subgraph", "flowchart", "style", "class", "classdef", "click"}
_MERMAID_RESERVED |= {"linkstyle", "default", "direction"}


def mermaid_id(node_id: str, prefix: str = "") -> str:
    safe = prefix + "".join(c if c.isalnum() or c == "_" else "_" for c in node_id)
    return safe + "_" if safe.lower() in _MERMAID_RESERVED else safe


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("|", "#124;") + '"'


def _mermaid_lines(graph: Graph, statuses: Statuses | None, prefix: str, indent: str) -> list[str]:
    lines = []
    for node in graph.nodes:
        label = _mermaid_text(node.id)
        if node.kind in ("Choice", "Condition"):
            shape = "{" + label + "}"
        elif node.terminal:
            shape = "([" + label + "])"
        else:
            shape = "[" + label + "]"
        lines.append(f"{indent}{mermaid_id(node.id, prefix)}{shape}")
    for edge in graph.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f"|{_mermaid_text(edge.label)}|" if edge.label else ""
        lines.append(
            f"{indent}{mermaid_id(edge.source, prefix)} {arrow}{label} {mermaid_id(edge.target, prefix)}"
        )
    if statuses is not None:
        by_status: dict[Status, list[str]] = {}
        for node in graph.nodes:
            by_status.setdefault(statuses.get(node.id, Status.NOT_VISITED), []).append(
                mermaid_id(node.id, prefix)
            )
        for status, ids in by_status.items():
            lines.append(f"{indent}class {','.join(ids)} {_status_class(status)}")
    return lines


def _status_class(status: Status) -> str:
    return status.value.replace(" ", "_")


def _mermaid_class_defs(indent: str) -> list[str]:
    return [
        f"{indent}classDef {_status_class(s)} fill:{st.fill},stroke:{st.stroke},color:{st.text}"
        for s, st in STATUS_STYLES.items()
    ]


def to_mermaid(graph: Graph, statuses: Statuses | None = None) -> str:
    """A Mermaid ``flowchart TD``: Choice/Condition as rhombi, Succeed/Fail as pills, Catch
    edges dotted; with ``statuses``, a class per status."""
    lines = ["flowchart TD", *_mermaid_lines(graph, statuses, "", "    ")]
    if statuses is not None:
        lines += _mermaid_class_defs("    ")
    return "\n".join(lines) + "\n"


def panels_to_mermaid(panels: Sequence[Panel]) -> str:
    """Several graphs in one flowchart, one subgraph each (node ids prefixed per panel)."""
    lines, used = ["flowchart TD"], set[str]()
    for index, panel in enumerate(panels):
        # "Outer loop · ..." -> outer_: ids a reader can tell apart when editing the text
        word = "".join(c for c in (panel.graph.title.split() or ["g"])[0].lower() if c.isalnum()) or "g"
        prefix = f"{word}_" if word not in used else f"{word}{index}_"
        used.add(word)
        title = panel.graph.title + (f" — {panel.caption}" if panel.caption else "")
        lines.append(f"    subgraph {prefix}graph[{_mermaid_text(title)}]")
        lines.append("        direction TD")
        lines += _mermaid_lines(panel.graph, panel.statuses, prefix, "        ")
        lines.append("    end")
    if any(p.statuses is not None for p in panels):
        lines += _mermaid_class_defs("    ")
    return "\n".join(lines) + "\n"


# ---- layout -------------------------------------------------------------------------------------------

FONT = "DejaVu Sans, Verdana, Arial, sans-serif"  # matplotlib's default font: one set of metrics
NAME_SIZE, DETAIL_SIZE, LABEL_SIZE, TITLE_SIZE = 12.0, 9.5, 9.5, 15.0
NODE_HEIGHT, NODE_PAD = 38.0, 12.0
LAYER_GAP, NODE_GAP, DUMMY_GAP, DUMMY_WIDTH, LABEL_ROOM = 52.0, 26.0, 10.0, 2.0, 13.0
MARGIN = 20.0


def text_width(text: str, size: float, bold: bool = False) -> float:
    """An estimate of the rendered width in DejaVu Sans (generous: boxes must not clip)."""
    units = 0.0
    for char in text:
        if char in "ijlI.,:;'|!()[]{} ":
            units += 0.34
        elif char in "mwMW@":
            units += 0.92
        elif char.isupper() or char.isdigit() or char in "#%&?≥≤·…":
            units += 0.7
        else:
            units += 0.6
    return units * size * (1.1 if bold else 1.0)


@dataclass
class Box:
    id: str
    x: float  # centre
    y: float  # centre
    width: float
    height: float

    @property
    def left(self) -> float:
        return self.x - self.width / 2

    @property
    def top(self) -> float:
        return self.y - self.height / 2


@dataclass
class RoutedEdge:
    edge: Edge
    points: list[tuple[float, float]]  # source border ... target border
    label_box: Box | None = None


@dataclass
class Layout:
    graph: Graph
    boxes: dict[str, Box]
    edges: list[RoutedEdge]
    width: float
    height: float
    layers: int = 0
    crossings: int = 0


@dataclass
class _Slot:
    """A node in the layered graph: a real node, or a dummy on a long edge."""

    id: str
    layer: int
    width: float
    dummy: bool
    x: float = 0.0
    up: list[str] = field(default_factory=list)  # neighbours one layer up
    down: list[str] = field(default_factory=list)  # neighbours one layer down


def node_width(node: Node) -> float:
    return max(text_width(node.id, NAME_SIZE, bold=True), text_width(node.detail, DETAIL_SIZE)) + 2 * NODE_PAD


def layout(graph: Graph, top: float = 0.0) -> Layout:
    """Place every node and route every edge (coordinates in px, y downwards, from ``top``)."""
    ids = [n.id for n in graph.nodes]
    order = _dfs_order(graph)
    reversed_edges = _back_edges(graph, order)
    layer = _layers(graph, reversed_edges, order)
    slots: dict[str, _Slot] = {
        n.id: _Slot(n.id, layer[n.id], node_width(n), dummy=False) for n in graph.nodes
    }
    chains: list[list[str]] = []  # per edge: the slots from its upper end to its lower end
    for index, edge in enumerate(graph.edges):
        upper, lower = (edge.target, edge.source) if index in reversed_edges else (edge.source, edge.target)
        if upper == lower:
            chains.append([upper])
            continue
        chain = [upper]
        for depth in range(layer[upper] + 1, layer[lower]):
            dummy = f"\0{index}:{depth}"
            slots[dummy] = _Slot(dummy, depth, DUMMY_WIDTH, dummy=True)
            chain.append(dummy)
        chain.append(lower)
        for a, b in itertools.pairwise(chain):
            slots[a].down.append(b)
            slots[b].up.append(a)
        chains.append(chain)
    depth_count = max((s.layer for s in slots.values()), default=-1) + 1
    rank = {node_id: i for i, node_id in enumerate(order)}
    rows: list[list[str]] = [[] for _ in range(depth_count)]
    for slot_id in sorted(slots, key=lambda s: _initial_rank(s, rank, chains)):
        rows[slots[slot_id].layer].append(slot_id)
    rows, crossings = _order(rows, slots)
    _place_x(rows, slots)

    # A layer whose edges carry many labels gets more room below it for them.
    labels_below = [0] * depth_count
    for index, edge in enumerate(graph.edges):
        if edge.label and len(chains[index]) > 1:
            labels_below[slots[chains[index][0]].layer] += 1
    centres, y = [], top
    for depth in range(depth_count):
        centres.append(y + NODE_HEIGHT / 2)
        y += NODE_HEIGHT + LAYER_GAP + LABEL_ROOM * min(4, max(0, labels_below[depth] - 2))
    left = min((slots[s].x - slots[s].width / 2 for s in slots), default=0.0)
    shift = MARGIN - left
    boxes = {i: Box(i, slots[i].x + shift, centres[slots[i].layer], slots[i].width, NODE_HEIGHT) for i in ids}
    routed = _route(graph, chains, reversed_edges, slots, boxes, centres, shift)
    _place_labels(routed, boxes)
    right = max([b.left + b.width for b in boxes.values()] + [MARGIN], default=MARGIN)
    for r in routed:
        right = max([right, *(p[0] for p in r.points)])
        if r.label_box:
            right = max(right, r.label_box.left + r.label_box.width)
    return Layout(graph, boxes, routed, right + MARGIN, y - LAYER_GAP + MARGIN - top, depth_count, crossings)


def _successors(graph: Graph) -> dict[str, list[str]]:
    """Successors in the order a reader follows them: the normal path first, errors last."""
    out: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for edge in sorted(graph.edges, key=lambda e: (e.dashed, e.faint, e.label == "default")):
        out[edge.source].append(edge.target)
    return out


def _dfs_order(graph: Graph) -> list[str]:
    succ, seen, order = _successors(graph), set[str](), list[str]()
    roots = ([graph.start] if graph.start else []) + [n.id for n in graph.nodes]
    for root in roots:
        stack = [root]
        while stack:
            here = stack.pop()
            if here in seen:
                continue
            seen.add(here)
            order.append(here)
            stack.extend(reversed([s for s in succ[here] if s not in seen]))
    return order


def _back_edges(graph: Graph, order: Sequence[str]) -> set[int]:
    """Indices of the edges that close a cycle (found by DFS): laid out reversed."""
    succ: dict[str, list[tuple[int, str]]] = {n.id: [] for n in graph.nodes}
    for index, edge in enumerate(graph.edges):
        succ[edge.source].append((index, edge.target))
    state: dict[str, int] = {}  # 1 on the DFS stack, 2 done
    back: set[int] = set()
    for root in order:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            here, children = stack[-1]
            for index, child in children:
                if state.get(child) == 1:
                    back.add(index)
                elif child not in state:
                    state[child] = 1
                    stack.append((child, iter(succ[child])))
                    break
            else:
                state[here] = 2
                stack.pop()
    return back


def _layers(graph: Graph, reversed_edges: set[int], order: Sequence[str]) -> dict[str, int]:
    """Longest-path layering of the graph with its back edges reversed."""
    preds: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for index, edge in enumerate(graph.edges):
        if edge.source == edge.target:
            continue
        a, b = (edge.target, edge.source) if index in reversed_edges else (edge.source, edge.target)
        preds[b].append(a)
    layer: dict[str, int] = {}

    def visit(node_id: str) -> int:
        # Iterative on purpose: long chains must not hit the recursion limit.
        stack = [node_id]
        while stack:
            here = stack[-1]
            pending = [p for p in preds[here] if p not in layer]
            if pending:
                stack.extend(pending)
                continue
            layer[here] = max((layer[p] + 1 for p in preds[here]), default=0)
            stack.pop()
        return layer[node_id]

    for node_id in order:
        visit(node_id)
    return layer


def _initial_rank(slot_id: str, rank: Mapping[str, int], chains: Sequence[list[str]]) -> float:
    if not slot_id.startswith("\0"):
        return rank[slot_id]
    index = int(slot_id[1:].split(":", maxsplit=1)[0])
    return rank[chains[index][0]] + 0.5  # a long edge starts next to its upper end


def _crossings(upper: Sequence[str], lower: Sequence[str], slots: Mapping[str, _Slot]) -> int:
    position = {s: i for i, s in enumerate(lower)}
    ends = [position[b] for i, a in enumerate(upper) for b in sorted(slots[a].down, key=position.__getitem__)]
    # Inversions among the lower ends, in upper order: each is one crossing.
    return sum(1 for i in range(len(ends)) for j in range(i + 1, len(ends)) if ends[i] > ends[j])


def _total_crossings(rows: Sequence[Sequence[str]], slots: Mapping[str, _Slot]) -> int:
    return sum(_crossings(rows[i], rows[i + 1], slots) for i in range(len(rows) - 1))


def _order(rows: list[list[str]], slots: Mapping[str, _Slot]) -> tuple[list[list[str]], int]:
    """Barycentre sweeps, down and up, each followed by adjacent swaps; the order with fewest
    crossings wins."""
    best, best_count = [list(r) for r in rows], _total_crossings(rows, slots)
    current = [list(r) for r in rows]
    for sweep in range(16):
        downwards = sweep % 2 == 0
        span = range(1, len(current)) if downwards else range(len(current) - 2, -1, -1)
        for i in span:
            ref = current[i - 1] if downwards else current[i + 1]
            position = {s: k for k, s in enumerate(ref)}
            here = {s: k for k, s in enumerate(current[i])}
            keys = {}
            for s in current[i]:
                neighbours = slots[s].up if downwards else slots[s].down
                keys[s] = sum(position[n] for n in neighbours) / len(neighbours) if neighbours else here[s]
            current[i].sort(key=keys.__getitem__)
        _transpose(current, slots)
        count = _total_crossings(current, slots)
        if count < best_count:
            best, best_count = [list(r) for r in current], count
        if best_count == 0:
            break
    return best, best_count


def _transpose(rows: list[list[str]], slots: Mapping[str, _Slot]) -> None:
    """Swap neighbours within a layer while that removes crossings with the adjacent layers."""
    for _ in range(8):
        improved = False
        for i, row in enumerate(rows):
            above = {s: k for k, s in enumerate(rows[i - 1])} if i > 0 else {}
            below = {s: k for k, s in enumerate(rows[i + 1])} if i + 1 < len(rows) else {}
            for k in range(len(row) - 1):
                u, v = slots[row[k]], slots[row[k + 1]]
                kept = _pair(u.up, v.up, above) + _pair(u.down, v.down, below)
                swapped = _pair(v.up, u.up, above) + _pair(v.down, u.down, below)
                if swapped < kept:
                    row[k], row[k + 1] = row[k + 1], row[k]
                    improved = True
        if not improved:
            return


def _pair(left: Sequence[str], right: Sequence[str], position: Mapping[str, int]) -> int:
    """Crossings between the edges of two neighbouring slots, the first on the left."""
    return sum(1 for a in left for b in right if position[a] > position[b])


def _gap(a: _Slot, b: _Slot) -> float:
    gap = DUMMY_GAP if a.dummy or b.dummy else NODE_GAP
    return a.width / 2 + gap + b.width / 2


def _place_x(rows: Sequence[Sequence[str]], slots: Mapping[str, _Slot]) -> None:
    for row in rows:  # packed left to right to start
        x = 0.0
        for k, s in enumerate(row):
            x = x + _gap(slots[row[k - 1]], slots[s]) if k else slots[s].width / 2
            slots[s].x = x
    for sweep in range(12):
        downwards = sweep % 2 == 0
        span = range(1, len(rows)) if downwards else range(len(rows) - 2, -1, -1)
        for i in span:
            row = rows[i]
            desired, weights = [], []
            for s in row:
                slot = slots[s]
                neighbours = (slot.up if downwards else slot.down) or (slot.down if downwards else slot.up)
                desired.append(
                    sum(slots[n].x for n in neighbours) / len(neighbours) if neighbours else slot.x
                )
                # Dummies weigh more: long edges run straight, boxes move round them.
                weights.append(4.0 if slot.dummy else 1.0)
            offsets = [0.0]
            for k in range(1, len(row)):
                offsets.append(offsets[-1] + _gap(slots[row[k - 1]], slots[row[k]]))
            solved = _isotonic([d - o for d, o in zip(desired, offsets, strict=True)], weights)
            for s, value, offset in zip(row, solved, offsets, strict=True):
                slots[s].x = value + offset


def _isotonic(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """The non-decreasing sequence nearest ``values`` in weighted least squares (pool adjacent
    violators): with the offsets taken out, "in order, this far apart" is "non-decreasing"."""
    blocks: list[list[float]] = []  # [weight, weighted sum, count]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([weight, weight * value, 1])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][0] > blocks[-1][1] / blocks[-1][0]:
            w, s, c = blocks.pop()
            blocks[-1][0] += w
            blocks[-1][1] += s
            blocks[-1][2] += c
    out: list[float] = []
    for w, s, c in blocks:
        out.extend([s / w] * int(c))
    return out


def _route(
    graph: Graph,
    chains: Sequence[list[str]],
    reversed_edges: set[int],
    slots: Mapping[str, _Slot],
    boxes: Mapping[str, Box],
    centres: Sequence[float],
    shift: float,
) -> list[RoutedEdge]:
    """Polylines: from a port on the source's border, vertically through each dummy's layer
    band, to a port on the target's border. Ports spread along a side in the order of the
    points they lead to, so edges leaving one box do not cross at its border."""
    half = NODE_HEIGHT / 2
    paths: list[list[tuple[float, float]]] = []
    for chain in chains:
        path: list[tuple[float, float]] = []
        for k, s in enumerate(chain):
            x, y = slots[s].x + shift, centres[slots[s].layer]
            if slots[s].dummy:
                path += [(x, y - half), (x, y + half)]
            elif k == 0:
                path.append((x, y + half))  # leaves the upper end at its bottom
            else:
                path.append((x, y - half))  # enters the lower end at its top
        paths.append(path)
    # Ports: (node, side) -> [(x of the neighbouring point, edge index, which end)]
    ports: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for index, (chain, path) in enumerate(zip(chains, paths, strict=True)):
        if len(chain) == 1:
            continue
        ports.setdefault((chain[0], "bottom"), []).append((path[1][0], index, 0))
        ports.setdefault((chain[-1], "top"), []).append((path[-2][0], index, -1))
    for (node_id, _side), users in ports.items():
        box = boxes[node_id]
        users.sort()
        usable = min(box.width * 0.7, 18.0 * len(users))
        for k, (_x, index, end) in enumerate(users):
            x = box.x if len(users) == 1 else box.x - usable / 2 + usable * k / (len(users) - 1)
            paths[index][end] = (x, paths[index][end][1])
    routed = []
    for index, (edge, path) in enumerate(zip(graph.edges, paths, strict=True)):
        points = path
        if len(path) == 1 or edge.source == edge.target:  # a self-loop: out of the right side and back
            box = boxes[edge.source]
            r = box.left + box.width
            points = [(r, box.y - 8), (r + 18, box.y - 8), (r + 18, box.y + 8), (r, box.y + 8)]
        elif index in reversed_edges:
            points = list(reversed(path))
        routed.append(RoutedEdge(edge, _simplify(points)))
    return routed


def _simplify(path: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop points on a straight line between their neighbours."""
    out = path[:1]
    for k in range(1, len(path) - 1):
        (ax, ay), (bx, by), (cx, cy) = out[-1], path[k], path[k + 1]
        if abs((bx - ax) * (cy - ay) - (by - ay) * (cx - ax)) > 0.5:
            out.append(path[k])
    return out + path[-1:]


def _place_labels(routed: Sequence[RoutedEdge], boxes: Mapping[str, Box]) -> None:
    """Each label on its own edge, at the first spot (from the source end) that covers no box
    and no other label; if there is none, where it covers least."""
    taken: list[Box] = list(boxes.values())
    for r in routed:
        if not r.edge.label:
            continue
        width, height = text_width(r.edge.label, LABEL_SIZE) + 6, LABEL_SIZE + 5
        candidates = [
            _along(r.points, k, t) for k in range(len(r.points) - 1) for t in (0.5, 0.35, 0.65, 0.2, 0.8)
        ]
        for k in range(len(r.points) - 1):  # beside the line, when on it there is no room
            for t in (0.5, 0.3, 0.7):
                x, y = _along(r.points, k, t)
                candidates += [(x + width / 2 + 3, y), (x - width / 2 - 3, y)]
        chosen = min(candidates, key=lambda c: _covered(Box("", c[0], c[1], width, height), taken))
        r.label_box = Box(r.edge.label, chosen[0], chosen[1], width, height)
        taken.append(r.label_box)


def _covered(box: Box, others: Iterable[Box]) -> float:
    """How much of ``others`` (grown by 2 px) the box covers; 0 for a free spot."""
    area = 0.0
    for o in others:
        w = min(box.left + box.width, o.left + o.width + 2) - max(box.left, o.left - 2)
        h = min(box.top + box.height, o.top + o.height + 2) - max(box.top, o.top - 2)
        area += max(0.0, w) * max(0.0, h)
    return area


def _along(points: Sequence[tuple[float, float]], k: int, t: float) -> tuple[float, float]:
    (ax, ay), (bx, by) = points[k], points[k + 1]
    return ax + (bx - ax) * t, ay + (by - ay) * t


# ---- panels: one or more graphs in one picture ------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    graph: Graph
    statuses: Statuses | None = None
    caption: str = ""  # e.g. which execution the statuses are from


@dataclass
class _Placed:
    panel: Panel
    layout: Layout
    dx: float


HEADER = TITLE_SIZE + 26.0  # title and caption lines above each panel
LEGEND_HEIGHT = 26.0


def _arrange(panels: Sequence[Panel]) -> tuple[list[_Placed], float, float]:
    """Panels side by side, under one legend row."""
    placed, x, height = [], 0.0, 0.0
    top = LEGEND_HEIGHT + MARGIN + HEADER
    for panel in panels:
        lay = layout(panel.graph, top=top)
        title_width = max(
            text_width(panel.graph.title, TITLE_SIZE, bold=True), text_width(panel.caption, LABEL_SIZE + 1)
        )
        lay.width = max(lay.width, title_width + 2 * MARGIN)
        placed.append(_Placed(panel, lay, x))
        x += lay.width
        height = max(height, top + lay.height)
    legend_width = sum(w for _, w in _legend(panels)) + 2 * MARGIN
    return placed, max(x, legend_width), height


def _legend(panels: Sequence[Panel]) -> list[tuple[str, float]]:
    items = ["next", "on error (Catch)"]
    if any(p.statuses is not None for p in panels):
        items += [s.value for s in Status]
    return [(item, 34 + text_width(item, LABEL_SIZE + 1) + 16) for item in items]


# ---- SVG ----------------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _svg_points(points: Iterable[tuple[float, float]], dx: float) -> str:
    return " ".join(f"{_fmt(x + dx)},{_fmt(y)}" for x, y in points)


def _edge_colour(edge: Edge) -> str:
    return CATCH_COLOUR if edge.dashed else FAINT_COLOUR if edge.faint else EDGE_COLOUR


def _svg_panel(placed: _Placed) -> list[str]:
    lay, dx, panel = placed.layout, placed.dx, placed.panel
    top = LEGEND_HEIGHT + MARGIN
    out = [
        f'<g class="panel" data-title="{escape(panel.graph.title)}">',
        f'<text x="{_fmt(dx + MARGIN)}" y="{_fmt(top + TITLE_SIZE)}" font-size="{TITLE_SIZE}" '
        f'font-weight="bold" fill="#212529">{escape(panel.graph.title)}</text>',
    ]
    if panel.caption:
        out.append(
            f'<text x="{_fmt(dx + MARGIN)}" y="{_fmt(top + TITLE_SIZE + 16)}" font-size="{LABEL_SIZE + 1}" '
            f'fill="#495057">{escape(panel.caption)}</text>'
        )
    for r in lay.edges:
        colour = _edge_colour(r.edge)
        dash = ' stroke-dasharray="5,3"' if r.edge.dashed else ""
        marker = "catch" if r.edge.dashed else "faint" if r.edge.faint else "next"
        out.append(
            f'<polyline class="edge" data-source="{escape(r.edge.source)}" data-target="{escape(r.edge.target)}" '
            f'points="{_svg_points(r.points, dx)}" fill="none" stroke="{colour}" stroke-width="1.3"{dash} '
            f'marker-end="url(#arrow-{marker})"/>'
        )
    for r in lay.edges:
        if r.label_box is None:
            continue
        b = r.label_box
        out.append(
            f'<rect class="label-bg" x="{_fmt(b.left + dx)}" y="{_fmt(b.top)}" width="{_fmt(b.width)}" '
            f'height="{_fmt(b.height)}" rx="3" fill="#ffffff" fill-opacity="0.9"/>'
            f'<text class="edge-label" x="{_fmt(b.x + dx)}" y="{_fmt(b.y + LABEL_SIZE * 0.36)}" '
            f'font-size="{LABEL_SIZE}" text-anchor="middle" fill="{_edge_colour(r.edge)}">'
            f"{escape(r.edge.label)}</text>"
        )
    for node in panel.graph.nodes:
        b, st = lay.boxes[node.id], style_of(node.id, panel.statuses)
        status = (panel.statuses or {}).get(node.id, Status.NOT_VISITED) if panel.statuses is not None else ""
        rx = NODE_HEIGHT / 2 if node.terminal else 5
        stroke_width = 2.2 if node.kind in ("Choice", "Condition") else 1.4
        out.append(
            f'<g class="node" data-id="{escape(node.id)}" data-status="{status}">'
            f"<title>{escape(node.id)}: {escape(node.detail)}{f' ({status})' if status else ''}</title>"
            f'<rect class="node" x="{_fmt(b.left + dx)}" y="{_fmt(b.top)}" width="{_fmt(b.width)}" '
            f'height="{_fmt(b.height)}" rx="{_fmt(rx)}" fill="{st.fill}" stroke="{st.stroke}" '
            f'stroke-width="{stroke_width}"/>'
            f'<text x="{_fmt(b.x + dx)}" y="{_fmt(b.y - 2)}" font-size="{NAME_SIZE}" font-weight="bold" '
            f'text-anchor="middle" fill="{st.text}">{escape(node.id)}</text>'
            f'<text x="{_fmt(b.x + dx)}" y="{_fmt(b.y + 12)}" font-size="{DETAIL_SIZE}" '
            f'text-anchor="middle" fill="{st.text}" fill-opacity="0.75">{escape(node.detail)}</text></g>'
        )
    out.append("</g>")
    return out


def _svg_legend(panels: Sequence[Panel]) -> list[str]:
    out, x, y = ['<g class="legend">'], MARGIN, MARGIN + 8
    for item, width in _legend(panels):
        if item in ("next", "on error (Catch)"):
            dash = ' stroke-dasharray="5,3"' if item != "next" else ""
            colour = EDGE_COLOUR if item == "next" else CATCH_COLOUR
            out.append(
                f'<line x1="{_fmt(x)}" y1="{_fmt(y)}" x2="{_fmt(x + 26)}" y2="{_fmt(y)}" stroke="{colour}" '
                f'stroke-width="1.3"{dash}/>'
            )
        else:
            st = STATUS_STYLES[Status(item)]
            out.append(
                f'<rect class="swatch" x="{_fmt(x)}" y="{_fmt(y - 7)}" width="26" height="14" rx="3" '
                f'fill="{st.fill}" stroke="{st.stroke}"/>'
            )
        out.append(
            f'<text x="{_fmt(x + 32)}" y="{_fmt(y + 4)}" font-size="{LABEL_SIZE + 1}" fill="#495057">'
            f"{escape(item)}</text>"
        )
        x += width
    return [*out, "</g>"]


def _svg_marker(name: str, colour: str) -> str:
    return (
        f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
    )


def panels_to_svg(panels: Sequence[Panel]) -> str:
    """One SVG document with the panels side by side."""
    placed, width, height = _arrange(panels)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_fmt(width)}" height="{_fmt(height)}" '
        f'viewBox="0 0 {_fmt(width)} {_fmt(height)}" font-family="{FONT}">',
        "<defs>"
        + _svg_marker("next", EDGE_COLOUR)
        + _svg_marker("catch", CATCH_COLOUR)
        + _svg_marker("faint", FAINT_COLOUR)
        + "</defs>",
        f'<rect width="{_fmt(width)}" height="{_fmt(height)}" fill="#ffffff"/>',
        *_svg_legend(panels),
    ]
    for p in placed:
        parts += _svg_panel(p)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def to_svg(graph: Graph, statuses: Statuses | None = None, caption: str = "") -> str:
    return panels_to_svg([Panel(graph, statuses, caption)])


# ---- PNG (matplotlib, when installed) ---------------------------------------------------------------


def panels_to_png(panels: Sequence[Panel], path: Path | str, dpi: int = 110) -> None:
    """The SVG picture drawn with matplotlib (Agg, no pyplot: no global backend is touched).

    Layout units are points (1/72 in), so font sizes match the SVG's pixel sizes.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
        from matplotlib.path import Path as MplPath
    except ImportError as exc:  # pragma: no cover - matplotlib comes with the SageMaker SDK's mlflow
        raise RuntimeError("PNG needs matplotlib (pip install matplotlib); SVG and Mermaid do not") from exc

    placed, width, height = _arrange(panels)
    figure = Figure(figsize=(width / 72, height / 72))
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")

    def text(x: float, y: float, s: str, size: float, **kw: Any) -> None:
        ax.text(x, y, s, fontsize=size, family="DejaVu Sans", **kw)

    # Legend.
    x, y = MARGIN, MARGIN + 8
    for item, item_width in _legend(panels):
        if item in ("next", "on error (Catch)"):
            colour = EDGE_COLOUR if item == "next" else CATCH_COLOUR
            ax.plot([x, x + 26], [y, y], color=colour, lw=1.3, ls="-" if item == "next" else (0, (5, 3)))
        else:
            st = STATUS_STYLES[Status(item)]
            ax.add_patch(
                FancyBboxPatch(
                    (x, y - 7), 26, 14, boxstyle="round,pad=0,rounding_size=3", fc=st.fill, ec=st.stroke
                )
            )
        text(x + 32, y, item, LABEL_SIZE + 1, color="#495057", va="center")
        x += item_width

    for p in placed:
        lay, dx, panel = p.layout, p.dx, p.panel
        top = LEGEND_HEIGHT + MARGIN
        text(dx + MARGIN, top + TITLE_SIZE, panel.graph.title, TITLE_SIZE, weight="bold", va="baseline")
        if panel.caption:
            text(dx + MARGIN, top + TITLE_SIZE + 16, panel.caption, LABEL_SIZE + 1, color="#495057")
        for r in lay.edges:
            colour = _edge_colour(r.edge)
            vertices = [(px + dx, py) for px, py in r.points]
            codes = [MplPath.MOVETO] + [MplPath.LINETO] * (len(vertices) - 1)
            ax.add_patch(
                FancyArrowPatch(
                    path=MplPath(vertices, codes),
                    arrowstyle="-|>,head_length=6,head_width=3",
                    color=colour,
                    lw=1.3,
                    ls=(0, (5, 3)) if r.edge.dashed else "-",
                    shrinkA=0,
                    shrinkB=0,
                    zorder=1,
                )
            )
        for r in lay.edges:
            if r.label_box is None:
                continue
            b = r.label_box
            ax.add_patch(
                FancyBboxPatch(
                    (b.left + dx, b.top),
                    b.width,
                    b.height,
                    boxstyle="round,pad=0,rounding_size=3",
                    fc="#ffffff",
                    ec="none",
                    alpha=0.9,
                    zorder=2,
                )
            )
            text(
                b.x + dx,
                b.y,
                r.edge.label,
                LABEL_SIZE,
                color=_edge_colour(r.edge),
                ha="center",
                va="center",
                zorder=3,
            )
        for node in panel.graph.nodes:
            b, st = lay.boxes[node.id], style_of(node.id, panel.statuses)
            rounding = NODE_HEIGHT / 2 if node.terminal else 5
            ax.add_patch(
                FancyBboxPatch(
                    (b.left + dx, b.top),
                    b.width,
                    b.height,
                    boxstyle=f"round,pad=0,rounding_size={rounding}",
                    fc=st.fill,
                    ec=st.stroke,
                    lw=2.2 if node.kind in ("Choice", "Condition") else 1.4,
                    zorder=4,
                )
            )
            text(
                b.x + dx,
                b.y - 2,
                node.id,
                NAME_SIZE,
                weight="bold",
                color=st.text,
                ha="center",
                va="baseline",
                zorder=5,
            )
            text(
                b.x + dx,
                b.y + 12,
                node.detail,
                DETAIL_SIZE,
                color=st.text,
                alpha=0.75,
                ha="center",
                va="baseline",
                zorder=5,
            )
    figure.savefig(str(path), dpi=dpi, facecolor="#ffffff")


def to_png(graph: Graph, path: Path | str, statuses: Statuses | None = None, caption: str = "") -> None:
    panels_to_png([Panel(graph, statuses, caption)], path)


__all__ = [
    "Edge",
    "Graph",
    "Node",
    "Panel",
    "Status",
    "asl_graph",
    "execution_statuses",
    "layout",
    "panels_to_mermaid",
    "panels_to_png",
    "panels_to_svg",
    "pipeline_graph",
    "step_statuses",
    "to_mermaid",
    "to_png",
    "to_svg",
]
