"""`assay run` with `[cues] repair = true`: detection once after judging, then a cue repair round whose
kept rewrites pass the review gate and apply like any repair (scripted LLM, real session and embedder)."""

from __future__ import annotations

import json
from pathlib import Path

from assay.core.config import Config, Targets
from assay.core.recipe_cues import CueSettings
from assay.pipeline.deps import RunOptions
from assay.pipeline.repair.cue_round import STAGE_META
from assay.session.bias_cues import latest_findings
from assay.session.proposals import proposals
from assay.session.session import Session
from assay.testing.scripted import ScriptedTransport, scripted_gateway
from tests.conftest import need_shared_data
from tests.cue_world import CUE, CueWorld, with_cue
from tests.test_curation_graph import run_graph

N = 80


def _pool(path: Path) -> Path:
    """The first alpaca_5000 records with a sentence-long answer; every other one carries the planted opener."""
    rows = json.loads((need_shared_data() / "alpaca" / "alpaca_5000.json").read_text(encoding="utf-8"))
    rows = [r for r in rows if len(r["output"]) > 60 and not r["input"]][:N]
    for i, row in enumerate(rows):
        if i % 2 == 0:
            row["output"] = with_cue(row["output"])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


async def test_run_detects_once_and_repairs_the_cue_in_its_own_round(tmp_path, runtime) -> None:
    pool = _pool(tmp_path / "pool.jsonl")
    config = Config(targets=Targets(size=10), cues=CueSettings(repair=True))
    session = Session.open(tmp_path / "session", runtime, config, create=True)
    world = CueWorld()
    session.gateway = scripted_gateway(session, ScriptedTransport(default=world))  # type: ignore[misc]
    try:
        state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], dedup=["exact"]))
        findings = latest_findings(session.conn)
        significant = [f for f in findings if f.significant]
        assert significant and any(f.cue.present(with_cue("x")) for f in significant)
        runs = session.conn.execute("SELECT COUNT(*) FROM bias_cue_runs").fetchone()[0]
        assert runs == 1 and session.meta(STAGE_META)["done"]  # once, though the loop judged again after
        rounds = [tuple(r) for r in session.conn.execute("SELECT round, action FROM rounds ORDER BY round")]
        assert rounds[0] == (1, "repair") and state.history[0].rationale.startswith("bias-cue repair")
        items = proposals(session.conn, round=1)
        kept = [p for p in items if p.status == "approved"]
        # Detection also finds the exclamation opener ("Certainly!" is one): a rewrite that strips the planted
        # opener but starts with another exclamation still carries a named cue, and is dropped for it.
        dropped = [r["reason"] for r in session.conn.execute(
            "SELECT reason FROM decisions WHERE action = 'cue_rewrite_dropped'")]
        assert all(r.startswith("cue_kept:") for r in dropped), dropped
        assert kept and len(kept) + len(dropped) == world.asked["rewrite"]  # each carrier tried once
        rewrites = [s for s in session.samples.iter() if s.op == "rewrite"]
        assert {s.id for s in rewrites} == {p.sample_id for p in kept}  # every kept rewrite applied
        assert not any(f.cue.present(s.response) for s in rewrites for f in significant)
        replaced = {s.id for s in session.samples.iter() if (s.reason or "").startswith("replaced_by:")}
        assert replaced == {p.parent_id for p in kept}  # each kept rewrite took its original's place
        tried = {r[0] for r in session.conn.execute("SELECT sample_id FROM decisions WHERE agent = 'cue_repair'")}
        after = [s for s in session.samples.iter() if s.id in tried and s.id not in replaced] + rewrites
        assert sum(CUE.present(s.response) for s in after) == len(dropped) < len(tried)  # prevalence fell
        decisions = session.conn.execute(
            "SELECT COUNT(*) FROM decisions WHERE agent = 'cue_repair' AND round = 1").fetchone()[0]
        assert decisions == world.asked["rewrite"]
        # The rewrites were screened and judged before the loop measured and finished.
        judged = session.conn.execute("SELECT COUNT(DISTINCT sample_id) FROM judgements WHERE round = 1").fetchone()[0]
        assert judged == len(rewrites)
        assert state.stop_reason is not None and (session.dir / "curated.jsonl").exists()
    finally:
        session.close()
