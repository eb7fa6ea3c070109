"""`assay models check`: one structured request through the gateway, and what came back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from assay.cli.options import ApiBaseOpt, DryRunOpt, ModelOpt, RecipeOpt, recipe_config, runtime

if TYPE_CHECKING:
    from assay.pipeline.model_check import ModelCheckOutcome

models_app = typer.Typer(help="Check the models assay talks to.", no_args_is_help=True)


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

    from assay.cli.render import console
    from assay.pipeline.model_check import run_model_check

    config = recipe_config(recipe, **{"models.default": model, "dry_run": dry_run or None, "llm.api_base": api_base})
    with console.status(f"asking {config.models.default or 'the embedded model (first load ~30 s)'}…"):
        outcome = asyncio.run(run_model_check(config, runtime(), session))
    console.print(model_check_view(outcome))
    if not outcome.result.ok:
        raise typer.Exit(1)


def model_check_view(outcome: ModelCheckOutcome) -> Any:
    """The result of `assay models check`."""
    from rich.panel import Panel

    from assay.cli.text import plain

    result = outcome.result
    rows = [f"model: {outcome.model}" + (" (dry run: placeholder answers)" if outcome.dry_run else ""),
            f"time: {outcome.seconds:.2f} s · tokens: {result.prompt_tokens}+{result.completion_tokens} · "
            f"cost: ${result.cost_usd:.5f} · calls: {len(result.call_ids)}" + (" (cached)" if result.cached else "")]
    if result.ok:
        rows.append(f"structured answer: {result.value.model_dump_json()}")
        rows.append("the sum is right" if outcome.correct else "valid JSON, but the sum is wrong (17 + 25 = 42)")
    else:
        rows += [f"failed: {result.error}", f"raw answer: {result.raw!r}"]
    style = "green" if result.ok else "red"
    return Panel(plain("\n".join(rows)), title="models check", border_style=style, title_align="left")
