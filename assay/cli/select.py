"""`assay select`: pick the best N of a (scored) file, then show the selection beside its pool."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from assay.cli.options import FieldOpt, RecipeOpt, field_map, output_file, recipe_config, runtime


def select(
    path: Annotated[Path, typer.Argument(help="Scored file from `assay score` (or `assay judge`); an unscored file is taken whole.")],
    n: Annotated[int, typer.Option("--n", "-n", help="How many samples to select.", min=1)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Selected records, in rank order and the input's format, _assay.status = selected.")],
    method: Annotated[str, typer.Option("--method", help="mig | deita | kcenter | random, or an installed selector plugin.")] = "mig",
    score_name: Annotated[Optional[str], typer.Option("--score", help="Quality score to use (default: judge_overall when present, else none).")] = None,
    min_score: Annotated[Optional[float], typer.Option("--min-score", help="Quality floor: never select below it.")] = None,
    quota: Annotated[Optional[list[str]], typer.Option("--quota", help="cluster=K or tag=K: at most K per cluster / tag (repeatable).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for random and k-center.")] = 0,
    deita_threshold: Annotated[float, typer.Option("--deita-threshold", help="DEITA: largest cosine allowed to an earlier pick.")] = 0.9,
    label_threshold: Annotated[float, typer.Option("--label-threshold", help="MIG: cosine at which two tags are linked.")] = 0.9,
    session: Annotated[Optional[Path], typer.Option("--session", "-s", help="Read sample embeddings from this session's store.")] = None,
    recipe: RecipeOpt = None,
    fields: FieldOpt = None,
) -> None:
    """Select the best N samples: MIG, DEITA, k-center greedy or random, under a floor and quotas."""
    from assay.cli.render import console, progress_bar, progress_tasks
    from assay.pipeline.select.files import SelectOptions, reporting_embedder, run_select, session_vector_reader

    output_file(out)
    check_method(method)
    quotas = parse_quotas(quota or [])
    options = SelectOptions(n=n, method=method, score=score_name, min_score=min_score, max_per_cluster=quotas.get("cluster"),
                            max_per_tag=quotas.get("tag"), seed=seed, deita_threshold=deita_threshold, label_threshold=label_threshold,
                            fields=field_map(fields),
                            plugins=(config := recipe_config(recipe)).plugins)  # a selector plugin's [plugins.settings.NAME]
    context = runtime()
    reader = session_vector_reader(session, context) if session else None
    with progress_bar() as progress:
        embed = reporting_embedder(progress_tasks(progress), context.env, config.store)  # the recipe's model and cache
        report = run_select(path, out, options, embed=embed, session_vectors=reader)
    console.print(select_view(report))


def check_method(method: str) -> None:
    """One line naming --method and its choices when `method` is no selector assay knows."""
    from assay.core.errors import AssayError
    from assay.pipeline.plugins import selector_names

    names = selector_names()  # the built-in methods, then any installed selector plugins
    if method not in names:
        raise AssayError(f"--method: {method!r} is not one of {', '.join(names)}")


def parse_quotas(quotas: list[str]) -> dict[str, int]:
    """`cluster=K` / `tag=K` → {"cluster": K, "tag": K}."""
    from assay.core.errors import AssayError

    parsed: dict[str, int] = {}
    for quota in quotas:
        kind, _, value = quota.partition("=")
        if kind not in ("cluster", "tag") or not value.isdigit() or int(value) < 1:
            raise AssayError(f"--quota {quota!r}: write cluster=K or tag=K with K ≥ 1 (at most K per cluster / tag)")
        parsed[kind] = int(value)
    return parsed


def select_view(report: dict[str, Any]) -> Any:
    """The summary: the selection beside its pool, then what was written, warnings and notes."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    pool, chosen = report["figures"]["pool"], report["figures"]["selection"]
    table = Table(title=f"{report['method']}: {chosen['size']} of {pool['size']} candidates")
    for column in ("", "pool", "selection"):
        table.add_column(column, justify="left" if not column else "right")
    quality = f"mean {report['score']}" if report["score"] else "mean quality (no score)"
    rows = [("size", "size", "{:d}"), (quality, "mean_quality", "{:.3f}"),
            ("clusters covered", "clusters", "{:d}"), ("cluster coverage", "cluster_coverage", "{:.1%}"),
            ("cluster entropy (1 = even)", "cluster_entropy", "{:.3f}"), ("tags covered", "tags", "{:d}"),
            ("tag coverage", "tag_coverage", "{:.1%}"), ("tag entropy (1 = even)", "tag_entropy", "{:.3f}")]
    for title, key, form in rows:
        if key in pool:
            table.add_row(title, *("-" if f[key] is None else form.format(f[key]) for f in (pool, chosen)))
    lines = [Text(f"wrote {report['written']} selected records to {report['out']} "
                  f"(selection {report['select_seconds']:.2f} s, total {report['seconds']:.1f} s); "
                  f"_assay.selection.gain = {report['gain_meaning']}")]
    lines += [Text(f"note: {note}") for note in report["notes"]]
    lines += [Text(f"warning: {warning}", style="yellow") for warning in report["warnings"]]
    return Group(table, *lines)
