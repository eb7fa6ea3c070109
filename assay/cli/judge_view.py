"""`assay judge`'s closing summary: outcomes, scores or winners, issues, factuality, spend."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table

from assay.core.safe_text import visible_all
from assay.cli.text import cells, plain

BAR_WIDTH = 30


def judge_view(report: dict[str, Any]) -> Group:
    """The summary table, and where the output and the trace went (model and data text shown as text)."""
    report = visible_all(report)
    title = f"assay judge · {report['mode']}" + (" · DRY RUN (placeholder verdicts)" if report["dry_run"] else "")
    table = Table(title=plain(title), show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold", max_width=100)
    unit = "pairs" if report["mode"] == "pairwise" else "distinct samples"
    _row(table, "judged", f"{report['judged']} of {report['total']} {unit}")
    _row(table, "failed", f"{report['failed']}" + (f"  ({_counts(report['errors'])})" if report["errors"] else ""))
    if report["not_reached"]:
        _row(table, "not judged", f"{report['not_reached']} ({report['stopped']})")
    if report["mode"] == "pointwise":
        _pointwise_rows(table, report)
    else:
        _row(table, "winners", _counts(report["winners"]) or "-")
        if report["labelled"]:
            _row(table, "agreement with label", f"{report['label_accuracy']:.1%} of {report['labelled']} (tie = ½)")
    _row(table, "model", report["model"])
    _row(table, "LLM calls", f"{report['calls']} made, {report['cache_hits']} answered from cache")
    _row(table, "tokens · cost", f"{report['tokens']:,} · ${report['cost_usd']:.4f}")
    _row(table, "time", f"{report['seconds']:.1f} s")
    lines = [f"wrote {report['written']} records to {report['out']}",
             f"every call and decision is in session {report['session']} (see `assay trace`)"]
    if report["stopped"]:
        lines.insert(0, f"stopped early: {report['stopped']}; the rest is marked 'not judged' in the output")
    return Group(table, *(plain(line) for line in lines))


def _pointwise_rows(table: Table, report: dict[str, Any]) -> None:
    mean = report["mean_overall"]
    _row(table, "mean overall", "-" if mean is None else f"{mean:.2f}")
    peak = max(report["histogram"].values(), default=1)
    for score in range(1, 6):
        n = report["histogram"].get(score, 0)
        _row(table, f"  overall ≈ {score}", f"{n:>5} {'█' * round(BAR_WIDTH * n / peak)}")
    criteria = [f"{name} {value:.2f}" for name, value in report["criteria"].items() if value is not None]
    _row(table, "criteria (mean)", ", ".join(criteria) or "-")
    _row(table, "issues by type", _counts(report["issues"]) or "none")
    verify = report.get("verify")
    if verify is not None:
        factuality = verify["mean_factuality"]
        _row(table, "factuality (mean)", "-" if factuality is None else
                      f"{factuality:.2f} over {verify['verified']} samples with claims")
        _row(table, "claims by label", _counts(verify["labels"]) or "none")
        _row(table, "verification", f"{verify['no_claims']} without factual claims, {verify['failed']} failed")


def _row(table: Table, *values: Any) -> None:
    # Cells as Text: a plain string cell would be parsed as markup.
    table.add_row(*cells(*values))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())
