"""Bias-cue repair: the rewriter removes a significant cue, and a rewrite is kept only when the cue
is gone, the pairwise judge finds it at least as good in both orders, and the meaning is kept
(real embedder cosine, scripted claim check). The LLM is scripted (tests/cue_world.py)."""

from __future__ import annotations

import json
import pytest

from assay.core.bias_cue import Cue
from assay.core.config import Budget, Config
from assay.core.recipe_cues import CueSettings
from assay.core.records import Message, Origin, Sample, Status
from assay.llm.budget import BudgetLedger
from assay.pipeline.repair.apply import apply_round
from assay.pipeline.repair.cues import prevalence, run_cue_repairs
from assay.session.bias_cues import CueFinding
from assay.session.proposals import proposals
from assay.session.session import Session
from assay.testing.scripted import ScriptedTransport, scripted_gateway
from tests.cue_world import ANSWERS, CUE, QUESTIONS, CueWorld, with_cue


def Finding(cue: Cue, adjusted_p: float) -> CueFinding:
    """A detection finding as the session stores it (alpha 0.05)."""
    return CueFinding(cue=cue, outcome="score", effect=0.5, p=adjusted_p, adjusted_p=adjusted_p, prevalence=0.5, n=100)


SIGNIFICANT = [Finding(CUE, 0.001)]


def _sample(key: str, cue: bool = True) -> Sample:
    answer = with_cue(ANSWERS[key]) if cue else ANSWERS[key]
    return Sample.create([Message(role="user", content=QUESTIONS[key]), Message(role="assistant", content=answer)],
                         origin=Origin(format="alpaca"))


def _open(tmp_path, runtime, keys, *, config: Config | None = None, ledger: BudgetLedger | None = None,
          plain: tuple[str, ...] = ()) -> tuple[Session, CueWorld, dict[str, Sample]]:
    session = Session.open(tmp_path / "session", runtime, config or Config(), create=True)
    world = CueWorld()
    session.gateway = scripted_gateway(session, ScriptedTransport(default=world), budget=ledger)  # type: ignore[misc]
    samples = {k: _sample(k) for k in keys} | {f"plain-{k}": _sample(k, cue=False) for k in plain}
    session.store.add(list(samples.values()), round=0)
    return session, world, samples


def _decisions(session: Session) -> dict[str, tuple[str, str]]:
    rows = session.conn.execute("SELECT sample_id, action, reason FROM decisions WHERE agent = 'cue_repair'")
    return {r["sample_id"]: (r["action"], r["reason"]) for r in rows}


async def test_each_check_keeps_or_drops_with_its_reason(tmp_path, runtime) -> None:
    keys = ["egg", "pasta", "rice", "bread", "onion"]
    session, world, samples = _open(tmp_path, runtime, keys, plain=("sear",))
    try:
        report = await run_cue_repairs(session, SIGNIFICANT, CueSettings(), round=1, review=False)
        decided = _decisions(session)
        reasons = {k: decided[samples[k].id][1].split(":")[0] for k in keys}
        assert reasons == {"egg": "kept", "pasta": "judge_prefers_original", "rice": "cue_kept",
                           "bread": "low_cosine", "onion": "claims_dropped"}
        assert samples["plain-sear"].id not in decided  # no cue, no attempt
        assert {decided[samples[k].id][0] for k in keys} == {"cue_rewrite_kept", "cue_rewrite_dropped"}
        kept_numbers = json.loads(decided[samples["egg"].id][1].split(" ", 3)[3])
        assert kept_numbers["cosine"] >= 0.9 and kept_numbers["claims_kept"] == 1.0
        assert kept_numbers["judge"] == {"original_first": "rewrite", "rewrite_first": "rewrite"}
        drift = json.loads(decided[samples["bread"].id][1].split(" ", 3)[3])
        assert drift["cosine"] < 0.9 and "judge" not in drift  # cheap checks first: no judge call spent
        row = report.rows()[0]
        assert row == {"cue": CUE.key(), "carrying": 5, "tried": 5, "kept": 1,
                       "rejected": {"cue_kept": 1, "low_cosine": 1, "judge_prefers_original": 1, "claims_dropped": 1}}
        # Only the kept rewrite is proposed, approved at once outside review mode.
        (item,) = proposals(session.conn, round=1)
        assert item.kind == "repair" and item.parent_id == samples["egg"].id and item.status == "approved"
        assert item.payload["cue_checks"]["cosine"] >= 0.9
        assert world.asked["rewrite"] == 5 and world.asked["pairwise"] == 6  # 3 pairs in both orders; drift and kept cue: none
    finally:
        session.close()


