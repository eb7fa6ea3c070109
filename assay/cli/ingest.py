"""`assay ingest`: read sample files into a session, then show per-file counts and the session's size."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from assay.cli.options import FieldOpt, RecipeOpt, SessionDir, field_map, recipe_config, runtime

if TYPE_CHECKING:
    from assay.pipeline.intake.session import IngestOutcome


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Sample files: Alpaca JSON/JSONL, ShareGPT, OpenAI messages JSONL, Parquet.")],
    session: SessionDir,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Keep going past invalid records; write them to DIR/ingest_rejects.jsonl.")] = False,
    max_record_mb: Annotated[Optional[float], typer.Option("--max-record-mb", help="Largest record accepted (default 16).")] = None,
    chroma_url: Annotated[Optional[str], typer.Option("--chroma-url", help="Use a Chroma server instead of the embedded store.")] = None,
    recipe: RecipeOpt = None,
    fields: FieldOpt = None,
) -> None:
    """Read sample files into a session: validate, embed and store. Re-ingesting adds nothing."""
    from assay.cli.render import console, progress_from_first_task
    from assay.pipeline.intake.check import check_inputs
    from assay.pipeline.intake.session import ingest_into

    mapping = field_map(fields)
    config = recipe_config(recipe, **{"store.max_record_mb": max_record_mb, "store.chroma_url": chroma_url})
    with console.status("reading and validating…"):
        checked = check_inputs(paths, skip_invalid=skip_invalid, max_record_bytes=int(config.store.max_record_mb * 1e6),
                               fields=mapping)
    with progress_from_first_task() as progress:
        outcome = ingest_into(session, paths, checked, skip_invalid=skip_invalid, runtime=runtime(), config=config,
                              fields=mapping, progress=progress)
    console.print(ingest_table(outcome))


def ingest_table(outcome: IngestOutcome) -> Any:
    """Per-file counts and the session's totals after an ingest."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from assay.core.safe_text import visible
    from assay.cli.text import cells, plain

    report = outcome.report
    table = Table(title="ingest", show_lines=False)
    for column in ("file", "format", "valid", "invalid", "repeats"):
        table.add_column(column, justify="left" if column in ("file", "format") else "right")
    for f in report.files:
        shape = f"{f.shape.format} / {f.shape.container}" if f.shape else "-"
        table.add_row(*cells(f.path, shape, f.valid, f.invalid, f.repeats))
    lines = [Text.assemble("added ", (str(report.added), "bold"), visible(
        f" new samples; {report.already_present} were already in the session; "
        f"session now holds {outcome.samples} samples in {outcome.directory}"))]
    if report.rejects_path:
        lines.append(plain(f"{report.invalid} invalid records written to {report.rejects_path}", "yellow"))
    return Group(table, *lines)
