"""The SVG picture drawn with matplotlib, when it is installed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.graph.geometry import DETAIL_SIZE, LABEL_SIZE, MARGIN, NAME_SIZE, NODE_HEIGHT, TITLE_SIZE
from shared.graph.model import (
    CATCH_COLOUR,
    EDGE_COLOUR,
    STATUS_STYLES,
    Graph,
    Panel,
    Status,
    Statuses,
    edge_colour,
    style_of,
)
from shared.graph.panels import LEGEND_HEIGHT, arrange, legend


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

    placed, width, height = arrange(panels)
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
    for item, item_width in legend(panels):
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
            colour = edge_colour(r.edge)
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
                color=edge_colour(r.edge),
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
