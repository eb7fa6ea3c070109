"""The `assay` command line: the typer app composing one module per command.

Each command's options, its call into a service (assay.pipeline) and its Rich view live in
assay/cli/<command>.py. Heavy libraries load inside commands, so `--help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from assay import __version__
from assay.cli import compare, expand, export, ingest, judge, review, score, select, sessions, tokens, trace
from assay.cli.models import models_app
from assay.cli.recipe import recipe_app
from assay.cli.rubric import rubric_app
from assay.cli.cues import cues_app
from assay.cli.report import report as report_command
from assay.cli.options import (ApiBaseOpt, DecontamOpt, DedupOpt, DryRunOpt, EngineOpt, FieldOpt, ModelOpt, PriceOpt,
                               RayAddressOpt, RecipeOpt, check_benchmarks, check_llm_engine, dedup_methods,
                               engine_settings, field_map, price_settings, recipe_config, run_options, runtime,
                               warn_embedded_judge)

app = typer.Typer(
    name="assay",
    help="Curate instruction-tuning data with LLM agents; every decision traced.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(models_app, name="models")
app.add_typer(recipe_app, name="recipe")
app.add_typer(rubric_app, name="rubric")
app.add_typer(cues_app, name="cues")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"assay {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """assay: clean, expand and select SFT data, round after round, with every decision traced."""


# Registration order is the order `assay --help` lists the commands in.
app.command()(ingest.ingest)
app.command()(score.score)
app.command()(sessions.sessions)
app.command()(trace.trace)


@app.command()
def ui(
    session: Annotated[Path, typer.Argument(help="Session folder.")],
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port to listen on (0: any free one).")] = 8484,
    host: Annotated[str, typer.Option("--host", help="Address to bind; anything but 127.0.0.1 / localhost needs --token.")] = "127.0.0.1",
    token: Annotated[Optional[str], typer.Option("--token", envvar="ASSAY_UI_TOKEN", help="Require this token on every request (Authorization: Bearer, or ?token= once).")] = None,
) -> None:
    """Open a local web viewer: the timeline by round, a sample browser, lineage and rewrite diffs, LLM calls, review."""
    import getpass

    from assay.ui.server import serve

    serve(session, runtime(), host=host, port=port, token=token, reviewer=getpass.getuser(),
          announce=lambda url: typer.echo(f"assay viewer on {url} (Ctrl-C to stop)"))


app.command()(expand.expand)
app.command()(judge.judge)
app.command()(compare.compare)
app.command()(tokens.tokens)


@app.command()
def run(
    paths: Annotated[list[Path], typer.Argument(help="Sample files: Alpaca JSON/JSONL, ShareGPT, OpenAI messages JSONL, Parquet.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Session folder (new): the trace, curated.jsonl, rejected.jsonl, lineage.jsonl, report.html.")],
    recipe: RecipeOpt = None,
    target_size: Annotated[Optional[int], typer.Option("--target-size", min=1, help="Samples in the curated dataset.")] = None,
    min_quality: Annotated[Optional[float], typer.Option("--min-quality", min=1, max=5, help="Mean judge score (1-5) the dataset must reach.")] = None,
    quality_floor: Annotated[Optional[float], typer.Option("--quality-floor", min=1, max=5, help="No curated sample scores below this.")] = None,
    model: ModelOpt = None,
    price: PriceOpt = None,
    budget_usd: Annotated[Optional[float], typer.Option("--budget-usd", min=0, help="Stop when this much is spent.")] = None,
    max_calls: Annotated[Optional[int], typer.Option("--max-calls", min=0, help="Stop after this many LLM calls.")] = None,
    max_rounds: Annotated[Optional[int], typer.Option("--max-rounds", min=1, help="Rounds of repair/expand at most (default 5).")] = None,
    review_mode: Annotated[bool, typer.Option("--review", help="Pause before repairs, expansions and the export for `assay review`.")] = False,
    judge_sample: Annotated[Optional[int], typer.Option("--judge-sample", min=1, help="Judge K per cluster by LLM, the rest by a classifier trained on those verdicts.")] = None,
    planner: Annotated[str, typer.Option("--planner", help="policy (deterministic) or llm.")] = "policy",
    select_method: Annotated[str, typer.Option("--select", help="Selector for the final size: mig, deita, kcenter, random, or an installed selector plugin.")] = "deita",
    no_tags: Annotated[bool, typer.Option("--no-tags", help="With --select mig: skip tagging the candidates' skills (an LLM call each); MIG then uses cluster labels.")] = False,
    decontam: DecontamOpt = None,
    dedup: DedupOpt = None,
    api_base: ApiBaseOpt = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Keep going past invalid records.")] = False,
    dry_run: DryRunOpt = False,
    fields: FieldOpt = None,
    engine: EngineOpt = None,
    ray_address: RayAddressOpt = None,
    preference_pairs: Annotated[Optional[Path], typer.Option("--preference-pairs", help="Also write the session's preference pairs (TRL JSONL) here when the run finishes; see `assay export`.")] = None,
    min_margin: export.MinMarginOpt = 1.0,
) -> None:
    """Curate a pool until the targets are met: screen, judge, repair, expand, select, export."""
    from assay.cli.render import console, progress_bar, status
    from assay.pipeline.intake.check import check_inputs
    from assay.cli.run import start_run
    from assay.cli.run_display import RunDisplay, outcome_view

    config = recipe_config(recipe, **{
        "models.default": model, "dry_run": dry_run or None, "targets.size": target_size,
        "targets.min_mean_quality": min_quality, "targets.quality_floor": quality_floor,
        "budget.max_usd": budget_usd, "budget.max_calls": max_calls, "budget.max_rounds": max_rounds, **price_settings(price),
        "llm.api_base": api_base, "tags.enabled": False if no_tags else None, **engine_settings(engine, ray_address),
    })
    from assay.llm.factory import check_prices

    check_prices(config)  # a USD budget on an unpriced model is refused before anything is created
    warn_embedded_judge(config)
    check_llm_engine(config, ray_address)  # stored in the recipe: `assay resume` sends its calls the same way
    mapping = field_map(fields)
    # The mapping is stored with the run's options: `assay resume` re-reads the inputs the same way.
    options = run_options(inputs=[str(p.resolve()) for p in paths], fields=mapping.specs(), skip_invalid=skip_invalid,
                          review=review_mode, judge_sample=judge_sample, planner=planner, selection=select_method,
                          decontam=[str(p.resolve()) for p in decontam or ()], dedup=list(dedup_methods(dedup, config)))
    with status("reading and validating…"):
        # Every named file is checked before the session folder exists: a bad one leaves nothing behind.
        # Nothing is kept: the pool is read again, batch by batch, by the run's ingest.
        check_inputs(paths, skip_invalid=skip_invalid, max_record_bytes=int(config.store.max_record_mb * 1e6),
                     fields=mapping)
        check_benchmarks(decontam or ())
    if config.dry_run:
        from assay.pipeline.dry_run_cost import embedding_cost
        from assay.pipeline.intake.ingest import read_inputs

        with status("counting the embedding work…"):
            read = read_inputs(paths, skip_invalid=skip_invalid, max_record_bytes=int(config.store.max_record_mb * 1e6),
                               fields=mapping)
            cost = embedding_cost(read.samples, [Path(p) for p in options.decontam], config, runtime().env)
        for line in cost.lines():
            typer.echo(line, err=True)  # before any work: the user can stop here
    with progress_bar() as progress:
        outcome = start_run(out, config=config, runtime=runtime(), options=options, emit=RunDisplay(progress.console, progress))
    console.print(outcome_view(outcome))
    if preference_pairs is not None and outcome.finished:
        export.export(outcome.session_dir, preference_pairs, min_margin=min_margin)
    elif preference_pairs is not None:  # say so: the user asked for a file that is not there
        typer.echo(f"preference pairs not written: the run has not finished; when it has, run "
                   f"`assay export {outcome.session_dir} --preference-pairs {preference_pairs}`", err=True)


@app.command()
def resume(
    session: Annotated[Path, typer.Argument(help="Session folder made by `assay run`.")],
    budget_usd: Annotated[Optional[float], typer.Option("--budget-usd", min=0, help="Raise the spending limit.")] = None,
    max_calls: Annotated[Optional[int], typer.Option("--max-calls", min=0, help="Raise the call limit.")] = None,
    max_rounds: Annotated[Optional[int], typer.Option("--max-rounds", min=1, help="Raise the round limit.")] = None,
    price: PriceOpt = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Switch the session to this litellm model.")] = None,
    api_base: ApiBaseOpt = None,
    no_tags: Annotated[bool, typer.Option("--no-tags", help="Stop tagging skills before MIG selection; MIG then uses cluster labels.")] = False,
    engine: Annotated[Optional[str], typer.Option("--engine", help="Switch where model calls are sent from: local or ray (default: as the session was run).")] = None,
    ray_address: RayAddressOpt = None,
) -> None:
    """Continue a stopped, killed or paused session from its last checkpoint; paid calls come from the cache.

    Its flags are the only way to change a session's recipe (other commands only read it).
    """
    from assay.cli.render import console, progress_bar
    from assay.cli.run import resume_run
    from assay.cli.run_display import RunDisplay, outcome_view

    overrides = {"budget.max_usd": budget_usd, "budget.max_calls": max_calls, "budget.max_rounds": max_rounds,
                 **price_settings(price), "models.default": model, "llm.api_base": api_base,
                 "tags.enabled": False if no_tags else None, **engine_settings(engine, ray_address)}
    with progress_bar() as progress:
        outcome = resume_run(session, runtime=runtime(), overrides=overrides, emit=RunDisplay(progress.console, progress))
    console.print(outcome_view(outcome))


app.command(cls=review.ReviewCommand)(review.review)
app.command()(select.select)
app.command()(export.export)
app.command("report")(report_command)


def main() -> None:
    """Entry point: user-fixable errors print one line and exit 2, never a traceback; Ctrl-C exits 130."""
    from assay.cli.exit_codes import run_with_exit_codes

    run_with_exit_codes(app, sys.argv[1:])
