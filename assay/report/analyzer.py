"""The analyzer page of `assay score --report`: a scored file's statistics as one self-contained HTML page.

Like Data-Juicer's analyzer: the counts by status and by reason code (each code explained),
one histogram per numeric statistic in `_assay.scores`, active and dropped stacked, the
recipe's threshold marked on it, the cluster sizes, and a few example drops per reason. The
data comes from `assay.pipeline.screen.analysis`; the page is the autoescaped template
`templates/analyzer.html.j2` in the session report's environment (`html.py`), so sample text
is shown, never run. Inline CSS and SVG, no script, no remote file.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from statistics import fmean, median
from collections.abc import Sequence
from typing import Any

from assay.core.recipe_screen import ScreenSettings
from assay.core.writers import atomic_text
from assay.pipeline.screen.analysis import Analysis, Statistic, analyze_scored
from assay.report.analyzer_charts import number, split_histogram
from assay.report.charts import hbars
from assay.report.html import environment

DROP_COLOUR, CLUSTER_COLOUR = "#D55E00", "#009E73"
MAX_CLUSTER_BARS = 40


def write_analysis(scored: str | Path, page: str | Path, screen: ScreenSettings | None = None, *,
                   summary: dict[str, Any] | None = None, max_record_bytes: int | None = None) -> Path:
    """Analyze the scored file and write the page atomically; returns the page's path.

    `screen`: the recipe's `[screen]` section the file was scored with (its thresholds are
    marked). `summary`: `assay score`'s report (input path, stage timings), shown when given.
    """
    options = {"max_record_bytes": max_record_bytes} if max_record_bytes else {}
    html = render_analysis(analyze_scored(scored, screen, **options), summary)
    page = Path(page)
    with atomic_text(page) as handle:
        handle.write(html)
    return page


def percent(part: int, whole: int) -> str:
    """A share to one decimal, a small non-zero one as "<0.1%" rather than a misleading 0.0%."""
    share = part / max(whole, 1)
    return "<0.1%" if 0 < share < 0.001 else f"{share:.1%}"


def render_analysis(analysis: Analysis, summary: dict[str, Any] | None = None) -> str:
    """The whole page as text."""
    total = analysis.records
    drops = [{"code": g.code, "count": g.count, "share": percent(g.count, total), "explanation": g.explanation,
              "stages": ", ".join(f"{stage} {n:,}" if len(g.stages) > 1 else stage for stage, n in g.stages.most_common()),
              "examples": g.examples} for g in analysis.reasons]
    chart = (hbars([(g.code, g.count) for g in analysis.reasons], colour=DROP_COLOUR,
                   title=f"{analysis.dropped:,} dropped records by reason") if analysis.reasons else None)
    return environment().get_template("analyzer.html.j2").render(
        a=analysis, drops=drops, drop_chart=chart, statistics=[_statistic(s) for s in analysis.statistics],
        clusters=_clusters(analysis), summary=summary, stages=_stages(summary),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        share=lambda n: percent(n, total))


def _describe(values: Sequence[float]) -> str:
    if not values:
        return "none"
    return f"{len(values):,} · mean {number(round(fmean(values), 4))} · median {number(median(values))}"


def _statistic(stat: Statistic) -> dict[str, Any]:
    """One statistic's chart and its lines of text."""
    limit = stat.threshold
    label = f"drops {limit.rule} {number(limit.value)}" if limit else ""
    values = [min(stat.active, default=math.inf), min(stat.dropped, default=math.inf),
              max(stat.active, default=-math.inf), max(stat.dropped, default=-math.inf)]
    return {"name": stat.name, "chart": split_histogram(stat.active, stat.dropped, title=stat.name,
                                                        threshold=limit.value if limit else None, threshold_label=label),
            "range": f"min {number(min(values[:2]))} · max {number(max(values[2:]))}",
            "active": _describe(stat.active), "dropped": _describe(stat.dropped),
            "threshold": (f"{label} ({limit.key}{'; ' + limit.note if limit.note else ''})" if limit else None)}


def _clusters(analysis: Analysis) -> dict[str, Any] | None:
    """Active samples per cluster, largest first (the largest `MAX_CLUSTER_BARS` drawn)."""
    if not analysis.clusters:
        return None
    sizes = [n for _, n in analysis.clusters]
    shown = analysis.clusters[:MAX_CLUSTER_BARS]
    chart = hbars([(f"cluster {c}", n) for c, n in shown], colour=CLUSTER_COLOUR, label_chars=12,
                  title=f"active samples in each of {len(sizes):,} clusters")
    note = (f"{len(sizes):,} clusters; largest {sizes[0]:,}, smallest {sizes[-1]:,}, median {number(median(sizes))}"
            + (f"; the {MAX_CLUSTER_BARS} largest drawn" if len(sizes) > MAX_CLUSTER_BARS else ""))
    return {"chart": chart, "note": note}


def _stages(summary: dict[str, Any] | None) -> list[list[str]]:
    if not summary:
        return []
    rows = [["embedding", f"{summary['total']:,}", "—", f"{summary['embed_seconds']:.1f}"]] if summary.get(
        "embed_seconds") else []
    return rows + [[s["name"], f"{s['seen']:,}", f"{s['dropped']:,}", f"{s['seconds']:.1f}"]
                   for s in summary.get("stages", [])]
