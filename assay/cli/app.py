"""The `assay` command line. Heavy libraries load inside commands, so `--help` stays fast."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from assay import __version__
from assay.cli.options import (ApiBaseOpt, DecontamOpt, DedupOpt, DryRunOpt, ModelOpt, PriceOpt, RecipeOpt,
                               SessionDir, check_benchmarks, dedup_methods, price_settings, run_options)

if TYPE_CHECKING:
    from assay.core.config import Config

app = typer.Typer(
    name="assay",
    help="Curate instruction-tuning data with LLM agents; every decision traced.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Check the models assay talks to.", no_args_is_help=True)
app.add_typer(models_app, name="models")

def _version(value: bool) -> None:
    if value:
        typer.echo(f"assay {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    """assay: clean, expand and select SFT data, round after round, with every decision traced."""


def _config(recipe: Path | None, **flags: object) -> Config:
    import os

    from assay.core.config import load_config

    return load_config(recipe, env=os.environ, overrides=flags)


def _runtime():  # noqa: ANN202 - the real clock, ids and environment enter here and nowhere else
    from assay.session.session import Runtime

    return Runtime()


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Sample files: Alpaca JSON/JSONL, ShareGPT, OpenAI messages JSONL, Parquet.")],
    session: SessionDir,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Keep going past invalid records; write them to DIR/ingest_rejects.jsonl.")] = False,
    max_record_mb: Annotated[Optional[float], typer.Option("--max-record-mb", help="Largest record accepted (default 16).")] = None,
    chroma_url: Annotated[Optional[str], typer.Option("--chroma-url", help="Use a Chroma server instead of the embedded store.")] = None,
    recipe: RecipeOpt = None,
) -> None:
    """Read sample files into a session: validate, embed and store. Re-ingesting adds nothing."""
    from assay.cli.render import console, ingest_table, progress_bar
    from assay.pipeline.ingest import read_inputs, store_inputs
    from assay.session.session import Session

    config = _config(recipe, **{"store.max_record_mb": max_record_mb, "store.chroma_url": chroma_url})
    with console.status("reading and validating…"):
        read = read_inputs(paths, skip_invalid=skip_invalid, max_record_bytes=int(config.store.max_record_mb * 1e6))
    opened = Session.open(session, _runtime(), config, create=True)
    with progress_bar() as progress:
        task = progress.add_task("embedding + storing", total=None)
        report = store_inputs(
            opened, read,
            on_start=lambda total: progress.update(task, total=total),
            on_progress=lambda n: progress.advance(task, n),
        )
    console.print(ingest_table(report, opened))


@app.command()
def score(
    path: Annotated[Path, typer.Argument(help="Sample file (any supported format).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Scored output: .jsonl, .json or .parquet, in the input's record format plus an _assay object.")],
    ifd: Annotated[bool, typer.Option("--ifd", help="Also score instruction-following difficulty with a small causal LM (slow on CPU).")] = False,
    ifd_model: Annotated[Optional[str], typer.Option("--ifd-model", help="Hugging Face causal LM path for IFD (default: the embedded SmolLM2).")] = None,
    decontam: DecontamOpt = None,
    dedup: DedupOpt = "exact,minhash",
    no_embed: Annotated[bool, typer.Option("--no-embed", help="Skip embeddings (and so clusters, novelty, semantic dedup, paraphrase decontamination).")] = False,
    clusters: Annotated[Optional[int], typer.Option("--clusters", help="Number of k-means clusters (default: about sqrt(N/2)).")] = None,
    session: Annotated[Optional[Path], typer.Option("--session", "-s", help="Also record the results in this session (created if new).")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Keep going past invalid records.")] = False,
    recipe: RecipeOpt = None,
) -> None:
    """Screen samples with the LLM-free tools: heuristics, dedup, decontamination, IFD, clusters."""
    from assay.cli.render import console, score_view
    from assay.cli.score import run_score

    methods = dedup_methods(dedup)
    config = _config(recipe)
    report = run_score(path, out, config=config, runtime=_runtime(), session_dir=session, skip_invalid=skip_invalid,
                       methods=methods, decontam=tuple(decontam or ()), ifd=ifd, ifd_model=ifd_model,
                       embed=not no_embed, clusters=clusters, console=console)
    console.print(score_view(report))


@app.command()
def sessions() -> None:
    """List the sessions this machine knows ($ASSAY_HOME/sessions.json), with their sizes."""
    from assay.cli.render import console, sessions_table

    console.print(sessions_table(_runtime()))


@app.command()
def trace(
    session: Annotated[Path, typer.Argument(help="Session folder.")],
    sample: Annotated[Optional[str], typer.Option("--sample", help="Show this sample's lineage tree with every decision and the LLM calls behind it (id or unique prefix).")] = None,
    round_: Annotated[Optional[int], typer.Option("--round", help="Decisions of this round (0 = ingest and screening), with the round's plan.")] = None,
    agent: Annotated[Optional[str], typer.Option("--agent", help="Decisions by this agent or tool: judge, rewriter, synthesizer, dedup, review …")] = None,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Decisions with this reason code (duplicate_of matches duplicate_of:<id>), and the samples that carry it.")] = None,
    grep: Annotated[Optional[str], typer.Option("--grep", help="Decisions whose reason, action or sample text contains TEXT.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Decisions shown at most.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Summarise a session's trace by round, search its decisions, or follow one sample through it."""
    from assay.cli.render import console
    from assay.cli.trace import trace_report, trace_views

    kind, data = trace_report(session, _runtime(), sample=sample, round=round_, agent=agent, reason=reason, grep=grep,
                              limit=limit)
    if as_json:
        from assay.core.safe_text import json_text

        sys.stdout.write(json_text(data, indent=2, default=str) + "\n")  # control characters escaped, data unchanged
        return
    console.print(trace_views(kind, data, session.expanduser().resolve()))


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

    serve(session, _runtime(), host=host, port=port, token=token, reviewer=getpass.getuser(),
          announce=lambda url: typer.echo(f"assay viewer on {url} (Ctrl-C to stop)"))


