"""Where `assay judge` and `assay expand` keep their session when none is named: under
$ASSAY_HOME/sessions/, never beside the output, and one stderr line says where."""

from __future__ import annotations

import json
from pathlib import Path

from assay.core.config_sources import load_config
from assay.pipeline.judge.files import run_judge
from assay.session.session import Runtime
from assay.testing.scripted import ScriptedTransport
from tests.conftest import EXAMPLES, fixed_runtime
from tests.test_cli import assay

VERDICT = json.dumps({"issues": [], "scores": dict.fromkeys(
    ["accuracy", "helpfulness", "instruction_following", "clarity", "safety"], 4), "overall": 4, "rationale": "fine"})


def judge(tmp_path: Path, out: Path, notes: list[str], session_dir: Path | None = None) -> dict:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"instruction": "Say hi", "output": "hi"}) + "\n")
    base = fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")})
    runtime = Runtime(clock=base.clock, new_id=base.new_id, env=base.env, note=notes.append)
    return run_judge(data, out, config=load_config(), runtime=runtime, session_dir=session_dir, pairwise=False,
                     limit=None, transport=ScriptedTransport(default=VERDICT))


def test_the_default_session_is_under_the_home_named_after_the_output_and_reused(tmp_path: Path) -> None:
    notes: list[str] = []
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = judge(tmp_path, tmp_path / "a" / "out.jsonl", notes)
    again = judge(tmp_path, tmp_path / "a" / "out.jsonl", notes)
    other = judge(tmp_path, tmp_path / "b" / "out.jsonl", notes)
    home_sessions = (tmp_path / "home" / "sessions").resolve()
    assert Path(first["session"]).parent == home_sessions and Path(first["session"]).name.startswith("judge-out.jsonl-")
    assert again["session"] == first["session"] and again["cache_hits"] == 1  # the same output reopens its session
    assert other["session"] != first["session"]  # the same file name in another folder does not
    assert notes[0].startswith(f"session: {first['session']} ") and len(notes) == 3
    assert not list(tmp_path.rglob("*.session"))


def test_a_named_session_is_used_and_not_announced(tmp_path: Path) -> None:
    notes: list[str] = []
    report = judge(tmp_path, tmp_path / "out.jsonl", notes, session_dir=tmp_path / "mine")
    assert Path(report["session"]) == (tmp_path / "mine").resolve() and notes == []
    assert not (tmp_path / "home" / "sessions").exists()


def test_assay_trace_reads_the_session_the_note_names(tmp_path: Path) -> None:
    out = tmp_path / "judged.jsonl"
    done = assay("judge", str(EXAMPLES / "quickstart.jsonl"), "--out", str(out), "--dry-run", "--limit", "2",
                 home=tmp_path / "home")
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("session: ")]
    folder = line.split()[1]
    traced = assay("trace", folder, home=tmp_path / "home")
    assert "judge" in traced.stdout and "LLM calls" in traced.stdout


def test_assay_sessions_shows_a_long_session_folder_whole() -> None:
    from rich.console import Console

    from assay.cli.sessions import sessions_table
    from assay.pipeline.session_list import SessionEntry

    folder = Path("/home/someone/.assay/sessions/judge-a_rather_long_output_name.jsonl-6d6d35e6")
    console = Console(record=True, width=80)
    console.print(sessions_table([SessionEntry(folder, "2026-01-01T00:00:00", 3, 20, 0.0)]))
    cells = [line.split("│")[1].strip() for line in console.export_text().splitlines() if line.startswith("│")]
    assert "".join(cells) == str(folder) and "…" not in console.export_text()


def test_a_session_left_beside_the_output_by_an_older_assay_is_reused(tmp_path: Path) -> None:
    """Sessions used to land in OUT.session/: a rerun after upgrading reopens it, so it pays nothing twice."""
    notes: list[str] = []
    out = tmp_path / "out.jsonl"
    legacy = tmp_path / "out.jsonl.session"
    first = judge(tmp_path, out, notes, session_dir=legacy)  # what an older assay made unasked
    again = judge(tmp_path, out, notes)
    assert Path(again["session"]) == Path(first["session"]) == legacy.resolve()
    assert again["cache_hits"] == 1 and not (tmp_path / "home" / "sessions").exists()
