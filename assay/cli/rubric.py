"""`assay rubric refine DIR`: edit the judge's rubric where review decisions disagree with it, keep what measures better."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from assay.cli.options import ApiBaseOpt, ModelOpt, RecipeOpt, recipe_config, runtime

if TYPE_CHECKING:
    from assay.pipeline.rubric.record import RefineReport

rubric_app = typer.Typer(help="Refine the judge's rubric from human review decisions.", no_args_is_help=True)


@rubric_app.command("refine")
def rubric_refine(
    session: Annotated[Path, typer.Argument(help="Session folder whose review items a person decided (`assay review`).")],
    holdout: Annotated[float, typer.Option("--holdout", min=0.01, max=0.99, help="Share of decided items held out to measure each proposal on (stratified by decision).")] = 0.3,
    rounds: Annotated[int, typer.Option("--rounds", min=1, max=20, help="Proposals to try, each edited from the best rubric so far.")] = 1,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Where to write the refined rubric as a recipe fragment (default: DIR/refined_rubric.toml); written only when a proposal is kept.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the train / held-out split.")] = 0,
    rank_pending: Annotated[bool, typer.Option("--rank-pending/--no-rank-pending", help="Judge pending review items under the winning proposal too, so `assay review` can show the most informative first (costs calls).")] = True,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    recipe: RecipeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")] = False,
) -> None:
    """Propose rubric edits from the judge's disagreements with people and its pairwise ties; keep one only if agreement
    with the people's decisions rises on held-out items. Every call goes through the session's budget and cache."""
    from assay.cli.render import console
    from assay.pipeline.rubric.refine import RefineOptions
    from assay.pipeline.rubric.run import refine_session

    config = recipe_config(recipe, **{"models.default": model, "llm.api_base": api_base})
    options = RefineOptions(holdout=holdout, rounds=rounds, seed=seed, rank_pending=rank_pending, out=out)
    report = refine_session(session, runtime(), config, options)
    if as_json:
        typer.echo(report_json(report))
        return
    console.print(refine_view(report, session))


def report_json(report: RefineReport) -> str:
    """The report as JSON."""
    import json

    def rubric(r: Any) -> Any:
        return [{"name": c.name, "description": c.description} for c in r] if r else None

    return json.dumps({
        "refinement": report.refinement_id, "n_train": report.n_train, "n_holdout": report.n_holdout,
        "keep_threshold": report.keep_threshold, "agreement_before": report.base_agreement,
        "agreement_after": report.final_agreement, "kept_rubric": rubric(report.kept),
        "fragment": str(report.fragment) if report.fragment else None, "ranked_pending": report.ranked_pending,
        "effects": {str(k): v for k, v in sorted(report.effects.items())},
        "proposals": [{"n": p.n, "agreement_before": p.agreement_before, "agreement_after": p.agreement_after,
                       "kept": p.kept, "rubric": rubric(p.rubric), "rationale": p.rationale, "error": p.error,
                       "calls": len(p.call_ids)} for p in report.proposals],
    }, indent=2)


def refine_view(report: RefineReport, session: Path) -> Any:
    """Each proposal's held-out agreement before and after, the items' effectiveness, and where the fragment went."""
    from rich.console import Group
    from rich.table import Table

    from assay.cli.text import cells, plain

    table = Table(title=f"rubric proposals: agreement with people on {report.n_holdout} held-out items "
                        f"({report.n_train} for training)")
    for column in ("proposal", "before", "after", "kept", "criteria", "rationale / why not"):
        table.add_column(column)
    for p in report.proposals:
        after = "-" if p.agreement_after is None else f"{p.agreement_after:.3f}"
        names = ", ".join(c.name for c in p.rubric) if p.rubric else "-"
        table.add_row(*cells(p.n, f"{p.agreement_before:.3f}", after, "yes" if p.kept else "no", names,
                             p.error or p.rationale or ""))
    parts: list[Any] = [table]
    fixed = sorted(i for i, e in report.effects.items() if e > 0)
    broken = sorted(i for i, e in report.effects.items() if e < 0)
    if report.effects:
        parts.append(plain(f"guideline effectiveness of decided items: fixed {fixed or 'none'}, broken "
                           f"{broken or 'none'}, {len(report.effects) - len(fixed) - len(broken)} unchanged"))
    if report.kept is not None:
        parts.append(plain(f"kept: held-out agreement {report.base_agreement:.3f} -> {report.final_agreement:.3f}; "
                           f"refined rubric written to {report.fragment}", "bold green"))
        parts.append(plain(f"judge under it: assay judge FILE --out judged.jsonl --recipe {report.fragment}"))
    else:
        parts.append(plain(f"nothing kept: no proposal raised held-out agreement above {report.base_agreement:.3f}; "
                           "no fragment written", "bold yellow"))
    if report.ranked_pending:
        parts.append(plain(f"{report.ranked_pending} pending item(s) ranked: `assay review {session}` shows the most "
                           "informative first"))
    return Group(*parts)
