"""`assay resume` says once, as `run`, `judge` and `expand` do, when the embedded model will judge."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assay.core.config import Config
from assay.core.errors import AssayError
from assay.session.session import Runtime, Session

NOTE = "embedded local model"


def made_session(folder: Path, config: Config) -> Path:
    """A session as `assay run` leaves it before its first step: its recipe and run options stored."""
    from assay.cli.run import RUN_OPTIONS_META
    from assay.pipeline.deps import RunOptions

    session = Session.open(folder, Runtime(), config, create=True)
    session.set_meta(RUN_OPTIONS_META, RunOptions(inputs=["pool.jsonl"]).model_dump(mode="json"))
    session.close()
    return folder


def resume_err(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """`assay resume ARGV` in this process with the graph replaced by a stop; its stderr."""
    from assay.cli import run as run_command
    from assay.cli.app import main

    async def stop(*args: object, **kwargs: object) -> None:
        raise AssayError("stopped before the graph")

    monkeypatch.setattr(run_command, "drive", stop)
    monkeypatch.setattr(sys, "argv", ["assay", "resume", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    return capsys.readouterr().err


def test_resume_with_the_embedded_model_says_so_once(monkeypatch, capsys, tmp_path: Path) -> None:
    folder = made_session(tmp_path / "s", Config())
    err = resume_err(monkeypatch, capsys, str(folder))
    assert err.count(NOTE) == 1 and "--model" in err


def test_resume_says_nothing_for_a_dry_run_or_a_real_model(monkeypatch, capsys, tmp_path: Path) -> None:
    dry = made_session(tmp_path / "dry", Config(dry_run=True))
    assert NOTE not in resume_err(monkeypatch, capsys, str(dry))
    embedded = made_session(tmp_path / "switched", Config())
    assert NOTE not in resume_err(monkeypatch, capsys, str(embedded), "--model", "openai/gpt-4o-mini")