@app.command()
def expand(
    request: Annotated[str, typer.Argument(help='What to grow, in words: "200 hard multi-step SQL debugging questions".')],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the kept samples go (.jsonl, .json or .parquet), in the seeds' format.")],
    pool: Annotated[Optional[Path], typer.Option("--pool", help="Sample file to take the nearest seeds from (and to dedup against).")] = None,
    session: Annotated[Optional[Path], typer.Option("--session", "-s", help="Existing session: seeds from its store; new samples are added to it.")] = None,
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
    dedup: DedupOpt = "exact,minhash,semantic",
    no_embed: Annotated[bool, typer.Option("--no-embed", help="No embeddings: seeds by shared words, no semantic dedup.")] = False,
    max_calls: Annotated[Optional[int], typer.Option("--max-calls", min=0, help="Stop after this many LLM calls (writing what passed).")] = None,
    model: ModelOpt = None,
    price: PriceOpt = None,
    dry_run: DryRunOpt = False,
    recipe: RecipeOpt = None,
) -> None:
    """Grow new samples for a request (AIDE multi-hop synthesis), screen and judge them, write what passed."""
    from assay.agents.synthesizer import SynthOptions
    from assay.cli.render import console
    from assay.cli.expand import expand_view, run_expand
    from assay.pipeline.expansion import ExpandOptions

    config = _config(recipe, **{"models.default": model, "dry_run": dry_run or None, "budget.max_calls": max_calls,
                                **price_settings(price)})
    try:
        synth = SynthOptions(depth=depth, persona_depth=persona_depth, breadth=breadth, min_relevance=min_relevance,
                             ops=tuple(o.strip() for o in ops.split(",") if o.strip()))
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--ops/--depth/--breadth") from None
    options = ExpandOptions(n=n, synth=synth, min_quality=min_quality, personas=tuple(persona or ()), rubric=config.judge.rubric)
    methods = dedup_methods(dedup)
    summary = run_expand(request, out, config=config, runtime=_runtime(), pool=pool, session_dir=session, options=options,
                         n_seeds=seeds, decontam=tuple(decontam or ()), dedup=methods, embed=not no_embed, console=console)
    console.print(expand_view(summary))


