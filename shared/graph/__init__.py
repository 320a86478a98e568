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

One module a job: ``model`` (the graph), ``asl`` and ``pipeline`` (the two readers),
``statuses`` (overlays), ``mermaid``, ``geometry``/``layout``/``routing`` (the layout),
``panels``, ``svg`` and ``png`` (the pictures).
"""

from __future__ import annotations

from shared.graph.asl import asl_graph, rule_label
from shared.graph.geometry import Box, Layout, RoutedEdge, text_width
from shared.graph.layout import layout
from shared.graph.mermaid import mermaid_id, panels_to_mermaid, to_mermaid
from shared.graph.model import (
    NEUTRAL,
    STATUS_STYLES,
    Edge,
    Graph,
    Node,
    Panel,
    Status,
    Statuses,
    Style,
    style_of,
)
from shared.graph.pipeline import pipeline_graph
from shared.graph.png import panels_to_png, to_png
from shared.graph.statuses import execution_statuses, step_statuses
from shared.graph.svg import panels_to_svg, to_svg

__all__ = [
    "NEUTRAL",
    "STATUS_STYLES",
    "Box",
    "Edge",
    "Graph",
    "Layout",
    "Node",
    "Panel",
    "RoutedEdge",
    "Status",
    "Statuses",
    "Style",
    "asl_graph",
    "execution_statuses",
    "layout",
    "mermaid_id",
    "panels_to_mermaid",
    "panels_to_png",
    "panels_to_svg",
    "pipeline_graph",
    "rule_label",
    "step_statuses",
    "style_of",
    "text_width",
    "to_mermaid",
    "to_png",
    "to_svg",
]
