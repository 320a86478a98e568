"""Reads a pipeline definition (the inner loop) into a graph, through the one definition reader the executor uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.graph.model import Edge, Graph, Node
from shared.pipeline_graph import PipelineGraph


def pipeline_graph(definition: Mapping[str, Any], title: str = "Inner loop · SageMaker Pipeline") -> Graph:
    """The steps of a pipeline definition and their dependencies, as the local executor reads
    them: DependsOn, data dependencies (``Get``/``JsonGet``), and a ConditionStep's If/Else
    branches (labelled). A data dependency already implied by a longer path is drawn faint."""

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
