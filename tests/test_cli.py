"""The CLI as a user runs it: ingest the example data, list sessions, read the trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

HEAVY = ("torch", "transformers", "sentence_transformers", "chromadb", "litellm", "langgraph", "pyarrow")


def assay(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ASSAY_HOME": str(home), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, env=env, timeout=600)
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> tuple[Path, Path]:
    home = tmp_path_factory.mktemp("home")
    session = tmp_path_factory.mktemp("sessions") / "demo"
    assay("ingest", str(EXAMPLES / "pool.jsonl"), "--session", str(session), home=home)
    return session, home


def test_help_imports_no_heavy_library() -> None:
    probe = "import sys; from assay.cli.app import app; print(','.join(m for m in %r if m in sys.modules))" % (HEAVY,)
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
    help_text = subprocess.run([sys.executable, "-m", "assay", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("ingest", "sessions", "trace", "models"):
        assert command in help_text


def test_ingest_stores_every_distinct_example(ingested: tuple[Path, Path]) -> None:
    session, home = ingested
    lines = (EXAMPLES / "pool.jsonl").read_text().splitlines()
    distinct = len({line for line in lines if line.strip()})
    summary = json.loads(assay("trace", str(session), "--json", home=home).stdout)
    assert sum(row["count"] for row in summary["samples"]) == distinct
    (event,) = [e for e in summary["events"] if e["kind"] == "ingest"]
    assert event["data"]["files"][0]["repeats"] == len(lines) - distinct


def test_ingesting_again_adds_nothing(ingested: tuple[Path, Path]) -> None:
    session, home = ingested
    out = assay("ingest", str(EXAMPLES / "pool.jsonl"), "--session", str(session), home=home).stdout
    assert "added 0 new samples" in out


def test_sessions_lists_the_session(ingested: tuple[Path, Path]) -> None:
    session, home = ingested
    out = assay("sessions", home=home).stdout
    assert str(session) in out


def test_trace_summary_and_sample_lineage(ingested: tuple[Path, Path]) -> None:
    session, home = ingested
    out = assay("trace", str(session), home=home).stdout
    assert "samples by status" in out and "ingest" in out
    first = json.loads((EXAMPLES / "pool.jsonl").read_text().splitlines()[0])
    import sqlite3

    conn = sqlite3.connect(session / "session.db")
    sample_id = conn.execute("SELECT id FROM samples WHERE source = 'pool.jsonl:1'").fetchone()[0]
    history = json.loads(assay("trace", str(session), "--sample", sample_id[:8], "--json", home=home).stdout)
    assert history["sample"]["id"] == sample_id and history["sample"]["source"] == "pool.jsonl:1"
    assert history["sample"]["messages"][-1]["content"] == first["output"]
    text = assay("trace", str(session), "--sample", sample_id, home=home).stdout
    assert sample_id in text and "op=seed" in text


def test_trace_of_unknown_sample_and_missing_session_fail_clearly(ingested: tuple[Path, Path], tmp_path: Path) -> None:
    session, home = ingested
    done = assay("trace", str(session), "--sample", "zzzz", home=home, check=False)
    assert done.returncode == 2 and "no sample with id 'zzzz'" in done.stderr
    done = assay("trace", str(tmp_path / "nothing"), home=home, check=False)
    assert done.returncode == 2 and "not an assay session" in done.stderr


def test_models_check_dry_run_is_traced(tmp_path: Path) -> None:
    out = assay("models", "check", "--dry-run", "--session", str(tmp_path / "s"), home=tmp_path).stdout
    assert "dry run" in out and "structured answer" in out
    summary = json.loads(assay("trace", str(tmp_path / "s"), "--json", home=tmp_path).stdout)
    assert summary["session"]["dry_run"] is True
    assert summary["llm_calls"][0]["model"] == "dry-run" and summary["llm_calls"][0]["calls"] == 1


def run_main(monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, list[dict]]:
    """`assay ARGV` in this process, its run loop replaced by a recorder: (exit code, start_run calls)."""
    from assay.cli import run as run_command
    from assay.cli.app import main

    calls: list[dict] = []

    def recorded(out: Path, **kwargs: object) -> run_command.RunOutcome:
        calls.append({"out": out, **kwargs})
        return run_command.RunOutcome(out, finished=True)

    monkeypatch.setattr(run_command, "start_run", recorded)
    monkeypatch.setattr(sys, "argv", ["assay", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    return exited.value.code, calls


def test_decontam_is_a_plain_option_that_leaves_the_next_argument_alone(monkeypatch, tmp_path: Path) -> None:
    pool, bench = EXAMPLES / "pool.jsonl", EXAMPLES / "benchmark.jsonl"
    code, calls = run_main(monkeypatch, "run", "--decontam", str(bench), str(pool), "--out", str(tmp_path / "s"), "--dry-run")
    assert code == 0
    (call,) = calls
    assert call["options"].inputs == [str(pool)] and call["options"].decontam == [str(bench)]


def test_run_takes_an_api_base(monkeypatch, tmp_path: Path) -> None:
    code, calls = run_main(monkeypatch, "run", str(EXAMPLES / "pool.jsonl"), "--out", str(tmp_path / "s"),
                           "--api-base", "http://127.0.0.1:8000/v1")
    assert code == 0 and calls[0]["config"].llm.api_base == "http://127.0.0.1:8000/v1"


@pytest.mark.parametrize("flags", [["--dedup", "fuzzy"], ["--dedup", "exact,fuzzy"], ["--decontam", "missing.jsonl"],
                                   ["--target-size", "0"], ["--planner", "oracle"]])
def test_a_bad_option_is_one_line_and_exit_2_before_any_session_exists(monkeypatch, capsys, tmp_path: Path,
                                                                         flags: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, calls = run_main(monkeypatch, "run", str(EXAMPLES / "pool.jsonl"), "--out", str(tmp_path / "s"), "--dry-run", *flags)
    assert code == 2 and not calls and not (tmp_path / "s").exists()
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and (flags[0] in err or flags[1] in err)


def test_score_with_an_unknown_dedup_method_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = assay("score", str(EXAMPLES / "pool.jsonl"), "--out", str(tmp_path / "o.jsonl"), "--dedup", "exact,fuzzy",
                 home=tmp_path, check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and "fuzzy" in done.stderr
    assert not (tmp_path / "o.jsonl").exists()
