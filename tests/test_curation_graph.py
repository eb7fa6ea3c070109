"""The curation loop end to end with the scripted world model: stops, repair, expand, review."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from assay.llm.budget import BudgetLedger
from assay.core.config import Budget, Config, Targets
from assay.graphs.curation import build_curation_graph, route_plan
from assay.core.plan import Plan
from assay.graphs.state import CurationState, checkpoint_serializer
from assay.pipeline.deps import CurationDeps, RunOptions
from assay.report.write import write_report
from assay.session.proposals import decide, proposals
from assay.core.records import Status
from assay.session.session import Session
from assay.testing.scripted import ScriptedTransport, scripted_gateway
from tests.curation_world import CurationWorld

COOKING = [
    ("How long should I boil an egg for a soft yolk?", "Boil it for about six minutes, then cool it in cold water."),
    ("How do I keep pasta from sticking together?", "Use plenty of boiling salted water and stir in the first minutes."),
    ("What does it mean to sear meat?", "Searing browns the surface over high heat before slower cooking."),
    ("How can I tell when bread dough has risen enough?", "It has roughly doubled and a gentle poke springs back slowly."),
    ("Why do recipes rest meat after roasting?", "Resting lets the juices settle so they stay in the meat. WRONG"),
    ("How do I make rice fluffy?", "Rinse the rice, use the right water ratio and let it steam covered."),
    ("How do I poach an egg?", "Slide a fresh egg into barely simmering water and cook it for three minutes. WRONG"),
    ("How do I caramelize onions?", "Cook sliced onions slowly over low heat for about forty minutes, stirring often."),
]
ASTRONOMY = [
    ("Why does the Moon show phases?", "We see different parts of its sunlit half as it orbits the Earth."),
    ("What is a light-year?", "The distance light travels in one year, about 9.46 trillion kilometres."),
    ("Why is Mars red?", "Iron oxide dust on its surface gives Mars its reddish colour."),
    ("What causes a solar eclipse?", "The Moon passes between the Sun and the Earth and blocks the Sun. WRONG"),
    ("How many planets orbit the Sun?", "Eight planets orbit the Sun, from Mercury out to Neptune."),
    ("What is a comet made of?", "Ice, dust and rock, which form a glowing tail near the Sun."),
    ("Why do stars twinkle?", "Turbulence in Earth's atmosphere bends their light back and forth."),
    ("What is a black hole?", "A region where gravity is so strong that not even light escapes."),
]
TAX = [
    ("Do I need to report freelance income on my tax return?",
     "Yes: freelance income is taxable and belongs on your return, with deductible business costs listed."),
    ("Can I deduct a home office from my taxes?",
     "Often yes, if part of your home is used regularly and only for work; keep records of the space and costs."),
]


def write_pool(path: Path) -> Path:
    rows = [{"instruction": q, "input": "", "output": a} for q, a in COOKING + ASTRONOMY + TAX]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def open_session(tmp_path: Path, runtime: Any, targets: Targets, budget: Budget | None = None,
                 world: CurationWorld | None = None, ledger: BudgetLedger | None = None) -> tuple[Session, CurationWorld]:
    config = Config(targets=targets, budget=budget or Budget())
    session = Session.open(tmp_path / "session", runtime, config, create=True)
    world = world or CurationWorld()
    session.gateway = scripted_gateway(session, ScriptedTransport(default=world), budget=ledger)  # type: ignore[misc]
    return session, world


async def run_graph(session: Session, options: RunOptions, *, saver: InMemorySaver | None = None,
                    resume: Any = None) -> tuple[CurationState, Any]:
    graph = build_curation_graph().compile(checkpointer=saver or InMemorySaver(serde=checkpoint_serializer()))
    deps = CurationDeps(session=session, options=options, write_report=write_report)
    thread = {"configurable": {"thread_id": "t"}, "recursion_limit": 200}
    await graph.ainvoke(CurationState() if resume is None else resume, thread, context=deps)
    snapshot = await graph.aget_state(thread)
    return CurationState.model_validate(snapshot.values), snapshot


def statuses(session: Session) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for sample in session.samples.iter():
        found.setdefault(sample.status.value, []).append(sample.id)
    return found


@pytest.fixture
def pool(tmp_path: Path) -> Path:
    return write_pool(tmp_path / "pool.jsonl")


async def test_repairs_then_expands_until_every_target_is_met(tmp_path, runtime, pool) -> None:
    targets = Targets(size=19, quality_floor=3.0, coverage=1.0)
    session, world = open_session(tmp_path, runtime, targets)
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], cluster_min=3))
    assert state.stop_reason == "targets_met", state.stop_message
    # One candidate fills the only thin cluster for 5 calls: more of the gap per call than 3 repairs (12 calls).
    assert [r.action for r in state.history] == ["expand", "repair"]
    assert all(t.met for t in state.targets)
    samples = {s.id: s for s in session.samples.iter()}
    rewrites = [s for s in samples.values() if s.op == "rewrite"]
    assert len(rewrites) == 3 and all("FIXED" in s.response for s in rewrites)
    for rewrite in rewrites:  # each original stays, dropped with a link to its repair
        assert samples[rewrite.parent_ids[0]].reason == f"replaced_by:{rewrite.id}"
    synths = [s for s in samples.values() if s.op == "synth"]
    assert synths and all(s.status != Status.DROPPED or s.reason.startswith("not_selected") for s in synths)
    selected = [s for s in samples.values() if s.status == Status.SELECTED]
    assert len(selected) == 19
    assert world.asked["rewrite"] == 3 and world.asked["pairwise"] == 6  # both orders per rewrite
    curated = (session.dir / "curated.jsonl").read_text().splitlines()
    assert len(curated) == 19 and all("WRONG" not in line for line in curated)
    rejected = [json.loads(line) for line in (session.dir / "rejected.jsonl").read_text().splitlines()]
    assert {r["_assay"]["reason"].split(":")[0] for r in rejected} >= {"replaced_by"}
    lineage = [json.loads(line) for line in (session.dir / "lineage.jsonl").read_text().splitlines()]
    assert len(lineage) == len(samples)
    rounds = session.conn.execute("SELECT round, action FROM rounds ORDER BY round").fetchall()
    assert [tuple(r) for r in rounds] == [(1, "expand"), (2, "repair"), (3, "finish")]
    open_rounds = session.conn.execute("SELECT COUNT(*) FROM rounds WHERE finished_at IS NULL").fetchone()[0]
    assert open_rounds == 0


async def test_stops_when_targets_are_met_at_once(tmp_path, runtime, pool) -> None:
    session, world = open_session(tmp_path, runtime, Targets(size=5, quality_floor=3.0))
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)]))
    assert state.stop_reason == "targets_met" and state.history == []
    assert len(statuses(session)["selected"]) == 5
    assert "rewrite" not in world.asked


async def test_stops_when_the_budget_is_spent(tmp_path, runtime, pool) -> None:
    ledger = BudgetLedger(max_calls=10)
    session, _ = open_session(tmp_path, runtime, Targets(size=18, quality_floor=3.0), ledger=ledger)
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)]))
    assert state.stop_reason == "budget_spent"
    assert session.conn.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == 10
    assert (session.dir / "curated.jsonl").exists()  # what was done is still exported


async def test_stops_after_max_rounds(tmp_path, runtime, pool) -> None:
    session, _ = open_session(tmp_path, runtime, Targets(size=40, quality_floor=3.0), Budget(max_rounds=1))
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], expand_batch=1))
    assert state.stop_reason == "max_rounds" and len(state.history) == 1


async def test_stops_when_two_rounds_bring_no_progress(tmp_path, runtime, pool) -> None:
    world = CurationWorld(low_forever=True)  # every rewrite ties with its original
    session, _ = open_session(tmp_path, runtime, Targets(size=18, quality_floor=3.0), world=world)
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], repair_batch=1, expand_batch=1, cluster_min=1))
    assert state.stop_reason == "no_progress", state.stop_message
    assert [r.action for r in state.history][:2] == ["repair", "repair"]


async def test_finishes_when_nothing_can_move_the_targets(tmp_path, runtime, pool) -> None:
    world = CurationWorld(low_forever=True)
    session, _ = open_session(tmp_path, runtime, Targets(quality_floor=4.5), world=world)
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], repair_batch=5))
    # No sample reaches 4.5, every repair loses, and expansion cannot lift a floor: give up.
    assert [r.action for r in state.history] == ["repair"]
    assert state.stop_reason == "nothing_to_do", state.stop_message
    assert [t.name for t in state.targets if not t.met] == ["quality_floor"]
    assert not (session.dir / "curated.jsonl").read_text()


async def test_review_mode_waits_and_applies_only_approved_proposals(tmp_path, runtime, pool) -> None:
    session, _ = open_session(tmp_path, runtime, Targets(size=17, quality_floor=3.0))
    saver = InMemorySaver(serde=checkpoint_serializer())
    options = RunOptions(inputs=[str(pool)], review=True)
    state, snapshot = await run_graph(session, options, saver=saver)
    assert snapshot.next == ("review_gate",)
    pending = proposals(session.conn, status="pending")
    assert [p.kind for p in pending] == ["repair"] * 3
    approve, reject = pending[0], pending[1:]
    decide(session.conn, runtime.clock, [approve.id], "approved", by="tester")
    decide(session.conn, runtime.clock, [p.id for p in reject], "rejected", by="tester", note="not convinced")
    state, snapshot = await run_graph(session, options, saver=saver, resume=Command(resume=True))
    samples = {s.id: s for s in session.samples.iter()}
    assert approve.sample_id in samples and samples[approve.parent_id].reason == f"replaced_by:{approve.sample_id}"
    assert all(p.sample_id not in samples for p in reject)
    # A rejected repair changes nothing: its original stays in the pool as it was, not replaced.
    assert [(samples[p.parent_id].status, samples[p.parent_id].reason) for p in reject] == [(Status.ACTIVE, None)] * 2
    rejected_decisions = session.conn.execute(
        "SELECT COUNT(*) FROM decisions WHERE agent = 'review' AND action = 'repair_rejected'").fetchone()[0]
    assert rejected_decisions == 2
    # Later rounds ask again (expansion), then the export waits for its own approval.
    while snapshot.next:
        for item in proposals(session.conn, status="pending"):
            decide(session.conn, runtime.clock, [item.id], "approved", by="tester")
        state, snapshot = await run_graph(session, options, saver=saver, resume=Command(resume=True))
    assert state.exported and (session.dir / "curated.jsonl").exists()
    # At the end the unrepaired originals are kept out by the quality floor, and the rejected
    # rewrites, which never entered the pool, are not curated either.
    final = {s.id: s for s in session.samples.iter()}
    assert [final[p.parent_id].reason for p in reject] == ["below_quality_floor:2.00"] * 2
    assert all(p.sample_id not in final for p in reject)
    curated = (session.dir / "curated.jsonl").read_text()
    assert all(p.payload["sample"]["messages"][-1]["content"] not in curated for p in reject)


async def test_a_rejected_export_writes_nothing(tmp_path, runtime, pool) -> None:
    session, _ = open_session(tmp_path, runtime, Targets(size=5))
    saver = InMemorySaver(serde=checkpoint_serializer())
    options = RunOptions(inputs=[str(pool)], review=True)
    _, snapshot = await run_graph(session, options, saver=saver)
    assert snapshot.next == ("export_gate",)
    (item,) = proposals(session.conn, status="pending")
    decide(session.conn, runtime.clock, [item.id], "rejected", by="tester")
    state, snapshot = await run_graph(session, options, saver=saver, resume=Command(resume=True))
    assert state.stop_reason == "export_rejected" and not snapshot.next
    assert not (session.dir / "curated.jsonl").exists()


def test_route_plan_selects_on_every_stop() -> None:
    assert route_plan(CurationState(plan=Plan(action="repair", rationale="x"))) == "repair"
    assert route_plan(CurationState(plan=Plan(action="repair", rationale="x"), stop_reason="budget_spent")) == "select"
    assert route_plan(CurationState(plan=Plan(action="finish", rationale="x"))) == "select"


async def test_measure_runs_once_a_round_and_plan_reads_it_from_the_state(tmp_path, runtime, pool, monkeypatch) -> None:
    import assay.pipeline.plan.measure as measuring

    real, calls = measuring.measure, []
    monkeypatch.setattr(measuring, "measure", lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    world = CurationWorld(low_forever=True)
    session, _ = open_session(tmp_path, runtime, Targets(size=18, quality_floor=3.0), world=world)
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], repair_batch=1, expand_batch=1, cluster_min=1))
    planned = session.conn.execute("SELECT COUNT(*) FROM rounds").fetchone()[0]
    assert len(state.history) >= 2 and planned == len(state.history) + 1  # the rounds, and the closing one
    assert len(calls) == planned  # one measurement per round, taken by measure and carried to plan
    assert state.measurement is not None and state.measurement.metrics == state.metrics
