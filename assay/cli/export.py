"""`assay export DIR --preference-pairs F`: a session's preference evidence as DPO/KTO training pairs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

MinMarginOpt = Annotated[float, typer.Option("--min-margin", min=0, help="Smallest judge-score difference (1-5 scale) a pair may have where both sides were scored.")]
PairSourcesOpt = Annotated[Optional[str], typer.Option("--pair-sources", help="Comma-separated pair sources: repair, synthetic_sibling, judged_response (default: all).")]


def export(
    session: Annotated[Path, typer.Argument(help="Session folder made by `assay run`.")],
    preference_pairs: Annotated[Path, typer.Option("--preference-pairs", help="Write preference pairs (TRL prompt/chosen/rejected JSONL) to this file.")],
    min_margin: MinMarginOpt = 1.0,
    sources: PairSourcesOpt = None,
    verify: Annotated[bool, typer.Option("--verify", help="Compare the pairs that rest on pointwise scores (judged responses, siblings) with the pairwise judge in both orders, and keep only those both orders prefer (LLM calls, traced in the session).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON for machines.")] = False,
) -> None:
    """Export a session's preference pairs: accepted repairs, synthetic siblings, judged responses."""
    from assay.cli.options import runtime
    from assay.pipeline.preference.export import export_pairs

    summary = export_pairs(session, runtime(), preference_pairs, pair_options(min_margin, sources), verify=verify)
    if as_json:
        from assay.core.safe_text import json_text

        sys.stdout.write(json_text(summary, indent=2) + "\n")
        return
    from assay.cli.render import console

    console.print(pairs_view(summary))


def pair_options(min_margin: float, sources: str | None) -> Any:
    """The builder's options from the flags; an unknown source is a usage error."""
    from assay.pipeline.preference.model import SOURCES, PairOptions

    chosen = tuple(s.strip() for s in sources.split(",") if s.strip()) if sources else SOURCES
    try:
        return PairOptions(min_margin=min_margin, sources=chosen)  # type: ignore[arg-type]
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--pair-sources") from None


def pairs_view(summary: dict[str, Any]) -> Any:
    """The summary as a Rich table: pairs and drops by source."""
    from rich.table import Table

    checked = ", both orders checked" if summary.get("verified") else ""
    table = Table(title=f"{summary['written']} preference pairs → {summary['path']}  (min margin {summary['min_margin']:g}{checked})")
    table.add_column("source")
    table.add_column("pairs", justify="right")
    table.add_column("dropped (reason: n)")
    for source, row in summary["by_source"].items():
        drops = ", ".join(f"{reason}: {n}" for reason, n in row["dropped"].items()) or "-"
        table.add_row(source, str(row["pairs"]), drops)
    return table
