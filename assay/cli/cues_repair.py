"""`assay cues repair DIR`: rewrite the responses that carry a significant bias cue, keeping only safe rewrites."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from assay.cli.options import DryRunOpt, ModelOpt, PriceOpt, RecipeOpt, price_settings, recipe_config, runtime

if TYPE_CHECKING:
    from assay.pipeline.repair.cue_session import CueSessionReport

REASON_WORDS = {
    "cue_kept": "cue still there", "low_cosine": "meaning drifted (cosine)", "judge_prefers_original":
    "judge preferred the original in an order", "claims_dropped": "claims dropped", "no_change": "no change",
    "rewrite_failed": "rewrite failed", "judge_failed": "judge failed", "claims_failed": "claim check failed",
}


def cues_repair(
    directory: Annotated[Path, typer.Argument(help="Session folder with a detection run (`assay cues detect DIR`).")],
    max_repairs: Annotated[Optional[int], typer.Option("--max", min=0, help="Samples rewritten at most. Default: the recipe's \\[cues] max_repairs (50).")] = None,
    min_cosine: Annotated[Optional[float], typer.Option("--min-cosine", min=-1.0, max=1.0, help="Embedding cosine a rewrite needs with the original (its cue cut out). Default: \\[cues] min_cosine (0.9).")] = None,
    min_claims_kept: Annotated[Optional[float], typer.Option("--min-claims-kept", min=0.0, max=1.0, help="Share of the original's claims the rewrite must still support. Default: \\[cues] min_claims_kept (0.9).")] = None,
    review: Annotated[bool, typer.Option("--review", help="Hold the kept rewrites for `assay review`; the next `assay cues repair` applies the approved ones.")] = False,
    model: ModelOpt = None,
    price: PriceOpt = None,
    dry_run: DryRunOpt = False,
    recipe: RecipeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")] = False,
) -> None:
    """Ask the rewriter to remove each significant, removable cue of the latest detection from the responses that carry
    it. A rewrite is kept only if the cue is gone, the pairwise judge finds it at least as good in both orders, and the
    meaning is kept (embedding cosine and the claim check); every attempt is traced with its numbers."""
    from assay.cli.render import console, status
    from assay.pipeline.repair.cue_session import repair_session

    config = recipe_config(recipe, **{"models.default": model, "dry_run": dry_run or None, "cues.min_cosine": min_cosine,
                                      "cues.min_claims_kept": min_claims_kept, **price_settings(price)})
    with status("repairing bias cues…"):
        report = repair_session(directory, runtime(), config, review=review, max_repairs=max_repairs)
    if as_json:
        import json

        typer.echo(json.dumps(as_dict(report), indent=2))
        return
    console.print(repair_view(report))


def as_dict(report: CueSessionReport) -> dict[str, Any]:
    """For --json: per cue, its counts and prevalence before and after; the round's totals."""
    rows = [{**row, "prevalence_before": report.before.get(row["cue"]), "prevalence_after": report.after.get(row["cue"])}
            for row in report.repair.rows()]
    return {"session": report.session, "round": report.repair.round, "cues": rows, "proposals": report.repair.proposals,
            "pending_review": report.pending, "applied": report.applied, "calls": report.calls,
            "budget_spent": report.repair.budget_spent}


def repair_view(report: CueSessionReport) -> Any:
    """Per cue: samples carrying it, rewrites tried, kept, rejected by reason, prevalence before and after."""
    from rich.console import Group
    from rich.table import Table

    from assay.cli.text import cells, plain

    repair = report.repair
    table = Table(title=f"bias-cue repair, round {repair.round}")
    for column in ("cue", "carrying", "tried", "kept", "rejected by reason", "prevalence before → after"):
        table.add_column(column, justify="left" if column in ("cue", "rejected by reason") else "right")
    for row in repair.rows():
        rejected = "; ".join(f"{REASON_WORDS.get(r, r)} {n}" for r, n in row["rejected"].items()) or "-"
        table.add_row(*cells(row["cue"], row["carrying"], row["tried"], row["kept"], rejected,
                             f"{report.before.get(row['cue'], 0):.1%} → {report.after.get(row['cue'], 0):.1%}"))
    lines = [f"{repair.proposals} rewrites kept; {report.calls} LLM calls; every attempt is a `cue_repair` decision "
             f"(`assay trace {report.session}`)"]
    if not repair.cues:
        lines.append("no significant removable cue in the latest detection: nothing to repair")
    if report.pending:
        lines.append(f"{report.pending} rewrites wait for review: `assay review {report.session}`, then run "
                     "`assay cues repair` again to apply the approved ones")
    for round, n in report.applied.items():
        if n:
            lines.append(f"applied {n} rewrites of round {round} to the pool (they replace their originals, unjudged)")
    if repair.budget_spent:
        lines.append(f"stopped: {repair.budget_spent}")
    return Group(table, *(plain(line) for line in lines))
