"""`assay score`: screen a file with the LLM-free tools, then show active and dropped, stages and scores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from assay.cli.options import (DecontamOpt, DedupOpt, FieldOpt, RecipeOpt, dedup_methods, field_map, output_file, recipe_config,
                               runtime)


def score(
    path: Annotated[Path, typer.Argument(help="Sample file (any supported format).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Scored output: .jsonl, .json or .parquet, in the input's record format plus an _assay object.")],
    ifd: Annotated[bool, typer.Option("--ifd", help="Also score instruction-following difficulty with a small causal LM (slow on CPU).")] = False,
    ifd_model: Annotated[Optional[str], typer.Option("--ifd-model", help="Hugging Face causal LM path for IFD (default: the embedded SmolLM2).")] = None,
    decontam: DecontamOpt = None,
    dedup: DedupOpt = None,
    no_embed: Annotated[bool, typer.Option("--no-embed", help="Skip embeddings (and so clusters, novelty, semantic dedup, paraphrase decontamination).")] = False,
    clusters: Annotated[Optional[int], typer.Option("--clusters", help="Number of k-means clusters (default: about sqrt(N/2)).")] = None,
    session: Annotated[Optional[Path], typer.Option("--session", "-s", help="Also record the results in this session (created if new).")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Keep going past invalid records.")] = False,
    report_page: Annotated[Optional[Path], typer.Option("--report", help="Also write an analysis page (.html): counts by reason, a histogram per score with the recipe's thresholds, clusters, example drops. Self-contained, opens offline.")] = None,
    recipe: RecipeOpt = None,
    fields: FieldOpt = None,
    engine: Annotated[str, typer.Option("--engine", help="local or ray. With --no-embed and no --session the streaming engine runs its batches as Ray tasks; otherwise the embeddings run on Ray actors ([store] embedding_ray_actors, embedding_ray_gpus) and the screening here.")] = "local",
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Local worker processes for the streaming engine (default: one per CPU core).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Records per batch in the streaming engine: memory and resume granularity.")] = 5000,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="With --engine ray: the Ray cluster to run on, 'auto' (the one `ray start` runs on this machine) or its head's HOST:PORT. Default: a Ray started for this command, on this machine's CPUs (--workers of them).")] = None,
) -> None:
    """Screen samples with the LLM-free tools: heuristics, dedup, decontamination, IFD, clusters."""
    from assay.cli.rate_progress import rate_progress
    from assay.cli.render import console
    from assay.pipeline.engine.score import score_file, streams

    output_file(out)
    if report_page is not None:
        html_page(report_page)
    mapping = field_map(fields)
    config = recipe_config(recipe)
    methods = dedup_methods(dedup, config)
    streaming = streams(embed=not no_embed, session_dir=session)
    executor = engine_executor(engine, workers, ray_address, streaming=streaming)
    embedder_factory = None if streaming else engine_embedder(engine, ray_address, embed=not no_embed)
    with rate_progress() as progress:
        report = score_file(path, out, config=config, runtime=runtime(), session_dir=session, skip_invalid=skip_invalid,
                            methods=methods, decontam=tuple(decontam or ()), ifd=ifd, ifd_model=ifd_model,
                            embed=not no_embed, clusters=clusters, progress=progress, fields=mapping,
                            workers=workers, batch_size=batch_size, executor=executor,
                            embedder_factory=embedder_factory)
    console.print(score_view(report))
    if report_page is not None:
        from assay.report.analyzer import write_analysis

        written = write_analysis(out, report_page, config.screen, summary=dict(report),
                                 max_record_bytes=int(config.store.max_record_mb * 1e6))
        from assay.cli.text import plain

        console.print(plain(f"analysis page: {written} (open it in a browser; it needs no network)"))


def engine_executor(engine: str, workers: int | None, ray_address: str | None = None, *, streaming: bool = True) -> Any:
    """The executor `--engine` names: None for local (score_file starts `workers` processes when it streams),
    and for the in-memory path (with embeddings, or a session), which sends only its embeddings to Ray."""
    from assay.core.errors import AssayError

    if engine == "local":
        if ray_address is not None:
            raise AssayError("--ray-address names the cluster of --engine ray: add --engine ray")
        return None
    if engine == "ray":
        if not streaming:
            return None
        if ray_address is not None and workers is not None:
            raise AssayError("--workers sizes a Ray started for the command; with --ray-address the cluster's own "
                             "CPUs run the batches: drop one of the two")
        from assay.pipeline.engine.ray_executor import RayExecutor

        return RayExecutor(address=ray_address, num_cpus=workers)
    raise AssayError(f"--engine {engine!r}: choose local or ray")


def engine_embedder(engine: str, ray_address: str | None, *, embed: bool) -> Any:
    """With --engine ray on the in-memory path: the embedder factory of Ray actors (`[store] embedding_ray_*`);
    checked before any work. None for the local engine."""
    from assay.core.errors import AssayError

    if engine != "ray":
        return None
    if not embed:  # said before Ray starts (seconds), not after
        raise AssayError("--engine ray runs the streaming engine (--no-embed, without --session) or embeds on Ray "
                         "actors: with --session, score without --no-embed")
    from assay.llm.ray_transport import check_address, import_ray
    from assay.pipeline.engine.ray_embed import ray_embedder_for

    import_ray()
    check_address(ray_address)
    return lambda settings, env: ray_embedder_for(settings, env, ray_address)


def html_page(page: Path) -> Path:
    """`--report`'s path if it names an .html file (so it never is the scored output), else one line saying so."""
    from assay.core.errors import AssayError

    if page.suffix.lower() not in (".html", ".htm"):
        raise AssayError(f"--report: {page} is not an .html file; the analysis page is HTML (e.g. --report scored.html)")
    return page


