"""A session keeps its recipe, has one writer at a time, and its registry loses nothing."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from assay.core.config import Config
from assay.core.config_sources import load_config
from assay.core.errors import AssayError
from assay.pipeline.deps import RunOptions
from assay.session.registry import register, registered
from assay.cli.run import RUN_OPTIONS_META
from assay.session.session import Runtime, Session
from tests.conftest import fixed_runtime


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSAY_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, env=env, timeout=300)


def stored_recipe(directory: Path) -> dict:
    conn = sqlite3.connect(directory / "session.db")
    try:
        return json.loads(conn.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
    finally:
        conn.close()


def test_opening_a_session_keeps_its_recipe_and_names_the_settings_that_differ(tmp_path: Path) -> None:
    recipe = load_config(None, env={}, overrides={"budget.max_usd": 1.5, "targets.size": 5, "models.default": "openai/a"})
    Session.open(tmp_path / "s", fixed_runtime(), recipe, create=True).close()
    notes: list[str] = []
    runtime = Runtime(env={"ASSAY_HOME": os.environ["ASSAY_HOME"]}, note=notes.append)

    other = load_config(None, env={}, overrides={"models.default": "openai/b", "dry_run": True})
    opened = Session.open(tmp_path / "s", runtime, other, create=False)
    # This command runs with its own model, but within the session's budget and targets.
    assert opened.config.models.default == "openai/b" and opened.config.dry_run
    assert opened.config.budget.max_usd == 1.5 and opened.config.targets.size == 5
    opened.close()
    assert len(notes) == 1 and "models.default" in notes[0] and "dry_run" in notes[0]
    assert "budget" not in notes[0]

    plain = Session.open(tmp_path / "s", runtime, load_config(None, env={}), create=False)
    assert plain.config == recipe
    plain.close()
    assert len(notes) == 1, "nothing differed, yet a note was printed"
    assert stored_recipe(tmp_path / "s") == recipe.model_dump(mode="json")


def test_a_command_with_session_does_not_replace_the_recipe(tmp_path: Path) -> None:
    recipe_file = tmp_path / "recipe.toml"
    recipe_file.write_text("[budget]\nmax_usd = 2.0\n[targets]\nsize = 7\n", encoding="utf-8")
    session = tmp_path / "s"
    first = cli("models", "check", "--dry-run", "--session", str(session), "--recipe", str(recipe_file), home=tmp_path)
    assert first.returncode == 0, first.stderr
    before = stored_recipe(session)
    assert before["budget"]["max_usd"] == 2.0 and before["targets"]["size"] == 7

    again = cli("models", "check", "--dry-run", "--model", "openai/other", "--session", str(session), home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert stored_recipe(session) == before
    assert "models.default" in again.stderr and "assay resume" in again.stderr


def _register_many(home: str, worker: int) -> None:
    runtime = Runtime(env={"ASSAY_HOME": home})
    for n in range(20):
        register(Path(f"/sessions/w{worker}-{n}"), runtime)


def test_the_registry_keeps_every_session_under_concurrent_registration(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_register_many, args=(str(tmp_path), w)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert len(registered(Runtime(env={"ASSAY_HOME": str(tmp_path)}))) == 80


def test_a_second_writer_is_refused_while_readers_keep_working(tmp_path: Path) -> None:
    holder = Session.open(tmp_path / "s", fixed_runtime(), Config(), create=True)
    holder.set_meta(RUN_OPTIONS_META, RunOptions(inputs=[str(tmp_path / "pool.jsonl")]).model_dump(mode="json"))
    try:
        refused = cli("resume", str(tmp_path / "s"), home=tmp_path)
        assert refused.returncode == 2
        (line,) = refused.stderr.strip().splitlines()
        assert "in use by another assay process" in line and f"pid {os.getpid()}" in line
        reader = cli("trace", str(tmp_path / "s"), "--json", home=tmp_path)
        assert reader.returncode == 0, reader.stderr
    finally:
        holder.close()
    # The lock goes with its holder.
    again = Session.open(tmp_path / "s", fixed_runtime(), Config(), create=False)
    again.close()


def test_the_lock_is_released_when_its_process_dies(tmp_path: Path) -> None:
    Session.open(tmp_path / "s", fixed_runtime(), Config(), create=True).close()
    code = ("import os; from pathlib import Path; from assay.core.config import Config; from assay.session.session import Session, Runtime; "
            f"Session.open(Path({str(tmp_path / 's')!r}), Runtime(env={{}}), Config(), create=False); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    Session.open(tmp_path / "s", fixed_runtime(), Config(), create=False).close()


def test_a_recipe_written_by_another_version_is_one_line_naming_the_key(tmp_path: Path) -> None:
    Session.open(tmp_path / "s", fixed_runtime(), load_config(None, env={}), create=True).close()
    with sqlite3.connect(tmp_path / "s" / "session.db") as conn:
        stored = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
        stored["budget"]["max_dollars"] = 3  # a key this version does not know
        conn.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(stored),))
    for open_it in (lambda: Session.open(tmp_path / "s", fixed_runtime(), load_config(None, env={}), create=False),
                    lambda: Session.open_read_only(tmp_path / "s", fixed_runtime())):
        with pytest.raises(AssayError, match=r"stored recipe does not fit this version of assay: budget\.max_dollars"):
            open_it()
