"""Several graphs side by side in one picture, under one legend row: what the SVG and PNG writers draw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.graph.geometry import LABEL_SIZE, MARGIN, TITLE_SIZE, Layout, text_width
from shared.graph.layout import layout
from shared.graph.model import Panel, Status


@dataclass
class Placed:
    panel: Panel
    layout: Layout
    dx: float


HEADER = TITLE_SIZE + 26.0  # title and caption lines above each panel
LEGEND_HEIGHT = 26.0


def arrange(panels: Sequence[Panel]) -> tuple[list[Placed], float, float]:
    """Panels side by side, under one legend row."""
    placed, x, height = [], 0.0, 0.0
    top = LEGEND_HEIGHT + MARGIN + HEADER
    for panel in panels:
        lay = layout(panel.graph, top=top)
        title_width = max(
            text_width(panel.graph.title, TITLE_SIZE, bold=True), text_width(panel.caption, LABEL_SIZE + 1)
        )
        lay.width = max(lay.width, title_width + 2 * MARGIN)
        placed.append(Placed(panel, lay, x))
        x += lay.width
        height = max(height, top + lay.height)
    legend_width = sum(w for _, w in legend(panels)) + 2 * MARGIN
    return placed, max(x, legend_width), height


def legend(panels: Sequence[Panel]) -> list[tuple[str, float]]:
    items = ["next", "on error (Catch)"]
    if any(p.statuses is not None for p in panels):
        items += [s.value for s in Status]
    return [(item, 34 + text_width(item, LABEL_SIZE + 1) + 16) for item in items]
