"""Render a `ReportData` as one self-contained HTML page: inline CSS and SVG, no script, no remote file.

Every piece of text from the session (sample ids, reasons, rationales, file names, model
names) goes through `e()` — sample text can hold markup, and the page must show it, not run it.
"""

from __future__ import annotations

from statistics import mean, median
from typing import Any

from assay.report.data import CostRow, ReportData
from assay.report.charts import bin_counts, e, hbars, histogram, scatter

SCORE_EDGES = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)
STATUS_COLOURS = {"selected": "#009E73", "active": "#E69F00", "dropped": "#9a9a9a"}  # Okabe-Ito: colour-blind safe
BEFORE_COLOUR, AFTER_COLOUR, DROP_COLOUR = "#56B4E9", "#009E73", "#D55E00"
KEY_METRICS = ("active", "judged", "qualifying", "export_mean_quality", "export_min_quality",
               "cluster_coverage", "topic_coverage", "duplicate_rate")
AT_MOST = {"duplicate_rate", "zero_contamination"}  # targets met from below

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0;background:#f6f6f4}
main{max-width:1120px;margin:0 auto;padding:20px 28px 60px;background:#fff;min-height:100vh}
h1{font-size:22px;margin:4px 0 6px}h2{font-size:17px;margin:30px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;margin:0 0 8px}.meta b{color:#222;font-weight:600}
nav{margin:10px 0 4px;font-size:13px}nav a{margin-right:12px;color:#0b62a4;text-decoration:none}
.banner{background:#fff3cd;border:1px solid #e0b84c;padding:8px 12px;margin:10px 0;border-radius:4px;font-weight:600}
.stop{background:#eef5fb;border-left:4px solid #0b62a4;padding:8px 12px;margin:8px 0}
.chips span{display:inline-block;background:#f0f0ee;border-radius:12px;padding:2px 10px;margin:2px 6px 2px 0;
 font-size:13px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e6e6e6;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#fafafa;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:nth-child(even){background:#fcfcfb}
.ok{color:#007a5a;font-weight:700}.no{color:#c0392b;font-weight:700}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}.row>div{flex:0 1 auto}
.note{color:#666;font-size:13px;margin:4px 0}.small{font-size:12px;color:#555}.kv{white-space:nowrap}
h3{font-size:14px;margin:8px 0 2px}.row table{width:auto}
.wrap{overflow-wrap:anywhere;max-width:420px}svg.chart{max-width:100%;height:auto}
"""


def render(data: ReportData) -> str:
    """The whole page as text."""
    sections = [_header(data), _targets(data), _rounds(data), _scores(data), _drops(data), _map(data), _cost(data)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>assay report · {e(data.session_id)}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(sections)}</main></body></html>\n")


def num(value: Any, digits: int = 2) -> str:
    """A number for a table cell: counts without decimals, other values rounded, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return e(value)
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def _table(head: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """A table from already-escaped cells; `numeric` columns are right-aligned."""
    cls = [' class="n"' if i in numeric else "" for i in range(len(head))]
    top = "".join(f"<th{cls[i]}>{e(h)}</th>" for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f"<td{cls[i]}>{c}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{top}</tr></thead><tbody>{body}</tbody></table>"


def when(stamp: str) -> str:
    """An ISO timestamp to the second, in UTC when it carries a zone; anything else as given."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _header(data: ReportData) -> str:
    inputs = ", ".join(e(p) for p in data.inputs) or "—"
    models = ", ".join(e(m) for m in data.models) or "no LLM calls"
    chips = [f"{num(sum(data.status_counts.values()))} samples"]
    chips += [f"{num(data.status_counts.get(s, 0))} {s}" for s in ("selected", "active", "dropped")]
    chips += [f"{num(n)} {e(op)}" for op, n in sorted(data.op_counts.items())]
    banner = ('<div class="banner">Dry run — placeholder model: scores mean nothing. '
              "Every verdict and rewrite in this report came from a placeholder, not a model.</div>"
              if data.dry_run else "")
    stop = (f'<div class="stop"><b>Stopped: {e(data.stop_reason)}</b> — {e(data.stop_message)}</div>'
            if data.stop_reason else '<div class="stop">The session has not stopped yet.</div>')
    links = "".join(f'<a href="#{k}">{t}</a>' for k, t in (
        ("targets", "Targets"), ("rounds", "Rounds"), ("scores", "Scores"), ("drops", "Drops"), ("map", "Pool map"),
        ("cost", "Cost")))
    return (f"<h1>assay session report</h1>{banner}"
            f'<p class="meta"><b>session</b> {e(data.session_id)} · <b>created</b> {e(when(data.created_at))} · '
            f"<b>assay</b> {e(data.version)}</p>"
            f'<p class="meta"><b>input</b> {inputs}</p><p class="meta"><b>models</b> {models}</p>'
            f'<div class="chips">{"".join(f"<span>{c}</span>" for c in chips)}</div>{stop}<nav>{links}</nav>')


def _targets(data: ReportData) -> str:
    if not data.targets:
        return '<h2 id="targets">Targets vs achieved</h2><p class="note">No targets were set.</p>'
    rows = []
    for t in data.targets:
        sign = "≤" if t.name in AT_MOST else "≥"
        mark = '<span class="ok">✓</span>' if t.met else '<span class="no">✗</span>'
        rows.append([e(t.name), f"{sign} {num(t.target)}", num(t.achieved), mark, e(t.detail)])
    met = sum(t.met for t in data.targets)
    return (f'<h2 id="targets">Targets vs achieved</h2><p class="note">{met} of {len(data.targets)} targets met.</p>'
            + _table(["target", "wanted", "achieved", "met", "detail"], rows, {1, 2}))


def _rounds(data: ReportData) -> str:
    title = '<h2 id="rounds">Rounds</h2>'
    if not data.rounds:
        return title + '<p class="note">Nothing was done yet: the session holds no samples.</p>'
    rows = []
    for r in data.rounds:
        metrics = "<br>".join(f"{e(k)} {num(r.metrics[k])}" for k in KEY_METRICS if r.metrics.get(k) is not None)
        outcome = "<br>".join(f"{e(k)}: {num(v)}" for k, v in r.outcome.items()) or "—"
        rows.append([num(r.round), f'<span class="kv">{e(r.action)}</span>',
                     f'<div class="wrap">{e(r.rationale)}</div>', e(r.planner),
                     f'<span class="small kv">{metrics or "—"}</span>', f'<span class="small kv">{outcome}</span>'])
    return title + _table(["round", "action", "rationale", "planner", "metrics at start", "outcome"], rows, {0})


def _stats(values: list[float]) -> str:
    if not values:
        return "no judged samples"
    good = sum(v >= 4 for v in values) / len(values)
    return (f"n = {len(values):,} · mean {mean(values):.2f} · median {median(values):.2f} · "
            f"{good:.0%} score ≥ 4")


def _scores(data: ReportData) -> str:
    title = '<h2 id="scores">Score distributions</h2>'
    if not data.before and not data.after:
        return title + '<p class="note">No sample has a judge verdict yet.</p>'
    shares = [100 * c / max(len(v), 1) for v in (data.before, data.after) for c in bin_counts(v, SCORE_EDGES)]
    top = max(shares, default=0.0)
    before = histogram(data.before, SCORE_EDGES, colour=BEFORE_COLOUR, title="before: seed samples, first verdict",
                       y_max=top)
    after = histogram(data.after, SCORE_EDGES, colour=AFTER_COLOUR, title=f"after: {data.after_label}", y_max=top)
    return (title + '<p class="note">Share of samples per judge overall score (1–5); hover a bar for counts.</p>'
            f'<div class="row"><div>{before}<p class="small">{_stats(data.before)}</p></div>'
            f'<div>{after}<p class="small">{_stats(data.after)}</p></div></div>')


def _drops(data: ReportData) -> str:
    title = '<h2 id="drops">Drops by reason</h2>'
    if not data.drops:
        return title + '<p class="note">No sample was dropped.</p>'
    total = sum(d.count for d in data.drops)
    chart = hbars([(d.family, d.count) for d in data.drops], colour=DROP_COLOUR, title=f"{total:,} dropped samples")
    rows = [[e(d.family), num(d.count), f"{d.count / total:.1%}", e(d.stage) or "—",
             f'<div class="wrap small">{e(d.example[:200])}</div>'] for d in data.drops]
    return title + chart + _table(["reason", "samples", "share", "dropped by", "most common reason"], rows, {1, 2})


def _map(data: ReportData) -> str:
    title = '<h2 id="map">Pool map</h2>'
    found = data.pool_map
    if found is None:
        return title + f'<p class="note">No map: {e(data.map_note)}.</p>'
    shown = len(found.statuses)
    sample_note = (f"a seeded random {shown:,} of {found.total:,} samples" if shown < found.total
                   else f"all {shown:,} samples")
    total = data.status_counts
    legend = {k: f"{k} ({found.statuses.count(k):,} of {total.get(k, 0):,})" if shown < found.total
              else f"{k} ({total.get(k, 0):,})" for k in STATUS_COLOURS}
    chart = scatter(found.xy, found.statuses, STATUS_COLOURS, hover=found.hover, legend=legend,
                    title="stored embeddings, first two principal components",
                    draw_order=("dropped", "active", "selected"))
    return (title + f'<p class="note">PCA of {sample_note}; the axes explain {found.explained[0]:.0%} and '
            f"{found.explained[1]:.0%} of the variance. Hover a point for its id, status and reason.</p>{chart}")


def _cost_rows(rows: list[CostRow]) -> list[list[str]]:
    return [[e(r.key), num(r.calls), num(r.cached), num(r.failed), num(r.prompt_tokens), num(r.completion_tokens),
             f"${r.usd:,.4f}"] for r in rows]


def _cost(data: ReportData) -> str:
    title = '<h2 id="cost">Cost</h2>'
    if not data.cost_by_agent:
        return title + '<p class="note">No LLM calls were made.</p>'
    rows = data.cost_by_agent
    total = CostRow("total", *(sum(getattr(r, f) for r in rows) for f in
                               ("calls", "cached", "failed", "prompt_tokens", "completion_tokens", "usd")))
    head = ["calls", "cached", "failed", "prompt tokens", "completion tokens", "USD"]
    budget = ", ".join(f"{e(k)} {num(v)}" for k, v in data.budget.items()) or "none"
    return (title + f'<p class="note">{total.calls:,} calls sent (plus {total.cached:,} answered from the cache), '
            f"{total.prompt_tokens + total.completion_tokens:,} tokens, ${total.usd:,.4f}. Budget: {budget}.</p>"
            '<div class="row"><div><h3>by agent</h3>'
            + _table(["agent", *head], _cost_rows([*rows, total]), set(range(1, 7)))
            + '</div><div><h3>by round</h3>'
            + _table(["round", *head], _cost_rows(data.cost_by_round), set(range(1, 7)))
            + "</div></div>")
