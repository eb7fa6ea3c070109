"""Options shared by several `assay` commands, and the checks that run before a command does any work.

Every check here answers with one line (an AssayError, exit 2) naming the flag, before a
session folder or an output file exists. Heavy modules load inside the checks, so `--help`
stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from assay.core.config import Config
    from assay.core.field_map import FieldMap
    from assay.pipeline.deps import RunOptions
    from assay.session.session import Runtime

SessionDir = Annotated[Path, typer.Option("--session", "-s", help="Session folder (created if new).")]
RecipeOpt = Annotated[Optional[Path], typer.Option("--recipe", help="TOML recipe: targets, budgets, models.")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", "-m", help="litellm model, e.g. openai/gpt-4o-mini; default: the embedded local model.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Use the placeholder model: no LLM calls, spends nothing. Embedding still runs (cached texts are free); `run` prints its cost first.")]
ApiBaseOpt = Annotated[Optional[str], typer.Option("--api-base", help="OpenAI-compatible endpoint, e.g. a vLLM server.")]
DedupOpt = Annotated[Optional[str], typer.Option("--dedup", help="Comma-separated: exact, minhash, semantic; 'none' to skip. Default: the recipe's [screen.dedup] methods, else exact,minhash (expand: exact,minhash,semantic).")]
DecontamOpt = Annotated[Optional[list[Path]], typer.Option("--decontam", help="A benchmark file to decontaminate against (repeat for more: --decontam a.jsonl --decontam b.jsonl.gz).")]
FieldOpt = Annotated[Optional[list[str]], typer.Option("--field", metavar="NAME=COLUMN", help="Read the file's column (or key) COLUMN as NAME: instruction, input, output (or response), system, history, conversations or messages. Repeat it: --field instruction=question --field input=context --field output=answer.")]
EngineOpt = Annotated[Optional[str], typer.Option("--engine", help="Where model calls are sent from: local (this process; the default) or ray (async Ray actors; needs pip install 'assay\\[ray]'). The cache, budget and trace stay in this process either way.")]
RayAddressOpt = Annotated[Optional[str], typer.Option("--ray-address", help="With --engine ray: 'auto' or HOST:PORT of a running Ray cluster (default: a local Ray started for the command).")]
PriceOpt = Annotated[Optional[float], typer.Option("--price-usd-per-1k-tokens", min=0, help="US dollars per 1,000 tokens (prompt and completion), for every model: lets a USD budget cap a model litellm cannot price.")]

# RunOptions fields whose flag is not simply the field's name with dashes.
_FLAG_OF_FIELD = {"selection": "--select", "review": "--review"}


def recipe_config(recipe: Path | None, **flags: object) -> Config:
    """The command's settings: defaults < the recipe file < ASSAY_* environment < these flags."""
    import os

    from assay.core.config_sources import load_config

    return load_config(recipe, env=os.environ, overrides=flags)


def runtime() -> Runtime:
    """The real clock, ids and environment: they enter here and nowhere else."""
    from assay.session.session import Runtime

    return Runtime()


def price_settings(price: float | None) -> dict[str, float | None]:
    """The recipe keys --price-usd-per-1k-tokens sets."""
    return {"llm.price_per_1k_input": price, "llm.price_per_1k_output": price}


def engine_settings(engine: str | None, ray_address: str | None) -> dict[str, str | None]:
    """The recipe keys --engine and --ray-address set (the engine checked: one line naming the flag)."""
    from assay.core.errors import AssayError

    if engine is not None and engine not in ("local", "ray"):
        raise AssayError(f"--engine: {engine!r} is not one of local, ray")
    return {"llm.engine": engine, "llm.ray_address": ray_address}


