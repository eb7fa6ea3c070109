"""`assay judge`: judge a file with the LLM judge (pointwise or pairwise), then show the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from assay.cli.options import (ApiBaseOpt, DryRunOpt, EngineOpt, FieldOpt, ModelOpt, PriceOpt, RayAddressOpt, RecipeOpt,
                               check_llm_engine, engine_settings, field_map, output_file, price_settings, recipe_config,
                               runtime, warn_embedded_judge)


def judge(
    path: Annotated[Path, typer.Argument(help="Sample file (any supported format); with --pairwise, records with input/output_1/output_2 or instruction/response_a/response_b.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output: every record in its own format plus an _assay object with the verdict.")],
    pairwise: Annotated[bool, typer.Option("--pairwise", help="Compare two responses per record, in both orders (disagreement = tie).")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="Also split each response into atomic claims and verify them: factuality = supported / total.")] = False,
    references: Annotated[Optional[str], typer.Option("--references", help="With --verify: a Chroma folder (or server URL) of reference passages, built with all-MiniLM-L6-v2.")] = None,
    collection: Annotated[Optional[str], typer.Option("--collection", help="The collection in --references (default: its only one).")] = None,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    price: PriceOpt = None,
    dry_run: DryRunOpt = False,
    session: Annotated[Optional[Path], typer.Option("--session", "-s", help="Record calls and decisions here (default: $ASSAY_HOME/sessions/judge-OUT-HASH, named on stderr).")] = None,
    concurrency: Annotated[Optional[int], typer.Option("--concurrency", "-j", help="Model calls in flight at once (default 8).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Judge only the first N records.", min=1)] = None,
    recipe: RecipeOpt = None,
    fields: FieldOpt = None,
    engine: EngineOpt = None,
    ray_address: RayAddressOpt = None,
) -> None:
    """Judge samples with the LLM judge: rubric scores, issues and a rationale, or pairwise preferences."""
    from assay.cli.judge_view import judge_view
    from assay.cli.render import console, progress_bar, progress_tasks
    from assay.pipeline.judge.files import run_judge
    from assay.pipeline.judge.verify import VerifyOptions

    config = recipe_config(recipe, **{"models.default": model, "dry_run": dry_run or None, "llm.concurrency": concurrency,
                                      "llm.api_base": api_base, **price_settings(price),
                                      **engine_settings(engine, ray_address)})
    output_file(out)
    warn_embedded_judge(config)
    check_llm_engine(config, ray_address)
    checks = VerifyOptions(references, collection) if verify or references else None
    mapping = field_map(fields)
    with progress_bar() as progress:
        report = run_judge(path, out, config=config, runtime=runtime(), session_dir=session, pairwise=pairwise,
                           limit=limit, progress=progress_tasks(progress), verify=checks, fields=mapping)
    console.print(judge_view(report))
