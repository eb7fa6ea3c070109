"""How `assay` ends: user-fixable errors as one line with exit 2, never a traceback; Ctrl-C with 130."""

from __future__ import annotations

import sys

import typer


def run_with_exit_codes(app: typer.Typer, args: list[str]) -> None:
    """Run the typer app on `args` and exit with assay's codes (2 for a usage or input error, 130 for Ctrl-C)."""
    try:
        from typer._click import exceptions as click_errors  # newer typer vendors click and raises its exceptions
    except ImportError:
        from click import exceptions as click_errors

    from assay.core.errors import AssayError, RunInterrupted

    try:
        code = app(args=args, standalone_mode=False)
    except click_errors.NoArgsIsHelpError as err:
        typer.echo(err.format_message())
        sys.exit(err.exit_code)
    except click_errors.ClickException as err:  # a bad option or argument: one line, no usage box
        command = err.ctx.command_path if getattr(err, "ctx", None) else "assay"
        typer.secho(f"error: {err.format_message()} (see `{command} --help`)", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except typer.Abort:
        typer.secho("aborted", fg=typer.colors.YELLOW, err=True)
        sys.exit(1)
    except AssayError as err:
        from assay.core.safe_text import visible

        typer.secho(f"error: {visible(str(err))}", fg=typer.colors.RED, err=True)  # messages quote data: no raw escapes
        sys.exit(2)
    except RunInterrupted as err:
        typer.secho(str(err), fg=typer.colors.YELLOW, err=True)
        sys.exit(130)
    if code == 130:  # Ctrl-C in any other command (typer turns KeyboardInterrupt into exit code 130)
        typer.secho("interrupted", fg=typer.colors.YELLOW, err=True)
    sys.exit(code if isinstance(code, int) else 0)
