"""The bias-cue repair round says what it costs, as the policy's rounds do: its rationale (shown by
`assay run`, dry run included) names the carriers it tries and the calls they take at most."""

from __future__ import annotations

from assay.core.config import Config, Targets
from assay.core.recipe_cues import CueSettings
from assay.pipeline.deps import RunOptions
from assay.pipeline.repair.cue_cost import CALLS_PER_CUE_REPAIR, cue_repair_calls, describe_cue_repair
from assay.session.session import Session
from assay.testing.scripted import ScriptedTransport, scripted_gateway
from tests.cue_world import CueWorld
from tests.test_bias_cue_run import _pool
from tests.test_curation_graph import run_graph


def test_a_cue_attempt_counts_every_call_it_can_make() -> None:
    # rewrite, pairwise judge in both orders, claim extraction, claim verification, the applied rewrite's judgement
    assert CALLS_PER_CUE_REPAIR == 1 + 2 + 1 + 1 + 1
    assert cue_repair_calls(0) == 0 and cue_repair_calls(7) == 42
    assert describe_cue_repair(7, 40).startswith("7 of 40 carriers to try for 42 calls at most")


async def test_the_cue_round_states_its_calls_and_spends_no_more(tmp_path, runtime) -> None:
    pool = _pool(tmp_path / "pool.jsonl")
    config = Config(targets=Targets(size=10), cues=CueSettings(repair=True, max_repairs=30))
    session = Session.open(tmp_path / "session", runtime, config, create=True)
    world = CueWorld()
    session.gateway = scripted_gateway(session, ScriptedTransport(default=world))  # type: ignore[misc]
    try:
        state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], dedup=["exact"]))
        tried = world.asked["rewrite"]
        carrying = session.conn.execute(
            "SELECT COUNT(DISTINCT sample_id) FROM decisions WHERE agent = 'cue_repair'").fetchone()[0]
        assert tried == carrying == 30  # 40 carry the planted opener; max_repairs bounds the round
        rationale = session.conn.execute("SELECT rationale FROM rounds WHERE round = 1").fetchone()[0]
        assert state.history[0].rationale == rationale
        assert f"30 of 40 carriers to try for {30 * CALLS_PER_CUE_REPAIR} calls at most" in rationale
        # The bound holds: the round's calls (attempts, then judging the applied rewrites) are within it.
        spent = session.conn.execute("SELECT COUNT(*) FROM llm_calls WHERE round = 1").fetchone()[0]
        assert 0 < spent <= 30 * CALLS_PER_CUE_REPAIR
    finally:
        session.close()
