"""A layered (Sugiyama) layout: cycles broken, nodes layered, ordered to cut crossings, placed in x."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from shared.graph.geometry import (
    DUMMY_GAP,
    DUMMY_WIDTH,
    LABEL_ROOM,
    LAYER_GAP,
    MARGIN,
    NODE_GAP,
    NODE_HEIGHT,
    Box,
    Layout,
    Slot,
    node_width,
)
from shared.graph.model import Graph
from shared.graph.routing import place_labels, route


def layout(graph: Graph, top: float = 0.0) -> Layout:
    """Place every node and route every edge (coordinates in px, y downwards, from ``top``)."""
    ids = [n.id for n in graph.nodes]
    order = _dfs_order(graph)
    reversed_edges = _back_edges(graph, order)
    layer = _layers(graph, reversed_edges, order)
    slots: dict[str, Slot] = {n.id: Slot(n.id, layer[n.id], node_width(n), dummy=False) for n in graph.nodes}
    chains: list[list[str]] = []  # per edge: the slots from its upper end to its lower end
    for index, edge in enumerate(graph.edges):
        upper, lower = (edge.target, edge.source) if index in reversed_edges else (edge.source, edge.target)
        if upper == lower:
            chains.append([upper])
            continue
        chain = [upper]
        for depth in range(layer[upper] + 1, layer[lower]):
            dummy = f"\0{index}:{depth}"
            slots[dummy] = Slot(dummy, depth, DUMMY_WIDTH, dummy=True)
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
    routed = route(graph, chains, reversed_edges, slots, boxes, centres, shift)
    place_labels(routed, boxes)
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


def _crossings(upper: Sequence[str], lower: Sequence[str], slots: Mapping[str, Slot]) -> int:
    position = {s: i for i, s in enumerate(lower)}
    ends = [position[b] for i, a in enumerate(upper) for b in sorted(slots[a].down, key=position.__getitem__)]
    # Inversions among the lower ends, in upper order: each is one crossing.
    return sum(1 for i in range(len(ends)) for j in range(i + 1, len(ends)) if ends[i] > ends[j])


def _total_crossings(rows: Sequence[Sequence[str]], slots: Mapping[str, Slot]) -> int:
    return sum(_crossings(rows[i], rows[i + 1], slots) for i in range(len(rows) - 1))


def _order(rows: list[list[str]], slots: Mapping[str, Slot]) -> tuple[list[list[str]], int]:
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


def _transpose(rows: list[list[str]], slots: Mapping[str, Slot]) -> None:
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


def _gap(a: Slot, b: Slot) -> float:
    gap = DUMMY_GAP if a.dummy or b.dummy else NODE_GAP
    return a.width / 2 + gap + b.width / 2


def _place_x(rows: Sequence[Sequence[str]], slots: Mapping[str, Slot]) -> None:
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
