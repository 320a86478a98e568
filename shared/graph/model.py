"""The graph both loops are drawn from: nodes, edges, panels, and the colours of an execution's statuses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


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


def edge_colour(edge: Edge) -> str:
    return CATCH_COLOUR if edge.dashed else FAINT_COLOUR if edge.faint else EDGE_COLOUR


def style_of(node_id: str, statuses: Statuses | None) -> Style:
    if statuses is None:
        return NEUTRAL
    return STATUS_STYLES[statuses.get(node_id, Status.NOT_VISITED)]


@dataclass(frozen=True)
class Panel:
    graph: Graph
    statuses: Statuses | None = None
    caption: str = ""  # e.g. which execution the statuses are from
