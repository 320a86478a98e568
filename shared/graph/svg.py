"""A laid-out picture as SVG, written here in pure Python."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from shared.graph.geometry import DETAIL_SIZE, FONT, LABEL_SIZE, MARGIN, NAME_SIZE, NODE_HEIGHT, TITLE_SIZE
from shared.graph.model import (
    CATCH_COLOUR,
    EDGE_COLOUR,
    FAINT_COLOUR,
    STATUS_STYLES,
    Graph,
    Panel,
    Status,
    Statuses,
    edge_colour,
    style_of,
)
from shared.graph.panels import LEGEND_HEIGHT, Placed, arrange, legend


def _fmt(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _svg_points(points: Iterable[tuple[float, float]], dx: float) -> str:
    return " ".join(f"{_fmt(x + dx)},{_fmt(y)}" for x, y in points)


def _svg_panel(placed: Placed) -> list[str]:
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
        colour = edge_colour(r.edge)
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
            f'font-size="{LABEL_SIZE}" text-anchor="middle" fill="{edge_colour(r.edge)}">'
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
    for item, width in legend(panels):
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
    placed, width, height = arrange(panels)
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
