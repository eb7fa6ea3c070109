"""`assay cues detect`: surface cues of the responses associated with the outcome beyond cluster and length.

`assay cues repair` lives in cli/cues_repair.py and joins the same sub-app here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from assay.cli.options import FieldOpt, RecipeOpt, field_map, recipe_config, runtime

if TYPE_CHECKING:
    from assay.pipeline.cues.detect import DetectReport

cues_app = typer.Typer(help="Bias cues (RAZOR-style): find surface cues that predict the outcome, and repair them.",
                       no_args_is_help=True)


@cues_app.command("detect")
def cues_detect(
    path: Annotated[Path, typer.Argument(help="Session folder (findings are stored for the repair and the report) or a scored file (`assay score` / `assay judge` output).")],
    outcome: Annotated[Optional[str], typer.Option("--outcome", help="What a cue must predict: score (the judge's overall score) or kept (kept 1 / dropped 0). Default: the recipe's \\[cues] outcome.")] = None,
    alpha: Annotated[Optional[float], typer.Option("--alpha", min=0.0001, max=0.5, help="Report cues whose family-wise adjusted p-value is at most this. Default: the recipe's \\[cues] alpha.")] = None,
    min_support: Annotated[Optional[float], typer.Option("--min-support", min=0.0, max=0.5, help="Share of responses a candidate must be carried by (and at least 20). Default: the recipe's \\[cues] min_support.")] = None,
    permutations: Annotated[int, typer.Option("--permutations", min=99, max=100000, help="Permutations of the test (the smallest p-value is 1/(N+1)).")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the permutations (and of the sample that finds candidates in a large pool).")] = 0,
    recipe: RecipeOpt = None,
    fields: FieldOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON for scripts.")] = False,
) -> None:
    """Find openers, closers, phrases, format tics and the long-answer band whose presence goes with a higher or lower
    outcome within the same cluster and length quintile: a permutation test, family-wise error controlled over every
    candidate (Westfall-Young max-T). An associated cue is not proof of bias: read the examples before repairing."""
    from assay.cli.render import console
    from assay.core.errors import AssayError
    from assay.pipeline.cues.detect import detect_path

    if outcome is not None and outcome not in ("score", "kept"):
        raise AssayError(f"--outcome {outcome!r}: choose score or kept")
    overrides = {"outcome": outcome, "alpha": alpha, "min_share": min_support, "permutations": permutations,
                 "seed": seed}
    report = detect_path(path, runtime(), recipe_config(recipe), overrides, field_map(fields))
    if as_json:
        import json

        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    console.print(detect_view(report))


def detect_view(report: DetectReport) -> Any:
    """The significant cues, strongest first, and the run's figures."""
    from rich.console import Group
    from rich.table import Table

    from assay.cli.text import cells, plain

    o = report.options
    table = Table(title=f"{len(report.significant)} of {len(report.findings)} candidate cues associated with the "
                        f"{o.outcome} beyond cluster and length (adjusted p <= {o.alpha}, n = {report.n})")
    for column in ("rank", "kind", "cue", "prevalence", "carriers", "effect", "p", "adjusted p"):
        table.add_column(column, justify="right" if column not in ("kind", "cue") else "left")
    for rank, f in enumerate(report.significant, start=1):
        table.add_row(*cells(rank, f.cue.kind, f.cue.text, f"{f.prevalence:.1%}", f.carriers, f"{f.effect:+.3f}",
                             f"{f.p:.4f}", f"{f.adjusted_p:.4f}"))
    if not report.significant:
        closest = ", ".join(f"{f.cue.kind} '{f.cue.text}' ({f.adjusted_p:.3f})" for f in report.findings[:3])
        table = plain(f"no cue associated with the {o.outcome} beyond cluster and length at adjusted p <= {o.alpha} "
                      f"({len(report.findings)} candidates tested, n = {report.n})"
                      + (f"; the closest: {closest}" if closest else ""))
    lines = [plain(f"effect: mean {o.outcome} with the cue minus without, within cluster x length quintile; "
                   f"{o.permutations} permutations, seed {o.seed}; {report.seconds:.1f} s")]
    lines += [plain(f"note: {n}") for n in report.notes]
    if report.run_id is not None:
        lines.append(plain(f"stored as detection run {report.run_id}: `assay cues repair {report.source}` repairs "
                           "the removable ones"))
    lines.append(plain("an associated cue is not proof of bias: it may stand for content the strata do not capture"))
    return Group(table, *lines)


from assay.cli.cues_repair import cues_repair  # noqa: E402  (the repair command lives in its own file)

cues_app.command("repair")(cues_repair)  # after detect, so `assay cues --help` lists them in the order they run
