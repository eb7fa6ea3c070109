"""Issue 11 #5: text from a model or from the data is shown as text on every display path.

A planner rationale holding `[/INST]` raised MarkupError inside the node (and again on resume).
One hostile string (markup, HTML, ANSI sequences, control characters, a bidi override, an emoji
code) goes through the run display, the trace views, the judge and score views, the ingest and
model-check views, the review and expand tables, the HTML report and the viewer's pages and API.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from starlette.testclient import TestClient

from assay.core.config import Config
from assay.session.judgements import Judgement, record_judgements
from assay.core.records import Message, Origin, Sample, Status
from assay.cli.run_display import RunDisplay, outcome_view
from assay.session.session import Session
from assay.trace.log import CallRecord
from tests.conftest import fixed_runtime

HOSTILE = ("[/INST] [bold]loud[/bold] [/] <script>alert(1)</script> \x1b[31mred\x1b[0m \x1b]0;title\x07 "
           "nul\x00 bs\x08 cr\r csi\x9b2J :smile: \u202eevil")
RAW_CONTROLS = ("\x1b", "\x07", "\x00", "\x08", "\r", "\x9b", "\u202e")
LITERAL = ("[/INST]", "[bold]loud[/bold]", "\\x1b[31mred", "\\x1b]0;title\\x07", ":smile:", "\\u202eevil")


def terminal() -> Console:
    """A console that adds no escape sequence of its own: any in the output came from the text."""
    return Console(file=io.StringIO(), width=2000, color_system=None, force_terminal=False, legacy_windows=False)


def drawn(*renderables: object) -> str:
    console = terminal()
    for renderable in renderables:
        console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def assert_shown_as_text(out: str, *, literal: tuple[str, ...] = LITERAL) -> None:
    for raw in RAW_CONTROLS:
        assert raw not in out, f"raw {raw!r} reached the terminal: {out!r}"
    for text in literal:
        assert text in out, f"{text!r} not shown literally in {out!r}"
    assert "😄" not in out


def test_run_display_shows_model_text_as_text() -> None:
    console = terminal()
    from assay.cli.render import progress_bar

    display = RunDisplay(console, progress_bar())
    display("plan", {"round": 1, "action": "repair", "rationale": HOSTILE})
    display("note", {"message": HOSTILE})
    display("measured", {"round": 1, "metrics": {"active": 3}, "targets": [
        {"name": HOSTILE, "met": False, "achieved": 1.0, "target": 2.0, "detail": HOSTILE}]})
    display("selected", {"selected": 2, "qualifying": 3, "method": HOSTILE, "notes": [HOSTILE]})
    display("stage", {"name": HOSTILE, "total": 2})
    assert_shown_as_text(console.file.getvalue())  # type: ignore[attr-defined]
    state = SimpleNamespace(stop_reason=HOSTILE, stop_message=HOSTILE, exported={"curated": HOSTILE},
                            targets=[SimpleNamespace(name=HOSTILE, target=1.0, achieved=0.5, met=False, detail=HOSTILE)])
    outcome = SimpleNamespace(state=state, waiting_for_review=None, spend={}, session_dir=HOSTILE)
    assert_shown_as_text(drawn(outcome_view(outcome)))
    waiting = SimpleNamespace(state=None, waiting_for_review=HOSTILE, spend={}, session_dir="s")
    assert_shown_as_text(drawn(outcome_view(waiting)))


def test_judge_score_ingest_and_model_check_views_show_text() -> None:
    from assay.cli.ingest import ingest_table
    from assay.cli.models import model_check_view
    from assay.cli.score import score_view
    from assay.cli.judge_view import judge_view

    report = {"mode": "pointwise", "dry_run": False, "judged": 1, "total": 2, "failed": 1, "errors": {HOSTILE: 1},
              "not_reached": 1, "stopped": HOSTILE, "mean_overall": 3.0, "histogram": {3: 1},
              "criteria": {HOSTILE: 3.0}, "issues": {HOSTILE: 1}, "model": HOSTILE, "calls": 1, "cache_hits": 0,
              "tokens": 10, "cost_usd": 0.0, "seconds": 1.0, "written": 2, "out": HOSTILE, "session": HOSTILE,
              "verify": {"mean_factuality": None, "verified": 0, "labels": {HOSTILE: 1}, "no_claims": 0, "failed": 0}}
    assert_shown_as_text(drawn(judge_view(report)))
    score = {"total": 2, "by_reason": {HOSTILE: 1, "kept": 1}, "embed_seconds": 0, "stages": [
        {"name": HOSTILE, "seen": 2, "dropped": 1, "seconds": 0.5}], "scores": {HOSTILE: {
            "count": 1, "mean": 1.0, "p10": 1.0, "median": 1.0, "p90": 1.0}}, "written": 2, "out": HOSTILE,
        "seconds": 1.0, "repeats": 0, "clusters": 0, "invalid": 0, "session": HOSTILE, "injection": 1}
    assert_shown_as_text(drawn(score_view(score)))
    ingest = SimpleNamespace(files=[SimpleNamespace(path=HOSTILE, shape=SimpleNamespace(format="alpaca", container=HOSTILE),
                                                    valid=1, invalid=0, repeats=0)],
                             added=1, already_present=0, rejects_path=HOSTILE, invalid=1)
    outcome = SimpleNamespace(report=ingest, samples=1, directory=HOSTILE)
    assert_shown_as_text(drawn(ingest_table(outcome)))  # type: ignore[arg-type]
    result = SimpleNamespace(ok=False, error=HOSTILE, raw=HOSTILE, prompt_tokens=1, completion_tokens=1, cost_usd=0.0,
                             call_ids=[1], cached=False)
    checked = SimpleNamespace(model=HOSTILE, dry_run=False, seconds=0.1, result=result, correct=False)
    # raw answers are shown as a repr, where Python already writes \x1b as text
    assert_shown_as_text(drawn(model_check_view(checked)), literal=("[/INST]", ":smile:"))  # type: ignore[arg-type]


def test_review_and_expand_tables_show_text() -> None:
    from assay.cli.expand import expand_view
    from assay.cli.review import pending_table

    item = SimpleNamespace(id=1, round=1, kind=HOSTILE, sample_id=HOSTILE, parent_id=None, summary=HOSTILE)
    assert_shown_as_text(drawn(pending_table([item])))  # type: ignore[list-item]
    summary = {"request": HOSTILE, "generated": 1, "kept": 1, "by_reason": {HOSTILE: 1}, "seedless": True,
               "plan": {"topic": HOSTILE, "attributes": [HOSTILE], "personas": [HOSTILE]}, "seeds": [], "pool": None,
               "stopped": HOSTILE, "model": HOSTILE, "calls": 1, "tokens": 1, "cost_usd": 0.0, "seconds": 1.0,
               "written": 1, "out": HOSTILE, "session": HOSTILE, "dry_run": False,
               "seed_instructions": [HOSTILE], "problems": [HOSTILE]}
    assert_shown_as_text(drawn(expand_view(summary)))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """A session whose data and model answers all carry the hostile string."""
    runtime = fixed_runtime({"ASSAY_HOME": str(tmp_path_factory.mktemp("home"))})
    directory = tmp_path_factory.mktemp("hostile") / "s"
    session = Session.open(directory, runtime, Config(), create=True)
    try:
        seed = Sample.create([Message(role="user", content=f"Explain {HOSTILE}"),
                              Message(role="assistant", content=HOSTILE)], source=HOSTILE, origin=Origin(format="alpaca"))
        dropped = Sample.create([Message(role="user", content="q"), Message(role="assistant", content=f"a {HOSTILE}")],
                                source=HOSTILE, origin=Origin(format="alpaca"))
        session.samples.insert([seed, dropped], round=0)
        session.samples.set_status([dropped.id], Status.DROPPED, f"judge_failed:{HOSTILE}")
        call = session.trace.llm_call(CallRecord(
            agent="judge", model="dry-run", prompt_version="judge@1", messages=[{"role": "user", "content": HOSTILE}],
            params={}, outcome="error", attempt=1, latency_ms=5.0, response=HOSTILE, error=HOSTILE,
            sample_ids=[seed.id], round=1))
        issues = [{"type": HOSTILE, "where": HOSTILE, "fix": HOSTILE}]
        record_judgements(session.conn, runtime.clock, [Judgement(seed.id, "llm", 2.0, {"accuracy": 2.0}, issues, HOSTILE,
                                                                  call_ids=[call], round=1)])
        session.trace.decision(seed.id, "judge", "judged", reason=HOSTILE, call_ids=[call], round=1)
        session.trace.decision(dropped.id, "judge", "drop", reason=f"judge_failed:{HOSTILE}", round=1)
        now = runtime.clock().isoformat()
        with session.conn:
            session.conn.execute(
                "INSERT INTO rounds (round, action, rationale, planner, metrics, gap, outcome, spend, started_at,"
                " finished_at) VALUES (1, 'repair', ?, 'llm', ?, '{}', ?, '{}', ?, ?)",
                (HOSTILE, json.dumps({"active": 2}), json.dumps({HOSTILE: 1}), now, now))
        session.trace.event("plan", HOSTILE, {"rationale": HOSTILE}, round=1)
        from assay.graphs.state import CurationState

        from assay.report.write import write_report

        report = write_report(session, CurationState(stop_message=HOSTILE), directory / "report.html")
        return directory, {"seed": seed.id, "call": call, "report": report}
    finally:
        session.close()


def test_trace_views_show_text(hostile: tuple[Path, dict[str, object]]) -> None:
    from assay.cli.trace import trace_views
    from assay.pipeline.trace_report import trace_report

    directory, ids = hostile
    for options in ({}, {"sample": ids["seed"]}, {"round": 1}, {"reason": "judge_failed"}, {"grep": "INST"}):
        kind, data = trace_report(directory, fixed_runtime(), **options)  # type: ignore[arg-type]
        assert_shown_as_text(drawn(trace_views(kind, data, directory)))


def test_html_report_escapes_text(hostile: tuple[Path, dict[str, object]]) -> None:
    page = Path(str(hostile[1]["report"])).read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for raw in RAW_CONTROLS:
        assert raw not in page, raw
    assert "\\x1b[31mred" in page


def test_viewer_pages_and_api_show_text(hostile: tuple[Path, dict[str, object]]) -> None:
    from assay.ui.app import create_app

    directory, ids = hostile
    client = TestClient(create_app(directory, fixed_runtime(), reviewer="t"), base_url="http://127.0.0.1:8484")
    for path in ("/", "/samples", f"/samples/{ids['seed']}", "/decisions", "/decisions/1", f"/calls/{ids['call']}",
                 "/samples?status=dropped"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
        for raw in RAW_CONTROLS:
            assert raw not in page.text, (path, raw)
        assert "\\x1b[31mred" in page.text, path
    for path in ("/api/summary", f"/api/samples/{ids['seed']}", "/api/decisions", f"/api/calls/{ids['call']}",
                 "/api/samples"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        for raw in RAW_CONTROLS:
            assert raw.encode() not in answer.content, (path, raw)
        assert any(HOSTILE in text for text in strings(answer.json())), path  # the data itself, exactly


def strings(value: object) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def test_trace_command_line_shows_text_and_json_escapes_controls(hostile: tuple[Path, dict[str, object]],
                                                                  tmp_path: Path) -> None:
    from tests.test_cli import assay

    directory, ids = hostile
    for args in ((), ("--sample", str(ids["seed"])), ("--grep", "INST")):
        shown = assay("trace", str(directory), *args, home=tmp_path).stdout
        assert_shown_as_text(shown, literal=("[/INST]", "\\x1b[31mred"))
    machine = assay("trace", str(directory), "--sample", str(ids["seed"]), "--json", home=tmp_path).stdout
    for raw in RAW_CONTROLS:
        assert raw not in machine, raw
    assert any(HOSTILE in text for text in strings(json.loads(machine)))