def check_llm_engine(config: Config, ray_address: str | None = None) -> None:
    """Before any work: with the Ray engine, Ray is installed and --ray-address answers; --ray-address only
    with it; and a note on stderr when some calls stay in this process (the dry-run and embedded models)."""
    from assay.core.errors import AssayError
    from assay.llm.factory import check_engine, stays_local

    if ray_address is not None and config.llm.engine != "ray":
        raise AssayError("--ray-address: only with --engine ray (or [llm] engine = \"ray\" in the recipe)")
    check_engine(config)
    reason = stays_local(config)
    if reason:
        typer.echo(f"note: --engine ray: {reason}", err=True)


def dedup_methods(text: str | None, config: Config | None = None,
                  default: tuple[str, ...] = ("exact", "minhash")) -> tuple[str, ...]:
    """The --dedup methods named in `text` (comma-separated; 'none' for none), each one checked;
    without the flag, the recipe's [screen.dedup] methods (after the environment), else `default`."""
    from assay.core.errors import AssayError
    from assay.pipeline.screen.scoring import DEDUP_METHODS

    if text is None:
        chosen = config.screen.dedup.methods if config is not None else None
        return tuple(chosen) if chosen is not None else default
    methods = tuple(m.strip() for m in text.split(",") if m.strip() and m.strip() != "none")
    unknown = [m for m in methods if m not in DEDUP_METHODS]
    if unknown:
        raise AssayError(f"--dedup: unknown method {unknown[0]!r}; choose from {', '.join(DEDUP_METHODS)} "
                         "(comma-separated), or none")
    return methods


def field_map(specs: list[str] | None) -> FieldMap:
    """The --field mapping, each flag checked (a malformed one or an unknown name is one line naming it)."""
    from assay.core.field_map import FieldMap

    return FieldMap.parse(specs)


def check_benchmarks(paths: list[Path] | tuple[Path, ...]) -> None:
    """Read every --decontam file once, so a missing or malformed one is reported before any work."""
    from assay.tools.benchmarks import load_benchmark

    for path in paths:
        load_benchmark(path)


def run_options(**fields: Any) -> RunOptions:
    """`assay run`'s RunOptions, or one line naming the flag whose value it refuses."""
    from pydantic import ValidationError

    from assay.core.errors import AssayError
    from assay.pipeline.deps import RunOptions

    try:
        return RunOptions(**fields)
    except ValidationError as err:
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "option"
        flag = _FLAG_OF_FIELD.get(field, "--" + field.replace("_", "-"))
        choices = _choices(RunOptions, field) if first["type"] == "literal_error" else ()
        # pydantic's own wording ("Input should be 'a' or 'b'") names no flag and lists choices unevenly.
        message = f"{first['input']!r} is not one of {', '.join(choices)}" if choices else first["msg"]
        raise AssayError(f"{flag}: {message}") from None


def _choices(model: Any, field: str) -> tuple[str, ...]:
    """The values a Literal field of a pydantic model allows (empty for any other field)."""
    from typing import Literal, get_args, get_origin

    annotation = model.model_fields[field].annotation if field in model.model_fields else None
    return tuple(map(str, get_args(annotation))) if get_origin(annotation) is Literal else ()


def warn_embedded_judge(config: Config) -> None:
    """Say once, on stderr, that the embedded local model is about to judge: its verdicts are weak.

    Users otherwise read its scores (nearly all 1, injections flagged that are not there) as a
    verdict on their data."""
    from assay.llm.model_names import LOCAL_MODEL_ALIASES

    judge = config.models.for_role("judge")
    if config.dry_run or (judge is not None and judge.lower() not in LOCAL_MODEL_ALIASES):
        return
    typer.echo("note: the embedded local model (SmolLM2) is judging: its judgements are weak (it scores most samples 1 "
               "and flags prompt injections that are not there). For real judgements pass --model, e.g. "
               "--model openai/gpt-4o-mini with OPENAI_API_KEY set, or --model openai/NAME --api-base URL for a "
               "local OpenAI-compatible server.", err=True)


def output_file(out: Path) -> Path:
    """`out` if its extension names a format assay writes (.jsonl, .json, .parquet), else one line naming them."""
    from assay.core.readers import container_of_name

    container_of_name(out)  # raises the one-line AssayError for an unsupported extension
    return out