def score_view(report: dict[str, Any]) -> Any:
    """`assay score`'s summary: active and dropped by reason, stages, score distributions."""
    from rich.console import Group
    from rich.table import Table

    from assay.cli.text import cells, plain

    total = report["total"]
    reasons = Table(title=f"{total} distinct samples")
    for column in ("outcome", "count", "share"):
        reasons.add_column(column, justify="left" if column == "outcome" else "right")
    for reason, count in report["by_reason"].items():
        # The file marks a sample that stays `active`: the table uses the file's word.
        reasons.add_row(*cells("active" if reason == "kept" else reason, count, f"{count / max(total, 1):.1%}"))
    stages = Table(title="stages")
    for column in ("stage", "seen", "dropped", "seconds", "samples/s"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    if report["embed_seconds"]:
        stages.add_row("embedding", str(total), "-", f"{report['embed_seconds']:.1f}", f"{total / report['embed_seconds']:.0f}")
    for stage in report["stages"]:
        rate = f"{stage['seen'] / stage['seconds']:.0f}" if stage["seconds"] > 0 else "-"
        stages.add_row(*cells(stage["name"], stage["seen"], stage["dropped"], f"{stage['seconds']:.1f}", rate))
    scores = Table(title="scores")
    for column in ("score", "count", "mean", "p10", "median", "p90"):
        scores.add_column(column, justify="left" if column == "score" else "right")
    for name, d in report["scores"].items():
        scores.add_row(*cells(name, d["count"], *(f"{d[k]:.3g}" for k in ("mean", "p10", "median", "p90"))))
    lines = [f"wrote {report['written']} records to {report['out']} in {report['seconds']:.1f} s"]
    if report.get("embedded") or report.get("embeddings_cached"):  # absent from a report made without embeddings
        lines.append(f"embeddings: {report['embedded']} texts computed, {report['embeddings_cached']} from the "
                     "embedding cache ($ASSAY_HOME/embeddings)")
    if report["repeats"]:
        lines.append(f"{report['repeats']} records repeated an earlier one exactly: marked duplicate_of in the output")
    if report["clusters"]:
        sizes = [row["count"] for row in report["cluster_table"]]
        lines.append(f"{report['clusters']} clusters over the active samples: sizes {max(sizes)} largest, "
                     f"{min(sizes)} smallest; entropy {report['cluster_entropy']:.3f} of an even 1.0")
    lines.append(f"prompt injection: {report.get('injection', 0)} distinct samples hold text addressed to a grader or a "
                 "model (listed in _assay.injection; kept, not dropped)")
    if report["invalid"]:
        lines.append(f"{report['invalid']} invalid records skipped")
    if report["session"]:
        lines.append(f"results recorded in session {report['session']} (see `assay trace`)")
    return Group(reasons, stages, scores, *(plain(line) for line in lines))
