"""Render a `ReportData` as one self-contained HTML page: inline CSS and SVG, no script, no remote file.

The page is the Jinja2 template `templates/report.html.j2`, autoescaped: every piece of text
from the session (sample ids, reasons, rationales, file names, model names) is made inert
first (`visible`: control characters as escapes), then escaped, since sample text can hold
markup and the page must show it, not run it. Only the SVG charts (`Markup` built from
escaped parts) are inserted as they are. This module shapes the data for the template:
numbers formatted, statistics computed, charts drawn.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from statistics import mean, median
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from assay.core.safe_text import visible
from assay.report.charts import bin_counts, hbars, histogram, scatter
from assay.report.data import CostRow, ReportData
from assay.report.tokens import token_section

SCORE_EDGES = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
STATUS_COLOURS = {"selected": "#009E73", "active": "#E69F00", "dropped": "#9a9a9a"}  # Okabe-Ito: colour-blind safe
BEFORE_COLOUR, AFTER_COLOUR, DROP_COLOUR = "#56B4E9", "#009E73", "#D55E00"
KEY_METRICS = ("active", "judged", "qualifying", "export_mean_quality", "export_min_quality",
               "cluster_coverage", "topic_coverage", "duplicate_rate")
AT_MOST = {"duplicate_rate", "zero_contamination"}  # targets met from below
COST_FIELDS = ("calls", "cached", "failed", "prompt_tokens", "completion_tokens", "usd")


def _inert(value: Any) -> Any:
    """What every `{{ value }}` passes through before autoescape: strings with their control characters
    made visible. `Markup` (a chart, a macro, a `join` of escaped items) stays markup: escaping adds no
    control character, so making them visible there too is safe and catches any a filter let through."""
    if isinstance(value, Markup):
        return Markup(visible(str(value)))
    return visible(value) if isinstance(value, str) else value


@cache
def environment() -> Environment:
    """The report's template environment: autoescape on, undefined names an error, text made inert."""
    env = Environment(loader=PackageLoader("assay.report", "templates"), autoescape=True, undefined=StrictUndefined,
                      finalize=_inert, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = num
    env.filters["when"] = when
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.filters["usd"] = lambda v: f"${v:,.4f}"
    env.filters["percent"] = lambda share: f"{share:.0%}"
    return env


def render(data: ReportData) -> str:
    """The whole page as text."""
    return environment().get_template("report.html.j2").render(
        data=data, chips=_chips(data), at_most=AT_MOST, key_metrics=KEY_METRICS,
        met=sum(t.met for t in data.targets), scores=_scores(data), drops=_drops(data), map=_map(data),
        cost=_cost(data), tokens=token_section(data.tokens), cues=data.cues,
        rubric=data.rubric)


def num(value: Any, digits: int = 2) -> str:
    """A number for a table cell: counts without decimals, other values rounded, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def when(stamp: str) -> str:
    """An ISO timestamp to the second, in UTC when it carries a zone; anything else as given."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _chips(data: ReportData) -> list[str]:
    chips = [f"{num(sum(data.status_counts.values()))} samples"]
    chips += [f"{num(data.status_counts.get(s, 0))} {s}" for s in ("selected", "active", "dropped")]
    return chips + [f"{num(n)} {op}" for op, n in sorted(data.op_counts.items())]


def stats(values: list[float]) -> str:
    """One line on a score distribution: size, mean, median and the share scoring at least 4."""
    if not values:
        return "no judged samples"
    good = sum(v >= 4 for v in values) / len(values)
    return (f"n = {len(values):,} · mean {mean(values):.2f} · median {median(values):.2f} · "
            f"{good:.0%} score ≥ 4")


def _scores(data: ReportData) -> dict[str, Any] | None:
    """The before and after histograms, on one scale, with their statistics."""
    if not data.before and not data.after:
        return None
    shares = [100 * c / max(len(v), 1) for v in (data.before, data.after) for c in bin_counts(v, SCORE_EDGES)]
    top = max(shares, default=0.0)
    return {"before": histogram(data.before, SCORE_EDGES, colour=BEFORE_COLOUR,
                                title="before: seed samples, first verdict", y_max=top),
            "after": histogram(data.after, SCORE_EDGES, colour=AFTER_COLOUR, title=f"after: {data.after_label}",
                               y_max=top),
            "before_stats": stats(data.before), "after_stats": stats(data.after)}


def _drops(data: ReportData) -> dict[str, Any] | None:
    """The drop bars and one table row per reason family."""
    if not data.drops:
        return None
    total = sum(d.count for d in data.drops)
    chart = hbars([(d.family, d.count) for d in data.drops], colour=DROP_COLOUR, title=f"{total:,} dropped samples")
    rows = [{"family": d.family, "count": num(d.count), "share": f"{d.count / total:.1%}", "stage": d.stage or "—",
             "example": d.example[:200]} for d in data.drops]
    return {"chart": chart, "rows": rows}


def _map(data: ReportData) -> dict[str, Any] | None:
    """The pool map scatter and what share of the pool it shows."""
    found = data.pool_map
    if found is None:
        return None
    shown = len(found.statuses)
    note = (f"a seeded random {shown:,} of {found.total:,} samples" if shown < found.total
            else f"all {shown:,} samples")
    total = data.status_counts
    legend = {k: f"{k} ({found.statuses.count(k):,} of {total.get(k, 0):,})" if shown < found.total
              else f"{k} ({total.get(k, 0):,})" for k in STATUS_COLOURS}
    chart = scatter(found.xy, found.statuses, STATUS_COLOURS, hover=found.hover, legend=legend,
                    title="stored embeddings, first two principal components",
                    draw_order=("dropped", "active", "selected"))
    return {"chart": chart, "note": note, "explained": found.explained, "caveat": found.explained_note(),
            "explains_little": found.explains_little}


def _cost_rows(rows: list[CostRow]) -> list[list[str]]:
    return [[r.key, num(r.calls), num(r.cached), num(r.failed), num(r.prompt_tokens), num(r.completion_tokens),
             f"${r.usd:,.4f}"] for r in rows]


def _cost(data: ReportData) -> dict[str, Any] | None:
    """Spend by agent (with a total row) and by round, and the budget the session ran under."""
    rows = data.cost_by_agent
    if not rows:
        return None
    total = CostRow("total", *(sum(getattr(r, f) for r in rows) for f in COST_FIELDS))
    return {"total": total, "tokens": total.prompt_tokens + total.completion_tokens,
            "budget": ", ".join(f"{k} {num(v)}" for k, v in data.budget.items()) or "none",
            "head": ["calls", "cached", "failed", "prompt tokens", "completion tokens", "USD"],
            "by_agent": _cost_rows([*rows, total]), "by_round": _cost_rows(data.cost_by_round)}
