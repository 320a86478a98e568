"""Edges of a layout: polylines from border ports through their dummy nodes, and where their labels go."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from shared.graph.geometry import LABEL_SIZE, NODE_HEIGHT, Box, RoutedEdge, Slot, text_width
from shared.graph.model import Graph


def route(
    graph: Graph,
    chains: Sequence[list[str]],
    reversed_edges: set[int],
    slots: Mapping[str, Slot],
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


def place_labels(routed: Sequence[RoutedEdge], boxes: Mapping[str, Box]) -> None:
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
