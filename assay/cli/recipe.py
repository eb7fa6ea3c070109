"""`assay recipe show` and `assay recipe init`: the settings a command uses, and a starter recipe file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from assay.cli.options import ModelOpt, RecipeOpt, recipe_config, runtime

recipe_app = typer.Typer(help="Show the effective recipe, or write a commented starter recipe.", no_args_is_help=True)

SetOpt = Annotated[Optional[list[str]], typer.Option(
    "--set", metavar="KEY=VALUE",
    help="Override one setting by its dotted key, as a flag would, e.g. --set screen.minhash.threshold=0.85 "
         "(repeat for more; the value is read as TOML, else as a string).")]


@recipe_app.command("show")
def recipe_show(
    recipe: RecipeOpt = None,
    model: ModelOpt = None,
    settings: SetOpt = None,
    session: Annotated[Optional[Path], typer.Option(
        "--session", "-s", help="Print the recipe this session runs with (stored in it; `assay resume` flags change it).")] = None,
) -> None:
    """Print the effective recipe as TOML: every setting, the defaults < --recipe < ASSAY_* environment < flags.

    The output is itself a recipe: `assay recipe show > r.toml` then `--recipe r.toml` reproduces it.
    With --session, the recipe stored in that session instead.
    """
    from assay.core.recipe_toml import recipe_toml

    if session is not None:
        config = _session_recipe(session, given=recipe is not None or model is not None or bool(settings))
    else:
        config = recipe_config(recipe, **{"models.default": model, **parse_settings(settings or [])})
    typer.echo(recipe_toml(config), nl=False)


def _session_recipe(directory: Path, *, given: bool) -> Any:
    """The session's stored recipe; other settings alongside are refused, as they would not be what it runs with."""
    from assay.core.errors import AssayError
    from assay.session.session import session_recipe

    if given:
        raise AssayError("--session prints the recipe stored in the session: it takes no --recipe, --model or --set "
                         f"(to change it, pass those settings' flags to `assay resume {directory}`)")
    return session_recipe(directory, runtime())


@recipe_app.command("init")
def recipe_init(
    path: Annotated[Path, typer.Argument(help="The recipe file to write.")] = Path("assay.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite the file if it exists.")] = False,
) -> None:
    """Write a starter recipe: every setting at its default, each with a comment saying what it does."""
    from assay.core.config import Config
    from assay.core.errors import AssayError
    from assay.core.recipe_toml import recipe_toml
    from assay.core.writers import atomic_text

    if path.is_dir():
        raise AssayError(f"{path}: is a folder; name the recipe file to write, e.g. {path / 'assay.toml'}")
    if path.exists() and not force:
        raise AssayError(f"{path}: exists; pass --force to overwrite it")
    with atomic_text(path) as handle:
        handle.write(recipe_toml(Config(), comments=True))
    typer.echo(f"wrote {path}: every setting at its default. Edit it, then pass --recipe {path} "
               f"(`assay recipe show --recipe {path}` prints what a command would use).")


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """--set KEY=VALUE pairs as dotted overrides; a value that is not TOML is taken as a string."""
    import tomllib

    from assay.core.errors import AssayError

    found: dict[str, Any] = {}
    for pair in pairs:
        key, equals, raw = pair.partition("=")
        if not equals or not key.strip():
            raise AssayError(f"--set {pair!r}: write KEY=VALUE, e.g. --set screen.minhash.threshold=0.85")
        try:
            value = tomllib.loads(f"value = {raw.strip()}")["value"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()  # a bare word, e.g. --set models.judge=openai/gpt-4o
        found[key.strip()] = value
    return found
