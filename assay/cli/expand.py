"""`assay expand`: grow samples for a request (AIDE multi-hop synthesis), then show what was kept and why."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from assay.cli.options import (DecontamOpt, DedupOpt, DryRunOpt, FieldOpt, ModelOpt, PriceOpt, RecipeOpt, dedup_methods,
                               field_map, output_file, price_settings, recipe_config, runtime, warn_embedded_judge)

DRY_RUN_NOTE = ("dry run: every answer is a placeholder and every score a random number, so about a quarter of the "
                "candidates fall below --min-relevance even after their repair, and most of the rest below "
                "--min-quality. This checks the path end to end, not the quality.")


def expand(
    request: Annotated[str, typer.Argument(help='What to grow, in words: "200 hard multi-step SQL debugging questions".')],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the kept samples go (.jsonl, .json or .parquet), in the seeds' format.")],
    pool: Annotated[Optional[Path], typer.Option("--pool", help="Sample file to take the nearest seeds from (and to dedup against).")] = None,
    session: Annotated[Optional[Path], typer.Option("--session", "-s", help="Existing session: seeds from its store; new samples are added to it (without it, calls are recorded in $ASSAY_HOME/sessions/expand-OUT-HASH, named on stderr).")] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Samples to keep.")] = 10,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Seeds taken from the pool or session.")] = 4,
    depth: Annotated[int, typer.Option("--depth", min=0, help="Hops of reasoning/concrete/constraint rewrites (AIDE's K).")] = 2,
    persona_depth: Annotated[int, typer.Option("--persona-depth", min=0, help="Hops of the persona branch.")] = 1,
    breadth: Annotated[int, typer.Option("--breadth", min=1, help="Attributes (and personas) expanded per parent.")] = 2,
    ops: Annotated[str, typer.Option("--ops", help="Comma-separated: reasoning, concrete, constraint, persona.")] = "reasoning,concrete,constraint,persona",
    persona: Annotated[Optional[list[str]], typer.Option("--persona", help="Also write as this persona (repeatable).")] = None,
    min_quality: Annotated[float, typer.Option("--min-quality", min=1, max=5, help="Judge score a sample needs (1-5).")] = 3.5,
    min_relevance: Annotated[int, typer.Option("--min-relevance", min=1, max=10, help="Relevance to the seed (1-10) below which a candidate is repaired once, then dropped.")] = 6,
    decontam: DecontamOpt = None,
    dedup: DedupOpt = None,
    no_embed: Annotated[bool, typer.Option("--no-embed", help="No embeddings: seeds by shared words, no semantic dedup.")] = False,
    max_calls: Annotated[Optional[int], typer.Option("--max-calls", min=0, help="Stop after this many LLM calls (writing what passed).")] = None,
    model: ModelOpt = None,
    price: PriceOpt = None,
    dry_run: DryRunOpt = False,
    recipe: RecipeOpt = None,
    fields: FieldOpt = None,
    no_compare: Annotated[bool, typer.Option("--no-compare", help="Skip comparing the kept samples with the pool (or the session's seeds; `assay compare` shows every measure).")] = False,
) -> None:
    """Grow new samples for a request (AIDE multi-hop synthesis), screen and judge them, write what passed."""
    from assay.agents.synthesizer import SynthOptions
    from assay.cli.render import console, status
    from assay.graphs.expansion import expand as run_expansion
    from assay.pipeline.expand.request import run_expand
    from assay.pipeline.expand.steps import ExpandOptions

    config = recipe_config(recipe, **{"models.default": model, "dry_run": dry_run or None, "budget.max_calls": max_calls,
                                      **price_settings(price)})
    try:
        synth = SynthOptions(depth=depth, persona_depth=persona_depth, breadth=breadth, min_relevance=min_relevance,
                             ops=tuple(o.strip() for o in ops.split(",") if o.strip()))
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--ops/--depth/--breadth") from None
    options = ExpandOptions(n=n, synth=synth, min_quality=min_quality, personas=tuple(persona or ()), rubric=config.judge.rubric)
    methods = dedup_methods(dedup, config, default=("exact", "minhash", "semantic"))
    mapping = field_map(fields)
    output_file(out)
    warn_embedded_judge(config)
    summary = run_expand(request, out, config=config, runtime=runtime(), pool=pool, session_dir=session, options=options,
                         n_seeds=seeds, decontam=tuple(decontam or ()), dedup=methods, embed=not no_embed,
                         expand=run_expansion, status=status, fields=mapping)
    console.print(expand_view(summary))
    if not no_compare and not no_embed:  # the comparison needs the embeddings --no-embed leaves out
        from assay.cli.compare_view import compare_brief
        from assay.pipeline.compare import expansion_comparison

        with status("comparing the kept samples with the seeds' pool…"):
            compared = expansion_comparison(summary, runtime=runtime(), store=config.store, fields=mapping,
                                            session_given=session is not None)
        if compared is not None:
            console.print(compare_brief(compared))


def expand_view(summary: dict[str, Any]) -> Any:
    """`assay expand`'s summary: generated, kept, rejected by reason, spend, where things went."""
    from rich.console import Group
    from rich.table import Table
    from assay.core.safe_text import visible_all
    from assay.cli.text import cells, plain

    summary = visible_all(summary)  # the request and the plan are user and model text: shown as text
    table = Table(title=plain(f"expand · {summary['request'][:60]}"))
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_row(*cells("candidates generated", summary["generated"]))
    table.add_row(*cells("kept (written)", summary["kept"]))
    for reason, count in summary["by_reason"].items():
        table.add_row(*cells(f"rejected: {reason}", count))
    plan = summary["plan"]
    lines = []
    if plan:
        lines.append(f"topic: {plan['topic']} · attributes: {', '.join(plan['attributes'])}"
                     + (f" · personas: {'; '.join(plan['personas'])}" if plan["personas"] else ""))
    seeds = "seedless (from the request's example instruction)" if summary["seedless"] else \
        f"{len(summary['seeds'])} seed{'s' if len(summary['seeds']) != 1 else ''}" + (f" nearest the request in {summary['pool']}" if summary["pool"] else "")
    lines += [
        f"seeds: {seeds}; stopped: {summary['stopped']}",
        f"model {summary['model']}: {summary['calls']} calls, {summary['tokens']:,} tokens, ${summary['cost_usd']:.4f}, "
        f"{summary['seconds']:.1f} s",
        f"wrote {summary['written']} samples to {summary['out']}; trace in {summary['session']} (`assay trace`)",
    ]
    lines += [f"  seed: {(text.splitlines() or [''])[0][:90]}" for text in summary["seed_instructions"]]
    lines += [f"problem: {p}" for p in summary["problems"][:5]]
    if summary["dry_run"]:
        lines.append(DRY_RUN_NOTE)
    return Group(table, *(plain(line) for line in lines))
