"""`assay rubric refine`'s loop against a scripted judge and editor in a real session: a known-bad criterion
is replaced when held-out agreement rises, nothing is kept when it does not, the budget stops it cleanly,
and the pending items are ranked most informative first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assay.agents.judge import judge_sample
from assay.core.config_sources import load_config
from assay.core.errors import AssayError, BudgetExhausted
from assay.llm.budget import BudgetLedger
from assay.pipeline.rubric.priority import review_priority
from assay.pipeline.rubric.refine import RefineOptions, refine, split
from assay.pipeline.rubric.items import review_cases
from assay.testing.scripted import scripted_context
from tests.rubric_world import FIXED, USELESS, World, decided_items, pending_items, world_session


async def run(session: Any, world: World, tmp_path: Path, **options: Any) -> Any:
    ctx, _ = scripted_context(session, default=world, budget=options.pop("budget", None))
    return await refine(session, ctx, ctx, judge_sample, RefineOptions(out=tmp_path / "refined.toml", **options))


def rows(session: Any, table: str) -> list[dict[str, Any]]:
    return [dict(r) for r in session.conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]


async def test_a_length_rewarding_criterion_is_replaced_and_agreement_rises(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    ids = decided_items(session)
    world = World()
    report = await run(session, world, tmp_path)
    assert report.n_holdout == 4 and report.n_train == 6  # 30 % of 5 approved and 5 rejected, stratified
    assert report.base_agreement == 0.5 and report.final_agreement == 1.0  # the padded held-out items now rejected
    assert [c.name for c in report.kept] == ["accuracy", "conciseness"]
    # The editor saw the training disagreements: padded answers the person rejected, with the note.
    assert "the person chose reject, the judge chose approve (overall 5, keep at 3.5" in world.editor_prompts[0]
    assert "padded with filler" in world.editor_prompts[0] and "- verbosity: Longer" in world.editor_prompts[0]
    # The fragment reads back through the real recipe loader as exactly the kept rubric.
    text = report.fragment.read_text()
    assert text.startswith("# Judge rubric refined by") and "0.500 before -> 1.000 after" in text
    assert load_config(report.fragment).judge.rubric == report.kept
    (run_row,) = rows(session, "rubric_refinements")
    (proposal,) = rows(session, "rubric_proposals")
    assert run_row["base_agreement"] == 0.5 and run_row["fragment"] == str(report.fragment)
    assert proposal["kept"] == 1 and proposal["agreement_before"] == 0.5 and proposal["agreement_after"] == 1.0
    assert proposal["n_train"] == 6 and proposal["n_holdout"] == 4 and json.loads(proposal["rubric"]) == FIXED
    calls = json.loads(proposal["call_ids"])
    assert len(calls) == 1 + 4  # the editor, then the four held-out items judged again
    (decision,) = session.conn.execute("SELECT action, reason, call_ids FROM decisions WHERE agent = 'rubric_editor'")
    assert decision["action"] == "rubric_kept" and "0.500 -> 1.000 on 4 items" in decision["reason"]
    assert json.loads(decision["call_ids"]) == calls
    # Effectiveness: the held-out padded items are fixed, the concise ones unchanged.
    held_padded = {i for i in report.effects if i in ids["padded"]}
    assert held_padded and all(report.effects[i] == 1 for i in held_padded)
    assert all(report.effects[i] == 0 for i in report.effects if i in ids["good"])
    session.close()


async def test_nothing_is_kept_when_agreement_does_not_rise(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    report = await run(session, World(edit=USELESS), tmp_path, rounds=2)
    assert report.kept is None and report.fragment is None and not (tmp_path / "refined.toml").exists()
    assert [p.kept for p in report.proposals] == [False, False]
    assert [p.agreement_after for p in report.proposals] == [0.5, 0.5]
    assert [r["kept"] for r in rows(session, "rubric_proposals")] == [0, 0]
    assert rows(session, "rubric_refinements")[0]["fragment"] is None
    actions = [r[0] for r in session.conn.execute("SELECT action FROM decisions WHERE agent = 'rubric_editor'")]
    assert actions == ["rubric_rejected", "rubric_rejected"]
    session.close()


async def test_a_later_round_edits_the_kept_rubric(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    world = World()
    report = await run(session, world, tmp_path, rounds=2)
    assert [p.kept for p in report.proposals] == [True, False]
    second = report.proposals[1]
    assert second.error == "the proposal is the rubric it was given"  # the editor answered the same rubric again
    assert "- conciseness: The response says" in world.editor_prompts[1]  # the second round started from the kept one
    # The kept proposal's verdicts: its held-out items, and its training items (judged for the next round), once each.
    won = session.conn.execute("SELECT winner FROM rubric_refinements").fetchone()[0]
    counts = dict(session.conn.execute("SELECT split, COUNT(*) FROM rubric_verdicts WHERE rubric = ? GROUP BY split",
                                       (str(won),)).fetchall())
    assert counts == {"holdout": 4, "train": 6}
    assert len(report.effects) == 10  # every decided item was judged under both rubrics
    session.close()


async def test_a_small_budget_stops_refine_with_nothing_written(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    world = World()
    with pytest.raises(BudgetExhausted, match="LLM call budget spent"):
        await run(session, world, tmp_path, budget=BudgetLedger(max_calls=12))  # spent while re-judging the held-out items
    assert world.asked["editor"] == 1  # the proposal was made; scoring it ran out
    for table in ("rubric_refinements", "rubric_proposals", "rubric_verdicts", "rubric_effects"):
        assert rows(session, table) == []
    assert not (tmp_path / "refined.toml").exists()
    assert session.conn.execute("SELECT COUNT(*) FROM decisions WHERE agent = 'rubric_editor'").fetchone()[0] == 0
    session.close()


async def test_too_few_decided_items_says_how_many_are_needed(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session, good=2, padded=1)
    with pytest.raises(AssayError, match=r"3 review item\(s\) decided by a person; refining the rubric needs at least 4"):
        await run(session, World(), tmp_path)
    session.close()


async def test_pending_items_are_ranked_by_committee_then_uncertainty(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    pending = pending_items(session)
    before = review_priority(session)  # no refinement yet: by the judge's uncertainty alone (nothing recorded)
    assert [p.score for p in before] == [0.0, 0.0, 0.0] and before[0].reason == "no judge verdict recorded"
    report = await run(session, World(), tmp_path)
    assert report.ranked_pending == 3
    ranked = review_priority(session)
    assert [p.item_id for p in ranked] == [pending["padded"], pending["borderline"], pending["concise"]]
    assert ranked[0].score > 2 and "base would approve, refined would reject" in ranked[0].reason
    assert ranked[1].score == 1.0 and "0.00 from the keep threshold 3.5" in ranked[1].reason
    assert ranked[2].score == 0.875
    session.close()


def test_the_split_is_stratified_and_seeded(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session, good=7, padded=3)
    cases = review_cases(session.conn)
    train, held = split(cases, 0.3, 0)
    assert sorted(c.human for c in held) == ["approve", "approve", "reject"]  # round(7*.3), round(3*.3)
    assert split(cases, 0.3, 0) == (train, held) and split(cases, 0.3, 1) != (train, held)
    session.close()


async def test_auto_approved_items_are_no_human_decision(tmp_path: Path, runtime: Any) -> None:
    from assay.session.proposals import propose, sample_payload
    from assay.core.records import Message, Sample

    session = world_session(tmp_path, runtime)
    decided_items(session, good=2, padded=2)
    sample = Sample.create([Message(role="user", content="q"), Message(role="assistant", content="a")])
    propose(session.conn, session.runtime.clock, round=1, kind="expand", sample_id=sample.id, summary="auto",
            payload=sample_payload(sample), auto_approve=True)
    assert len(review_cases(session.conn)) == 4
    session.close()


async def test_rewrites_are_judged_pairwise_under_the_proposal_and_ties_reach_the_editor(tmp_path: Path,
                                                                                         runtime: Any) -> None:
    from assay.session.proposals import decide
    from tests.rubric_world import PADDING, repair_item

    session = world_session(tmp_path, runtime)
    fixes = [repair_item(session, k, f"Green, {k}.", f"Red, {k}.") for k in range(3)]
    padded = [repair_item(session, 10 + k, f"Red, {k}.", f"Red, {k}." + PADDING) for k in range(3)]
    repair_item(session, 20, "Blue.", "Blue, I think, maybe.", outcome="tie")
    decide(session.conn, session.runtime.clock, fixes, "approved", by="alice")
    decide(session.conn, session.runtime.clock, padded, "rejected", by="alice", note="padding added")
    world = World()
    report = await run(session, world, tmp_path, holdout=0.5)
    # The rewriter's recorded outcomes are the base's verdicts (every rewrite won): no pairwise call for them.
    assert report.base_agreement == 0.5 and report.final_agreement == 1.0
    assert world.asked["pairwise"] == 2 * report.n_holdout  # only the held-out rewrites, in both orders
    assert "Blue, I think, maybe." in world.editor_prompts[0] and "Tie 1 (tie: the two orders disagreed)" in \
        world.editor_prompts[0]
    assert "Case 1 (repair): the person chose reject, the judge chose approve (preferred the rewrite in both orders)"\
        in world.editor_prompts[0]
    session.close()
