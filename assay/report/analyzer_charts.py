"""The analyzer page's chart: one statistic's histogram, active and dropped stacked, its threshold marked.

Like `charts.py` (whose escaping and styling it shares), the chart is one inline `<svg>`
element built from escaped parts, with hover text as SVG `<title>`s: no script, no remote file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup

from assay.report.charts import AXIS, FONT, GRID, e

ACTIVE_COLOUR, DROPPED_COLOUR, THRESHOLD_COLOUR = "#0072B2", "#D55E00", "#CC79A7"  # Okabe-Ito: colour-blind safe
MAX_INTEGER_BINS = 30


@dataclass(frozen=True)
class Bins:
    """Histogram bins: `edges` (one more than bins); `integer`: one bin per whole number;
    `overflow`: the last bin also holds every value above its right edge (a long tail cut off)."""

    edges: list[float]
    integer: bool
    overflow: bool


def number(value: float) -> str:
    """A tick or threshold label: whole numbers and large values with thousands separators, others to 3 significant digits."""
    if float(value).is_integer() or abs(value) >= 1000:
        return f"{round(value):,}"
    return f"{value:.3g}"


def choose_bins(values: Sequence[float], threshold: float | None = None, bins: int = 24) -> Bins:
    """Bins spanning the values, and the threshold when it lies near them.

    Whole numbers over a short range get one bin each. Otherwise a long tail beyond the 99th
    percentile goes into the last bin, so a few outliers do not squeeze the rest into one bar.
    """
    data = np.asarray(values, dtype=np.float64)
    low, high = float(data.min()), float(data.max())
    integer = bool(np.all(data == np.round(data)))
    top, overflow = high, False
    if not (integer and high - low < MAX_INTEGER_BINS):
        p99 = float(np.quantile(data, 0.99))
        if p99 > low and high - low > 4 * (p99 - low):
            top, overflow = p99, True
    if threshold is not None and top < threshold and (
            threshold - low <= 4 * (top - low) or (integer and threshold - low < MAX_INTEGER_BINS)):
        top = threshold  # stretch the axis to show the mark when it lies near the data
        overflow = overflow and top < high
    if integer:  # whole-number bins (several numbers each over a wide range), so no bin edge splits a number
        step = max(1, -(-int(top - low + 1) // (MAX_INTEGER_BINS if top - low < MAX_INTEGER_BINS else bins)))
        return Bins([low + step * i for i in range(-(-int(top - low + 1) // step) + 1)], integer=step == 1,
                    overflow=overflow)
    if top <= low:
        return Bins([low - 0.5, low + 0.5], integer=False, overflow=False)
    return Bins([float(x) for x in np.linspace(low, top, bins + 1)], integer=False, overflow=overflow)


def _counts(values: Sequence[float], bins: Bins) -> list[int]:
    data = np.asarray(values, dtype=np.float64)
    if bins.overflow:
        data = np.minimum(data, bins.edges[-1])
    counts, _ = np.histogram(data, bins=np.asarray(bins.edges))
    return [int(c) for c in counts]


def split_histogram(active: Sequence[float], dropped: Sequence[float], *, title: str, threshold: float | None = None,
                    threshold_label: str = "", width: int = 520, height: int = 240) -> Markup:
    """Per bin, the share of the active and of the dropped records falling in it, side by side, and a
    dashed line at the threshold. Shares, not counts: a few hundred drops among thousands stay visible.

    A threshold outside the drawn range is named in a note instead of a line.
    """
    both = np.concatenate([np.asarray(active, dtype=np.float64), np.asarray(dropped, dtype=np.float64)])
    bins = choose_bins(both, threshold)
    high = float(both.max())
    groups = [(name, values, _counts(values, bins), colour)
              for name, values, colour in (("active", active, ACTIVE_COLOUR), ("dropped", dropped, DROPPED_COLOUR))]
    shares = [[100 * c / max(len(values), 1) for c in counts] for _, values, counts, _ in groups]
    top = max(max(row, default=0.0) for row in shares) or 1.0
    left, right, upper, lower = 40, 16, 34, 30
    plot_w, plot_h = width - left - right, height - upper - lower
    span = bins.edges[-1] - bins.edges[0]
    bin_w = plot_w / (len(bins.edges) - 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="{e(title)}" {FONT}>',
             f'<text x="{left}" y="14" font-weight="600">{e(title)}</text>']
    x = width - right - 200
    for name, values, _, colour in groups:
        parts.append(f'<rect x="{x}" y="5" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="14">{name} {len(values):,}</text>')
        x += 100
    for tick in (0, top / 2, top):
        y = upper + plot_h * (1 - tick / top)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{AXIS}">{tick:.0f}%</text>')
    bar_w = min(max((bin_w - 1) / 2, 0.5), 36)  # a chart of two or three bins keeps slim bars
    pad = (bin_w - 2 * bar_w) / 2
    for i in range(len(bins.edges) - 1):
        for g, (name, values, counts, colour) in enumerate(groups):
            if counts[i]:
                bar_h = max(plot_h * shares[g][i] / top, 0.5)
                tip = f"{_bin_label(bins, i)}: {counts[i]:,} {name} ({shares[g][i]:.1f}% of {len(values):,})"
                parts.append(f'<rect x="{left + i * bin_w + pad + g * bar_w:.1f}" y="{upper + plot_h - bar_h:.1f}" '
                             f'width="{bar_w:.1f}" height="{bar_h:.1f}" fill="{colour}"><title>{e(tip)}</title></rect>')
    parts += _ticks(bins, left, bin_w, height - lower + 14, width - right)
    base = upper + plot_h
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{base}" y2="{base}" stroke="{AXIS}"/>')
    if threshold is not None:
        if bins.edges[0] <= threshold <= bins.edges[-1]:
            x = left + plot_w * (threshold - bins.edges[0]) / span
            anchor = "end" if x > left + plot_w * 0.7 else "start"
            parts.append(f'<line class="threshold" x1="{x:.1f}" x2="{x:.1f}" y1="{upper - 4}" y2="{base}" '
                         f'stroke="{THRESHOLD_COLOUR}" stroke-width="2" stroke-dasharray="5 3"/>'
                         f'<text x="{x + (-4 if anchor == "end" else 4):.1f}" y="{upper + 8}" text-anchor="{anchor}" '
                         f'fill="{THRESHOLD_COLOUR}" font-weight="600">{e(threshold_label)}</text>')
        else:
            where = (f"above every value (max {number(high)})" if threshold > high else
                     "below every value" if threshold < bins.edges[0] else "in the tail, past the last bin")
            parts.append(f'<text x="{width - right}" y="28" text-anchor="end" fill="{THRESHOLD_COLOUR}">'
                         f'{e(threshold_label)}: {e(where)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # every label in parts went through e()


def _bin_label(bins: Bins, i: int) -> str:
    last = i == len(bins.edges) - 2
    if bins.integer:
        return f"{number(bins.edges[i])}{' or more' if last and bins.overflow else ''}"
    if last and bins.overflow:
        return f"{number(bins.edges[i])} or more"
    return f"{number(bins.edges[i])} to {number(bins.edges[i + 1])}"


def _ticks(bins: Bins, left: float, bin_w: float, y: float, right_edge: float) -> list[str]:
    """At most about 8 labels on the x axis: bin centres for one-number bins, bin edges otherwise."""
    count = len(bins.edges) - 1
    step = max(1, -(-count // 8))
    if bins.integer:
        spots = [(left + (i + 0.5) * bin_w, i, i == count - 1) for i in range(0, count, step)]
    else:
        spots = [(left + i * bin_w, i, i == count) for i in range(0, count + 1, step)]
        end = left + count * bin_w  # the axis's end is always labelled (right-aligned): drop a label it would overlap
        spots = [spot for spot in spots if spot[0] < end - 60] + [(end, count, True)]
    out = []
    for x, i, last in spots:
        label = number(bins.edges[i]) + ("+" if bins.overflow and last else "")
        anchor = "end" if x > right_edge - 12 else "middle"  # the last label stays inside the chart
        out.append(f'<text x="{x:.1f}" y="{y}" text-anchor="{anchor}" fill="{AXIS}">{e(label)}</text>')
    return out
