"""`assay review DIR`: each pending item in full (text, parent, word diff, the judge's reasons), and
`--approve 2 3 --reject 4` with several ids per option, as the help promises."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from assay.cli.app import app
from assay.cli.review import spread_ids
from assay.core.records import Message, Sample
from assay.session.proposals import proposals, propose, sample_payload
from assay.session.session import Session


def pending_rewrites(session: Session, n: int) -> list[int]:
    """`n` pending repairs, each a rewrite of a pool sample, with the rewriter's traced verdict and judge calls."""
    ids = []
    for k in range(n):
        parent = Sample.create([Message(role="user", content=f"What is {k} plus 2?"),
                                Message(role="assistant", content=f"It is {k + 3} I think.")], source="t")
        session.samples.insert([parent])
        child = Sample.create([parent.messages[0], Message(role="assistant", content=f"It is {k + 2}.")], source="t",
                              parent_ids=(parent.id,), op="rewrite")
        call = session.conn.execute(
            "INSERT INTO llm_calls (ts, agent, model, prompt_version, request, response, outcome, attempt, latency_ms)"
            " VALUES ('t', 'judge', 'm', 'judge_pairwise@1', '{}', ?, 'ok', 1, 1)",
            (json.dumps({"rationale": "B gives the right sum", "winner": "b"}),)).lastrowid
        session.conn.commit()
        session.trace.decision(parent.id, "rewriter", "rewrite_accepted", call_ids=[call], round=1,
                               reason=f"accepted: rewrite {child.id} preferred in both orders")
        ids.append(propose(session.conn, session.runtime.clock, round=1, kind="repair", sample_id=child.id,
                           parent_id=parent.id, summary=f"rewrite of {parent.id}", payload=sample_payload(child),
                           auto_approve=False))
    return ids


def invoke(runtime: Any, *args: str) -> Any:
    result = CliRunner().invoke(app, ["review", *args], env={"ASSAY_HOME": runtime.env["ASSAY_HOME"], "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result


def test_ids_after_an_option_all_belong_to_it() -> None:
    assert spread_ids(["D", "--approve", "2", "3", "4", "--reject", "5", "6", "--note", "7"]) == [
        "D", "--approve", "2", "--approve", "3", "--approve", "4", "--reject", "5", "--reject", "6", "--note", "7"]


def test_review_shows_the_text_its_parent_a_word_diff_and_the_judges_reasons(session: Session, runtime: Any) -> None:
    (item,) = pending_rewrites(session, 1)
    out = invoke(runtime, str(session.dir)).output
    assert f"item {item} · repair · round 1" in out
    assert "- It is 3 I think." in out and "+ It is 2." in out  # parent and proposed, line by line
    assert "rewriter rewrite_accepted: accepted: rewrite" in out
    assert "judge call" in out and "b — B gives the right sum" in out


def test_approve_and_reject_take_several_ids(session: Session, runtime: Any) -> None:
    ids = pending_rewrites(session, 5)
    out = invoke(runtime, str(session.dir), "--approve", str(ids[0]), str(ids[1]), str(ids[2]),
                 "--reject", str(ids[3]), str(ids[4])).output
    assert "approved 3, rejected 2" in out
    status = {p.id: p.status for p in proposals(session.conn)}
    assert status == {ids[0]: "approved", ids[1]: "approved", ids[2]: "approved", ids[3]: "rejected",
                      ids[4]: "rejected"}


def test_the_export_item_shows_its_files_and_the_targets_it_misses(session: Session, runtime: Any) -> None:
    from assay.core.plan import TargetStatus
    from assay.pipeline.repair.review_gate import propose_export

    propose_export(session, "max_rounds", "stopped after 5 rounds",
                   [TargetStatus(name="size", target=180, achieved=117, met=False)])
    out = invoke(runtime, str(session.dir)).output
    assert "writes 0 curated samples, 0 rejected (stopped: max_rounds)" in out
    assert f"{session.dir}/curated.jsonl" in out
    assert "MISSED size: 0 selected of 180 (117 qualify)" in out
