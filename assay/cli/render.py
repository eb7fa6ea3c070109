"""Rich tables and views for the CLI."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from assay.core.safe_text import cells, plain, visible

if TYPE_CHECKING:
    from assay.pipeline.ingest import IngestReport
    from assay.pipeline.model_check import ModelCheckOutcome
    from assay.session.session import Runtime, Session

console = Console()


def progress_bar() -> Progress:
    """The progress display used by long commands."""
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


def ingest_table(report: IngestReport, session: Session) -> Group:
    """Per-file counts and the session's totals after an ingest."""
    table = Table(title="ingest", show_lines=False)
    for column in ("file", "format", "valid", "invalid", "repeats"):
        table.add_column(column, justify="left" if column in ("file", "format") else "right")
    for f in report.files:
        shape = f"{f.shape.format} / {f.shape.container}" if f.shape else "-"
        table.add_row(*cells(f.path, shape, f.valid, f.invalid, f.repeats))
    lines = [Text.assemble("added ", (str(report.added), "bold"), visible(
        f" new samples; {report.already_present} were already in the session; "
        f"session now holds {session.samples.count()} samples in {session.dir}"))]
    if report.rejects_path:
        lines.append(plain(f"{report.invalid} invalid records written to {report.rejects_path}", "yellow"))
    return Group(table, *lines)


def sessions_table(runtime: Runtime) -> Table:
    """The registered sessions that still exist, with sample counts and spend."""
    from assay.session.db import connect
    from assay.session.registry import registered
    from assay.session.session import DB_NAME

    table = Table(title="sessions")
    for column in ("folder", "created", "samples", "LLM calls", "cost (USD)"):
        table.add_column(column, justify="left" if column in ("folder", "created") else "right")
    for folder in registered(runtime):
        if not (folder / DB_NAME).is_file():
            continue
        conn = connect(folder / DB_NAME, read_only=True)
        created = conn.execute("SELECT value FROM meta WHERE key = 'created_at'").fetchone()
        samples = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        calls, cost = conn.execute("SELECT SUM(outcome != 'cached'), COALESCE(SUM(cost_usd), 0) FROM llm_calls").fetchone()
        conn.close()
        table.add_row(*cells(folder, json.loads(created[0])[:19] if created else "-", samples, calls or 0, f"{cost:.4f}"))
    return table


def model_check_view(outcome: ModelCheckOutcome) -> Panel:
    """The result of `assay models check`."""
    result = outcome.result
    rows = [f"model: {outcome.model}" + (" (dry run: placeholder answers)" if outcome.dry_run else ""),
            f"time: {outcome.seconds:.2f} s · tokens: {result.prompt_tokens}+{result.completion_tokens} · "
            f"cost: ${result.cost_usd:.5f} · calls: {len(result.call_ids)}" + (" (cached)" if result.cached else "")]
    if result.ok:
        rows.append(f"structured answer: {result.value.model_dump_json()}")
        rows.append("the sum is right" if outcome.correct else "valid JSON, but the sum is wrong (17 + 25 = 42)")
    else:
        rows += [f"failed: {result.error}", f"raw answer: {result.raw!r}"]
    style = "green" if result.ok else "red"
    return Panel(plain("\n".join(rows)), title="models check", border_style=style, title_align="left")


def score_view(report: dict[str, Any]) -> Group:
    """`assay score`'s summary: kept and dropped by reason, stages, score distributions."""
    total = report["total"]
    reasons = Table(title=f"{total} distinct samples")
    for column in ("outcome", "count", "share"):
        reasons.add_column(column, justify="left" if column == "outcome" else "right")
    for reason, count in report["by_reason"].items():
        reasons.add_row(*cells(reason, count, f"{count / max(total, 1):.1%}"))
    stages = Table(title="stages")
    for column in ("stage", "seen", "dropped", "seconds", "samples/s"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    if report["embed_seconds"]:
        stages.add_row("embedding", str(total), "-", f"{report['embed_seconds']:.1f}", f"{total / report['embed_seconds']:.0f}")
    for stage in report["stages"]:
        rate = f"{stage['seen'] / stage['seconds']:.0f}" if stage["seconds"] > 0 else "-"
        stages.add_row(*cells(stage["name"], stage["seen"], stage["dropped"], f"{stage['seconds']:.1f}", rate))
    scores = Table(title="scores")
    for column in ("score", "count", "mean", "p10", "median", "p90"):
        scores.add_column(column, justify="left" if column == "score" else "right")
    for name, d in report["scores"].items():
        scores.add_row(*cells(name, d["count"], *(f"{d[k]:.3g}" for k in ("mean", "p10", "median", "p90"))))
    lines = [f"wrote {report['written']} records to {report['out']} in {report['seconds']:.1f} s"]
    if report["repeats"]:
        lines.append(f"{report['repeats']} records repeated an earlier one exactly: marked duplicate_of in the output")
    if report["clusters"]:
        sizes = [row["count"] for row in report["cluster_table"]]
        lines.append(f"{report['clusters']} clusters over the kept samples: sizes {max(sizes)} largest, "
                     f"{min(sizes)} smallest; entropy {report['cluster_entropy']:.3f} of an even 1.0")
    lines.append(f"prompt injection: {report.get('injection', 0)} distinct samples hold text addressed to a grader or a "
                 "model (listed in _assay.injection; kept, not dropped)")
    if report["invalid"]:
        lines.append(f"{report['invalid']} invalid records skipped")
    if report["session"]:
        lines.append(f"results recorded in session {report['session']} (see `assay trace`)")
    return Group(reasons, stages, scores, *(plain(line) for line in lines))