async def test_prevalence_drops_once_the_kept_rewrites_are_applied(tmp_path, runtime) -> None:
    session, _, samples = _open(tmp_path, runtime, ["egg", "sear", "onion"])
    try:
        before = prevalence(session, [CUE])[CUE.key()]
        await run_cue_repairs(session, SIGNIFICANT, CueSettings(), round=1, review=False)
        applied = apply_round(session, 1)
        after = prevalence(session, [CUE])[CUE.key()]
        assert before == 1.0 and after == pytest.approx(1 / 3) and len(applied.repairs) == 2
        assert session.samples.get([samples["egg"].id])[0].status == Status.DROPPED
    finally:
        session.close()


async def test_review_mode_holds_the_kept_rewrites(tmp_path, runtime) -> None:
    session, _, samples = _open(tmp_path, runtime, ["egg", "sear"])
    try:
        report = await run_cue_repairs(session, SIGNIFICANT, CueSettings(), round=1, review=True)
        assert report.proposals == 2
        assert {p.status for p in proposals(session.conn, round=1)} == {"pending"}
        apply_round(session, 1)  # nothing approved: nothing moves
        assert prevalence(session, [CUE])[CUE.key()] == 1.0
    finally:
        session.close()


async def test_insignificant_and_length_cues_are_not_repaired(tmp_path, runtime) -> None:
    session, world, _ = _open(tmp_path, runtime, ["egg"])
    try:
        long = Cue(kind="length", text="long", min_words=3)
        report = await run_cue_repairs(session, [Finding(CUE, 0.2), Finding(long, 0.0001)], CueSettings(),
                                       round=1, review=False)
        assert report.cues == [] and world.asked == {}
    finally:
        session.close()


async def test_max_repairs_and_the_budget_bound_the_attempts(tmp_path, runtime) -> None:
    session, world, _ = _open(tmp_path, runtime, ["egg", "sear", "onion"])
    try:
        report = await run_cue_repairs(session, SIGNIFICANT, CueSettings(max_repairs=1), round=1, review=False)
        assert sum(report.tried.values()) == 1 and world.asked["rewrite"] == 1
    finally:
        session.close()
    ledger = BudgetLedger(max_calls=2)
    session, world, _ = _open(tmp_path / "b", runtime, ["egg", "sear", "onion"],
                              config=Config(budget=Budget(max_calls=2)), ledger=ledger)
    try:
        report = await run_cue_repairs(session, SIGNIFICANT, CueSettings(), round=1, review=False)
        assert report.budget_spent and sum(world.asked.values()) <= 2 and report.proposals == 0
    finally:
        session.close()


async def test_a_rerun_repairs_only_the_rest_and_repeats_no_call(tmp_path, runtime) -> None:
    session, world, _ = _open(tmp_path, runtime, ["egg", "sear"])
    try:
        await run_cue_repairs(session, SIGNIFICANT, CueSettings(max_repairs=1), round=1, review=False)
        asked = dict(world.asked)
        again = await run_cue_repairs(session, SIGNIFICANT, CueSettings(), round=1, review=False)
        assert world.asked["rewrite"] == asked["rewrite"] + 1  # only the second sample is new
        assert again.proposals == 2 and len(proposals(session.conn, round=1)) == 2
    finally:
        session.close()
