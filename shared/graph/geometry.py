"""The sizes a drawing is laid out with: font metrics, node boxes, routed edges and the placed layout."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.graph.model import Edge, Graph, Node

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
class Slot:
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
