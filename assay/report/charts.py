"""Inline SVG charts for the session report: histogram, horizontal bars, scatter.

Each function returns one `<svg>` element as `Markup` (the report template inserts it as it
is), built from parts whose every label is escaped by `e`, with no external reference (no
xmlns URL either: inline SVG in HTML5 needs none), so the report opens offline. Hover text
is an SVG `<title>`, which browsers show without any script.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from markupsafe import Markup, escape

from assay.core.safe_text import visible

FONT = 'font-family="system-ui, sans-serif" font-size="11"'
AXIS = "#555"
GRID = "#e3e3e3"


def e(text: object) -> Markup:
    """HTML-escape any value for text or attribute use, its control characters made visible (`\\x1b`)."""
    return escape(visible(str(text)))


def _fmt(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def histogram(values: Sequence[float], edges: Sequence[float], *, colour: str, title: str,
              y_max: float | None = None, width: int = 440, height: int = 230) -> Markup:
    """Bars of the share (%) of `values` per bin; `y_max` (a share) lets two charts share a scale.

    The last bin includes its right edge, so a 5.0 lands in [4.5, 5].
    """
    counts = bin_counts(values, edges)
    total = max(sum(counts), 1)
    shares = [100 * c / total for c in counts]
    top = max(y_max if y_max is not None else 0.0, max(shares, default=0.0), 1.0)
    left, right, upper, lower = 38, 10, 22, 30
    plot_w, plot_h = width - left - right, height - upper - lower
    bar_w = plot_w / max(len(counts), 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{e(title)}" {FONT}>',
             f'<text x="{left}" y="14" font-weight="600">{e(title)}</text>']
    for tick in (0.0, top / 2, top):
        y = upper + plot_h * (1 - tick / top)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">{tick:.0f}%</text>')
    for i, (count, share) in enumerate(zip(counts, shares, strict=True)):
        bar_h = plot_h * share / top
        x = left + i * bar_w
        label = f"{_fmt(edges[i])}–{_fmt(edges[i + 1])}: {count} samples ({share:.1f}%)"
        parts.append(f'<rect x="{x + 1:.1f}" y="{upper + plot_h - bar_h:.1f}" width="{max(bar_w - 2, 1):.1f}" '
                     f'height="{bar_h:.1f}" fill="{colour}"><title>{e(label)}</title></rect>')
    for i, edge in enumerate(edges):
        parts.append(f'<text x="{left + i * bar_w:.1f}" y="{height - lower + 14}" text-anchor="middle" '
                     f'fill="{AXIS}">{_fmt(edge)}</text>')
    base = upper + plot_h
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="{AXIS}"/>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 2}" text-anchor="middle" fill="{AXIS}">'
                 f'judge overall score</text></svg>')
    return Markup("".join(parts))  # every label in parts went through e()


def bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """How many values fall in each bin [edge_i, edge_i+1), the last bin closed on the right."""
    if len(edges) < 2:
        return []
    counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=np.asarray(edges, dtype=np.float64))
    return [int(c) for c in counts]


def hbars(items: Sequence[tuple[str, float]], *, colour: str, title: str, width: int = 560,
          label_chars: int = 30) -> Markup:
    """Horizontal bars, one per (label, value), in the order given."""
    row_h, upper, left, right = 20, 24, 8 + 6.2 * label_chars, 56
    height = upper + row_h * max(len(items), 1) + 6
    top = max((v for _, v in items), default=0.0) or 1.0
    plot_w = width - left - right
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height:.0f}" width="{width}" height="{height:.0f}" '
             f'role="img" aria-label="{e(title)}" {FONT}>',
             f'<text x="0" y="14" font-weight="600">{e(title)}</text>']
    for i, (label, value) in enumerate(items):
        y = upper + i * row_h
        shown = label if len(label) <= label_chars else label[: label_chars - 1] + "…"
        bar_w = max(plot_w * value / top, 1)
        parts.append(f'<text x="{left - 6:.1f}" y="{y + 13}" text-anchor="end">{e(shown)}</text>'
                     f'<rect x="{left:.1f}" y="{y + 2}" width="{bar_w:.1f}" height="{row_h - 5}" fill="{colour}">'
                     f'<title>{e(label)}: {value:g}</title></rect>'
                     f'<text x="{left + bar_w + 4:.1f}" y="{y + 13}" fill="{AXIS}">{value:g}</text>')
    if not items:
        parts.append(f'<text x="{left:.1f}" y="{upper + 13}" fill="{AXIS}">nothing to show</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # every label in parts went through e()


def scatter(xy: np.ndarray, groups: Sequence[str], colours: Mapping[str, str], *, title: str,
            hover: Sequence[str] | None = None, legend: Mapping[str, str] | None = None, width: int = 760,
            height: int = 480, draw_order: Sequence[str] = ()) -> Markup:
    """A scatter of 2-D points coloured by group, with a legend (`legend`: group -> label, default "group (n)").

    Groups in `draw_order` are drawn last, in that order, so the ones that matter stay on top.
    """
    upper, lower, side = 24, 28, 12
    plot_w, plot_h = width - 2 * side, height - upper - lower
    points = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    low, high = (points.min(axis=0), points.max(axis=0)) if len(points) else (np.zeros(2), np.ones(2))
    span = np.where(high - low > 0, high - low, 1.0)
    scaled = (points - low) / span
    px = side + 4 + scaled[:, 0] * (plot_w - 8)
    py = upper + 4 + (1 - scaled[:, 1]) * (plot_h - 8)
    rank = {g: i for i, g in enumerate(draw_order)}
    order = sorted(range(len(points)), key=lambda i: rank.get(groups[i], -1))
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{e(title)}" {FONT}>',
             f'<text x="{side}" y="14" font-weight="600">{e(title)}</text>',
             f'<rect x="{side}" y="{upper}" width="{plot_w}" height="{plot_h}" fill="none" stroke="{GRID}"/>']
    radius = 2.2 if len(points) > 1000 else 3.2
    for i in order:
        tip = f"<title>{e(hover[i])}</title>" if hover is not None else ""
        parts.append(f'<circle cx="{px[i]:.1f}" cy="{py[i]:.1f}" r="{radius}" fill="{colours.get(groups[i], AXIS)}" '
                     f'fill-opacity="0.75">{tip}</circle>')
    x = side
    for group, colour in colours.items():
        label = legend[group] if legend and group in legend else f"{group} ({sum(1 for g in groups if g == group)})"
        parts.append(f'<circle cx="{x + 5}" cy="{height - 10}" r="5" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{height - 6}">{e(label)}</text>')
        x += 24 + 7 * len(label)
    parts.append("</svg>")
    return Markup("".join(parts))  # every label in parts went through e()
