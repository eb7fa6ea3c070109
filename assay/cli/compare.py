"""`assay compare A B`: how far a dataset (synthetic, B) is from another (real, A), layer by layer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from assay.cli.options import FieldOpt, RecipeOpt, field_map, recipe_config, runtime


def compare(
    a: Annotated[Path, typer.Argument(help="The reference dataset (real data, the seeds), or a session folder: its seeds against its synthetic samples.")],
    b: Annotated[Optional[Path], typer.Argument(help="The dataset to evaluate (synthetic data); left out when A is a session folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every measure as JSON for scripts (the table is not shown).")] = False,
    report_page: Annotated[Optional[Path], typer.Option("--report", help="Also write a self-contained HTML page (.html) with the tables and one plot per marginal.")] = None,
    max_samples: Annotated[int, typer.Option("--max-samples", min=0, help="Samples per set at most, a seeded subsample chosen by content hash (0: all; MMD and k-NN precision/recall use the first 2,000 of each, as their cost grows with the square).")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random choice: subsamples, permutations, clusters.")] = 0,
    permutations: Annotated[int, typer.Option("--permutations", min=1, help="Random splits for the MMD p-value.")] = 200,
    neighbours: Annotated[int, typer.Option("--k", min=1, help="Neighbours for the k-NN precision and recall.")] = 5,
    clusters: Annotated[Optional[int], typer.Option("--clusters", min=2, help="k-means clusters over both sets (default: about sqrt(N/2)).")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Leave out invalid records instead of stopping.")] = False,
    recipe: RecipeOpt = None,
    fields: FieldOpt = None,
) -> None:
    """Compare two datasets: marginals, dependencies, embedding distribution (MMD, Fréchet, precision/recall), diversity, novelty."""
    from assay.cli.render import console, progress_bar
    from assay.core.errors import AssayError
    from assay.pipeline.compare import compare_samples, read_dataset, session_sets
    from assay.session.session import is_session
    from assay.tools.compare_sets import CompareSettings

    if report_page is not None and report_page.suffix.lower() not in (".html", ".htm"):
        raise AssayError(f"--report {report_page}: the page is HTML; name it .html")
    config = recipe_config(recipe)
    if b is None:
        if not is_session(a):
            raise AssayError(f"{a}: name two datasets (assay compare A B), or one session folder")
        seeds, synthetic, store = session_sets(a, runtime())
        sets, labels = (seeds, synthetic), ("seeds", "synthetic")
    else:
        mapping = field_map(fields)
        limit = int(config.store.max_record_mb * 1e6)
        sets = tuple(read_dataset(p, max_record_bytes=limit, fields=mapping, skip_invalid=skip_invalid) for p in (a, b))
        labels, store = (a.name, b.name) if a.name != b.name else (str(a), str(b)), config.store
    settings = CompareSettings(seed=seed, permutations=permutations, k=neighbours, clusters=clusters)
    with progress_bar() as bar:
        task = bar.add_task("embedding", total=None)
        result = compare_samples(sets[0], sets[1], labels=labels, store=store, env=runtime().env, settings=settings,
                                 max_samples=max_samples or None,
                                 on_embed=lambda done, total: bar.update(task, completed=done, total=total))
    if report_page is not None:
        from assay.report.compare_page import write_compare_page

        write_compare_page(result, report_page)
    if as_json:
        from assay.core.safe_text import json_text

        sys.stdout.write(json_text(result, indent=2) + "\n")
        return
    from assay.cli.compare_view import compare_view
    from assay.cli.text import plain

    console.print(compare_view(result))
    if report_page is not None:
        console.print(plain(f"page: {report_page} (open it in a browser; it needs no network)"))
