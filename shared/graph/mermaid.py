"""A graph as Mermaid text for docs (one flowchart; several graphs as subgraphs)."""

from __future__ import annotations

from collections.abc import Sequence

from shared.graph.model import STATUS_STYLES, Graph, Panel, Status, Statuses

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
