"""The report's "Rubric refinement" section: real refinement runs (scripted judge and editor, as in
test_rubric_refine.py) rendered through the real report writer; its numbers on the data side too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from assay.agents.judge import judge_sample
from assay.graphs.state import CurationState
from assay.pipeline.rubric.priority import review_priority
from assay.pipeline.rubric.refine import RefineOptions, refine
from assay.report.data import collect
from assay.report.rubric import criteria_edits
from assay.report.write import write_report
from assay.session.proposals import decide
from assay.testing.scripted import scripted_context
from tests.rubric_world import USELESS, World, decided_items, expand_item, pending_items, world_session
from tests.test_report import EVIL, checked

CELLS = re.compile(r"<td[^>]*>(?:<div[^>]*>|<span[^>]*>)?([^<]*)")


async def refined(session: Any, world: World, tmp_path: Path, **options: Any) -> Any:
    ctx, _ = scripted_context(session, default=world)
    return await refine(session, ctx, ctx, judge_sample, RefineOptions(out=tmp_path / "refined.toml", **options))


def page_of(session: Any, tmp_path: Path) -> str:
    page = write_report(session, CurationState(), tmp_path / "report.html").read_text(encoding="utf-8")
    checked(page)  # well formed, self-contained, nothing executable
    return page


def table(page: str, name: str, start: int = 0) -> list[list[str]]:
    """The body rows of the first table of class `name` after `start`, as cell texts."""
    at = page.index(f'<table class="{name}">', start)
    body = page[page.index("<tbody>", at):page.index("</tbody>", at)]
    return [CELLS.findall(row) for row in body.split("<tr>")[1:]]


async def test_a_kept_refinement_shows_agreement_counts_edits_fragment_and_review_order(tmp_path: Path,
                                                                                       runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    pending = pending_items(session)
    report = await refined(session, World(), tmp_path)
    page = page_of(session, tmp_path)
    assert 'href="#rubric"' in page and '<h2 id="rubric">Rubric refinement</h2>' in page
    section = page[page.index('id="rubric"'):]
    assert "<span class=\"ok\">kept</span>: held-out agreement 0.500 (2 of 4) → 1.000 (4 of 4)" in section
    assert f"refined rubric written to <code>{tmp_path / 'refined.toml'}</code>" in section
    # The decided items that fed it, under the base rubric: the padded ones the person rejected, the judge approved.
    assert table(section, "rubric-counts") == [["train", "6", "3", "3", "3", "3", "0", "0"],
                                               ["holdout", "4", "2", "2", "2", "2", "0", "0"]]
    assert "Under the kept proposal, 2 decided items fixed, 0 broken, 2 unchanged." in section
    assert "3 pending items judged under it for the review order." in section
    (proposal,) = table(section, "rubric-proposals")
    assert proposal == ["1", "0.500 (2 of 4)", "1.000 (4 of 4)", "kept", "5", "people reject padded answers"]
    assert table(section, "rubric-edits") == [
        ["accuracy", "same", "Facts in the response are correct.", "Facts in the response are correct."],
        ["verbosity", "removed", "Longer, more detailed responses are better.", "—"],
        ["conciseness", "added", "—", "The response says what is needed without padding or repetition."]]
    # The review order is the Review page's: the same items, scores and reasons, in the same order.
    ranked = review_priority(session)
    rows = table(section, "rubric-priority")
    assert [int(r[0]) for r in rows] == [pending["padded"], pending["borderline"], pending["concise"]]
    assert [r[2] for r in rows] == [f"{p.score:.2f}" for p in ranked] and float(rows[0][2]) > 2
    assert rows[0][1] == "new sample 200" and "base would approve, refined would reject" in rows[0][3]
    # The data side carries the same numbers.
    data = collect(session, CurationState()).rubric
    (run,) = data["runs"]
    assert (run["base_agreement"], run["final_agreement"], run["kept"]) == (0.5, 1.0, True)
    assert run["fragment"] == str(report.fragment) and run["kept_rubric"] == [
        {"name": c.name, "description": c.description} for c in report.kept]
    assert run["counts"]["holdout"] == {"items": 4, "approve": 2, "reject": 2, "agree": 2, "disagree": 2, "ties": 0,
                                        "failed": 0}
    assert run["effects"] == {"fixed": 2, "broken": 0, "unchanged": 2} == {
        "fixed": sum(e > 0 for e in report.effects.values()), "broken": sum(e < 0 for e in report.effects.values()),
        "unchanged": sum(e == 0 for e in report.effects.values())}
    assert [p["item_id"] for p in data["pending"]] == [p.item_id for p in ranked] and data["pending_total"] == 3
    session.close()


async def test_proposals_that_do_not_raise_agreement_show_as_not_kept_with_no_fragment(tmp_path: Path,
                                                                                      runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    marked = [dict(c) for c in USELESS]
    marked[0]["description"] = f"Facts are correct. {EVIL}"  # the editor's text is shown, never run
    await refined(session, World(edit=marked), tmp_path, rounds=2)
    page = page_of(session, tmp_path)
    section = page[page.index('id="rubric"'):]
    assert "<span class=\"no\">nothing kept</span>: no proposal raised held-out agreement above 0.500 (2 of 4);" \
           " no fragment written." in section
    assert "refined rubric written" not in section and not (tmp_path / "refined.toml").exists()
    rows = table(section, "rubric-proposals")
    assert [r[:4] for r in rows] == [["1", "0.500 (2 of 4)", "0.500 (2 of 4)", "not kept"],
                                     ["2", "0.500 (2 of 4)", "0.500 (2 of 4)", "not kept"]]
    # Neither was kept, so both were edited from the base rubric: the same before/after rows twice.
    first = table(section, "rubric-edits")
    second = table(section, "rubric-edits", section.index("proposal 2: criteria before"))
    assert first == second and [r[:2] for r in first] == [["accuracy", "removed"], ["verbosity", "same"],
                                                          ["correctness", "added"]]
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in section
    assert "Under the best proposal (not kept), 0 decided items fixed, 0 broken, 4 unchanged." in section
    assert "No pending review items to rank." in section
    session.close()


async def test_runs_are_shown_newest_first_and_each_edit_is_against_the_rubric_it_came_from(
        tmp_path: Path, runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    await refined(session, World(edit=USELESS), tmp_path)
    # Another split (seed): the editor's prompt differs, so the cache does not answer it with the first run's edit.
    await refined(session, World(), tmp_path, rounds=2, seed=1)
    data = collect(session, CurationState()).rubric
    assert [r["id"] for r in data["runs"]] == [2, 1] and [r["kept"] for r in data["runs"]] == [True, False]
    newest = data["runs"][0]["proposals"]
    assert [p["kept"] for p in newest] == [True, False]
    # The second proposal was edited from the kept first one; it repeated it, so every criterion is the same.
    assert [e["change"] for e in newest[1]["edits"]] == ["same", "same"]
    assert newest[1]["error"] == "the proposal is the rubric it was given"
    page = page_of(session, tmp_path)
    assert page.index('id="refinement-2"') < page.index('id="refinement-1"')
    monkeypatch.setattr("assay.report.rubric.RUNS_SHOWN", 1)  # many runs: the newest shown, the rest counted
    data = collect(session, CurationState()).rubric
    assert [r["id"] for r in data["runs"]] == [2] and data["runs_total"] == 2
    page = page_of(session, tmp_path)
    assert 'id="refinement-1"' not in page and "1 older runs not shown (the newest 1 are)." in page
    session.close()


def test_criteria_edits_read_by_name() -> None:
    before = [{"name": "a", "description": "x"}, {"name": "b", "description": "y"}]
    after = [{"name": "b", "description": "y, said better"}, {"name": "c", "description": "z"}]
    assert criteria_edits(before, after) == [
        {"change": "removed", "name": "a", "before": "x", "after": None},
        {"change": "edited", "name": "b", "before": "y", "after": "y, said better"},
        {"change": "added", "name": "c", "before": None, "after": "z"}]


def test_no_section_without_review_items_and_one_line_without_a_refinement(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    expand_item(session, 1, "Red.")  # pending only: nobody decided anything
    page = page_of(session, tmp_path)
    assert 'id="rubric"' not in page and 'href="#rubric"' not in page
    assert collect(session, CurationState()).rubric is None
    decided_items(session, good=2, padded=1)
    auto = expand_item(session, 2, "Blue.")
    decide(session.conn, session.runtime.clock, [auto], "approved", by="auto")  # a run without --review: no person
    page = page_of(session, tmp_path)
    section = page[page.index('<h2 id="rubric">'):]
    assert "3 review items decided by a person, no refinement yet: <code>assay rubric refine DIR</code>" in section
    assert "rubric-proposals" not in section and "Review order" not in section
    session.close()


def test_a_session_from_before_refinements_reports_without_them(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    for name in ("rubric_effects", "rubric_verdicts", "rubric_proposals", "rubric_refinements"):
        session.conn.execute(f"DROP TABLE {name}")  # as a session last written by an assay before migration 0007
    assert collect(session, CurationState()).rubric == {"decided": 10, "runs": [], "runs_total": 0, "pending": [],
                                                        "pending_total": 0}
    assert "10 review items decided by a person, no refinement yet" in page_of(session, tmp_path)
    session.close()


async def test_assay_report_writes_the_page_again_from_what_the_session_holds(tmp_path: Path, runtime: Any) -> None:
    """`assay report DIR` after `assay rubric refine`: the section appears without a rerun; the session is only read."""
    from typer.testing import CliRunner

    from assay.cli.app import app

    session = world_session(tmp_path, runtime)
    decided_items(session)
    await refined(session, World(), tmp_path)
    session.close()
    before = (session.dir / "session.db").read_bytes()
    env = {"ASSAY_HOME": runtime.env["ASSAY_HOME"], "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["report", str(session.dir)], env=env)
    assert result.exit_code == 0, result.output
    assert f"report written: {session.dir / 'report.html'}" in result.output
    page = (session.dir / "report.html").read_text(encoding="utf-8")
    checked(page)
    assert "held-out agreement 0.500 (2 of 4) → 1.000 (4 of 4)" in page
    assert "The session has not stopped yet." in page  # no checkpoint: a session `assay run` did not make
    assert (session.dir / "session.db").read_bytes() == before
    out = tmp_path / "elsewhere.html"
    assert CliRunner().invoke(app, ["report", str(session.dir), "--out", str(out)], env=env).exit_code == 0
    assert out.read_text(encoding="utf-8") == page


def test_the_run_state_comes_from_the_last_checkpoint(tmp_path: Path, runtime: Any) -> None:
    """What the report says of a run (its stop) is read from the run's LangGraph checkpoint, read-only."""
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    from assay.cli.report import stored_state
    from assay.cli.run import CHECKPOINTS
    from assay.graphs.curation import build_curation_graph
    from assay.graphs.state import checkpoint_serializer

    session = world_session(tmp_path, runtime)
    thread = {"configurable": {"thread_id": session.id}}
    with sqlite3.connect(session.dir / CHECKPOINTS, check_same_thread=False) as conn:
        graph = build_curation_graph().compile(checkpointer=SqliteSaver(conn, serde=checkpoint_serializer()))
        graph.update_state(thread, {"stop_reason": "targets_met", "stop_message": "every target met"}, as_node="export")
    conn.close()
    state = stored_state(session.dir, session.id)
    assert (state.stop_reason, state.stop_message) == ("targets_met", "every target met")
    assert stored_state(session.dir, "another-thread").stop_reason is None
    page = write_report(session, state, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<b>Stopped: targets_met</b> — every target met" in page
    session.close()