@app.command()
def judge(
    path: Annotated[Path, typer.Argument(help="Sample file (any supported format); with --pairwise, records with input/output_1/output_2 or instruction/response_a/response_b.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output: every record in its own format plus an _assay object with the verdict.")],
    pairwise: Annotated[bool, typer.Option("--pairwise", help="Compare two responses per record, in both orders (disagreement = tie).")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="Also split each response into atomic claims and verify them: factuality = supported / total.")] = False,
    references: Annotated[Optional[str], typer.Option("--references", help="With --verify: a Chroma folder (or server URL) of reference passages, built with all-MiniLM-L6-v2.")] = None,
    collection: Annotated[Optional[str], typer.Option("--collection", help="The collection in --references (default: its only one).")] = None,
    model: ModelOpt = None,
    price: PriceOpt = None,
    dry_run: DryRunOpt = False,
    session: Annotated[Optional[Path], typer.Option("--session", "-s", help="Record calls and decisions here (default: OUT.session/).")] = None,
    concurrency: Annotated[Optional[int], typer.Option("--concurrency", "-j", help="Model calls in flight at once (default 8).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Judge only the first N records.", min=1)] = None,
    recipe: RecipeOpt = None,
) -> None:
    """Judge samples with the LLM judge: rubric scores, issues and a rationale, or pairwise preferences."""
    from assay.cli.render import console, progress_bar
    from assay.cli.judge import VerifyOptions, run_judge
    from assay.cli.judge_view import judge_view

    config = _config(recipe, **{"models.default": model, "dry_run": dry_run or None, "llm.concurrency": concurrency,
                                **price_settings(price)})
    checks = VerifyOptions(references, collection) if verify or references else None
    with progress_bar() as progress:
        report = run_judge(path, out, config=config, runtime=_runtime(), session_dir=session, pairwise=pairwise,
                           limit=limit, progress=progress, verify=checks)
    console.print(judge_view(report))


@models_app.command("check")
def models_check(
    model: ModelOpt = None,
    dry_run: DryRunOpt = False,
    api_base: ApiBaseOpt = None,
    session: Annotated[Optional[Path], typer.Option("--session", "-s", help="Trace the check in this session.")] = None,
    recipe: RecipeOpt = None,
) -> None:
    """Send one structured request through the gateway and show what came back."""
    import asyncio

    from assay.cli.render import console, model_check_view
    from assay.pipeline.model_check import run_model_check

    config = _config(recipe, **{"models.default": model, "dry_run": dry_run or None, "llm.api_base": api_base})
    with console.status(f"asking {config.models.default or 'the embedded model (first load ~30 s)'}…"):
        outcome = asyncio.run(run_model_check(config, _runtime(), session))
    console.print(model_check_view(outcome))
    if not outcome.result.ok:
        raise typer.Exit(1)


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
    select_method: Annotated[str, typer.Option("--select", help="Selector for the final size: mig, deita, kcenter, random.")] = "deita",
    decontam: DecontamOpt = None,
    dedup: DedupOpt = "exact,minhash",
    api_base: ApiBaseOpt = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Keep going past invalid records.")] = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Curate a pool until the targets are met: screen, judge, repair, expand, select, export."""
    from assay.cli.render import console, progress_bar
    from assay.pipeline.ingest import read_inputs
    from assay.cli.run import start_run
    from assay.cli.run_display import RunDisplay, outcome_view

    config = _config(recipe, **{
        "models.default": model, "dry_run": dry_run or None, "targets.size": target_size,
        "targets.min_mean_quality": min_quality, "targets.quality_floor": quality_floor,
        "budget.max_usd": budget_usd, "budget.max_calls": max_calls, "budget.max_rounds": max_rounds, **price_settings(price),
        "llm.api_base": api_base,
    })
    from assay.llm.factory import check_prices

    check_prices(config)  # a USD budget on an unpriced model is refused before anything is created
    options = run_options(inputs=[str(p.resolve()) for p in paths], skip_invalid=skip_invalid, review=review_mode,
                          judge_sample=judge_sample, planner=planner, selection=select_method,
                          decontam=[str(p.resolve()) for p in decontam or ()], dedup=list(dedup_methods(dedup)))
    with console.status("reading and validating…"):
        # Every named file is checked before the session folder exists: a bad one leaves nothing behind.
        read_inputs(paths, skip_invalid=skip_invalid, max_record_bytes=int(config.store.max_record_mb * 1e6))
        check_benchmarks(decontam or ())
    with progress_bar() as progress:
        outcome = start_run(out, config=config, runtime=_runtime(), options=options, emit=RunDisplay(console, progress))
    console.print(outcome_view(outcome))


@app.command()
def resume(
    session: Annotated[Path, typer.Argument(help="Session folder made by `assay run`.")],
    budget_usd: Annotated[Optional[float], typer.Option("--budget-usd", min=0, help="Raise the spending limit.")] = None,
    max_calls: Annotated[Optional[int], typer.Option("--max-calls", min=0, help="Raise the call limit.")] = None,
    max_rounds: Annotated[Optional[int], typer.Option("--max-rounds", min=1, help="Raise the round limit.")] = None,
    price: PriceOpt = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Switch the session to this litellm model.")] = None,
    api_base: ApiBaseOpt = None,
) -> None:
    """Continue a stopped, killed or paused session from its last checkpoint; paid calls come from the cache.

    Its flags are the only way to change a session's recipe (other commands only read it).
    """
    from assay.cli.render import console, progress_bar
    from assay.cli.run import resume_run
    from assay.cli.run_display import RunDisplay, outcome_view

    overrides = {"budget.max_usd": budget_usd, "budget.max_calls": max_calls, "budget.max_rounds": max_rounds,
                 **price_settings(price), "models.default": model, "llm.api_base": api_base}
    with progress_bar() as progress:
        outcome = resume_run(session, runtime=_runtime(), overrides=overrides, emit=RunDisplay(console, progress))
    console.print(outcome_view(outcome))


@app.command()
def review(
    session: Annotated[Path, typer.Argument(help="Session folder of a `--review` run.")],
    approve: Annotated[Optional[list[int]], typer.Option("--approve", help="Approve these item ids (repeatable).")] = None,
    reject: Annotated[Optional[list[int]], typer.Option("--reject", help="Reject these item ids (repeatable).")] = None,
    approve_all: Annotated[bool, typer.Option("--approve-all", help="Approve every pending item.")] = False,
    reject_all: Annotated[bool, typer.Option("--reject-all", help="Reject every pending item.")] = False,
    note: Annotated[Optional[str], typer.Option("--note", help="Why (kept with the decision).")] = None,
) -> None:
    """List pending review items, or approve / reject them; then `assay resume` continues."""
    from assay.cli.render import console
    from assay.cli.review import pending_table, reviewer_name
    from assay.cli.review import review as run_review

    left, changed = run_review(session, _runtime(), approve=approve or [], reject=reject or [], approve_all=approve_all,
                               reject_all=reject_all, note=note, by=reviewer_name())
    if any(changed.values()):
        console.print(f"approved {changed['approved']}, rejected {changed['rejected']}")
    console.print(pending_table(left))
    if not left:
        console.print(f"nothing pending: continue with `assay resume {session}`")


@app.command()
def select(
    path: Annotated[Path, typer.Argument(help="Scored file from `assay score` (or `assay judge`); an unscored file is taken whole.")],
    n: Annotated[int, typer.Option("--n", "-n", help="How many samples to select.", min=1)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Selected records, in rank order and the input's format, _assay.status = selected.")],
    method: Annotated[str, typer.Option("--method", help="mig | deita | kcenter | random.")] = "mig",
    score_name: Annotated[Optional[str], typer.Option("--score", help="Quality score to use (default: judge_overall when present, else none).")] = None,
    min_score: Annotated[Optional[float], typer.Option("--min-score", help="Quality floor: never select below it.")] = None,
    quota: Annotated[Optional[list[str]], typer.Option("--quota", help="cluster=K or tag=K: at most K per cluster / tag (repeatable).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for random and k-center.")] = 0,
    deita_threshold: Annotated[float, typer.Option("--deita-threshold", help="DEITA: largest cosine allowed to an earlier pick.")] = 0.9,
    label_threshold: Annotated[float, typer.Option("--label-threshold", help="MIG: cosine at which two tags are linked.")] = 0.9,
    session: Annotated[Optional[Path], typer.Option("--session", "-s", help="Read sample embeddings from this session's store.")] = None,
) -> None:
    """Select the best N samples: MIG, DEITA, k-center greedy or random, under a floor and quotas."""
    from assay.cli.render import console, progress_bar
    from assay.cli.select import SelectOptions, embed_with_progress, parse_quotas, run_select, select_view, session_vector_reader

    quotas = parse_quotas(quota or [])
    options = SelectOptions(n=n, method=method, score=score_name, min_score=min_score, max_per_cluster=quotas.get("cluster"),
                            max_per_tag=quotas.get("tag"), seed=seed, deita_threshold=deita_threshold, label_threshold=label_threshold)
    reader = session_vector_reader(session, _runtime()) if session else None
    with progress_bar() as progress:
        report = run_select(path, out, options, embed=embed_with_progress(progress), session_vectors=reader)
    console.print(select_view(report))


def main() -> None:
    """Entry point: user-fixable errors print one line and exit 2, never a traceback; Ctrl-C exits 130."""
    from assay.cli.exit_codes import run_with_exit_codes

    run_with_exit_codes(app, sys.argv[1:])
