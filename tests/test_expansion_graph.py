"""The expansion subgraph: compiled from its builder and run on the scripted model, it keeps and rejects
exactly what the hand-written loop it replaced kept and rejected for the same script (the expected
values below were recorded from that loop)."""

from __future__ import annotations

from typing import TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from assay.agents.synthesizer import SynthOptions
from assay.graphs.expansion import ExpansionDeps, ExpansionState, build_expansion_graph, expand
from assay.llm.budget import BudgetLedger
from assay.pipeline.expand.steps import CandidateScreen, ExpandOptions, ExpansionAgents
from assay.session.session import Session
from assay.testing.scripted import scripted_context
from tests.test_expand_cli import PAIRS, REQUEST, SEEDS, FakeModel, decisions, seed

DEEP = SynthOptions(depth=3, persona_depth=1, breadth=1, ops=("reasoning", "concrete", "persona"))


def test_the_graph_has_the_steps_of_the_loop() -> None:
    graph = build_expansion_graph().compile().get_graph()
    assert set(graph.nodes) == {"__start__", "plan_request", "next_wave", "synthesize", "screen", "judge", "keep",
                                "__end__"}


async def test_the_compiled_subgraph_keeps_and_rejects_what_the_loop_did(session: Session) -> None:
    ctx, _ = scripted_context(session, default=FakeModel(overall=(4.5, 2.0)))
    pool_copy = seed(*PAIRS[0])  # the first candidate repeats a pool sample exactly
    deps = ExpansionDeps(ExpansionAgents(ctx, ctx, ctx), CandidateScreen([*SEEDS, pool_copy]), session.trace,
                         ExpandOptions(n=3))
    graph = build_expansion_graph().compile(checkpointer=InMemorySaver())
    final = await graph.ainvoke({"request": REQUEST, "seeds": SEEDS, "seed_ids": [s.id for s in SEEDS]},
                                {"configurable": {"thread_id": "t"}, "recursion_limit": 100}, context=deps)
    done = ExpansionState(**final)
    assert done.stopped == "3 samples kept" and done.generated == 6 and done.problems == []
    first, second = (s.id for s in SEEDS)
    assert [(k.sample.instruction, k.seed_id, k.op, k.hop, k.relevance, k.judge_overall) for k in done.kept] == [
        (PAIRS[1][0], second, "reasoning", 1, 9, 4.5), (PAIRS[3][0], second, "concrete", 1, 9, 4.5),
        (PAIRS[5][0], second, "concrete", 1, 9, 4.5)]
    assert [(r.reason, r.op, r.hop, r.seed_id, r.sample.instruction) for r in done.rejected] == [
        (f"duplicate_of:{pool_copy.id}", "reasoning", 1, first, PAIRS[0][0]),
        ("low_quality:2", "concrete", 1, first, PAIRS[2][0]), ("low_quality:2", "concrete", 1, first, PAIRS[4][0])]
    assert [(sample_id, action) for sample_id, action, _ in decisions(session)] == [
        (seed(*PAIRS[i]).id, "synth_kept" if i % 2 else "synth_rejected") for i in range(6)]
    assert decisions(session)[0][2].startswith(f"duplicate_of:{pool_copy.id} (exact similarity 1.00")


async def test_several_waves_and_hops_keep_what_the_loop_did(session: Session) -> None:
    ctx, _ = scripted_context(session, default=FakeModel(overall=(4.5, 4.5, 2.0)))
    report = await expand(ExpansionAgents(ctx, ctx, ctx), REQUEST, SEEDS, CandidateScreen(SEEDS), session.trace,
                          ExpandOptions(n=6, max_wave=3, synth=DEEP))
    assert report.stopped == "6 samples kept" and report.generated == 9 and report.calls == 38
    assert [(k.op, k.hop) for k in report.kept] == [("reasoning", 1), ("reasoning", 1), ("concrete", 1),
                                                    ("persona", 1), ("reasoning", 2), ("reasoning", 2)]
    assert [(r.reason, r.op, r.hop) for r in report.rejected] == [
        ("low_quality:2", "concrete", 1), ("low_quality:2", "persona", 1),
        ("elimination:no_new_information", "concrete", 2)]
    assert len(decisions(session)) == 9


async def test_a_budget_spent_mid_wave_ends_the_graph_with_the_wave_settled(session: Session) -> None:
    ctx, _ = scripted_context(session, default=FakeModel(overall=(4.5, 2.0)), budget=BudgetLedger(max_calls=25))
    report = await expand(ExpansionAgents(ctx, ctx, ctx), REQUEST, SEEDS, CandidateScreen(SEEDS), session.trace,
                          ExpandOptions(n=5, synth=DEEP))
    spent = "LLM call budget spent (25 of 25 calls)"
    assert report.stopped == f"budget spent: {spent}" and report.generated == 6 and report.calls == 25
    assert [(k.op, k.hop) for k in report.kept] == [("reasoning", 1), ("concrete", 1)]
    assert [(r.reason, r.op) for r in report.rejected] == [
        ("low_quality:2", "reasoning"), ("low_quality:2", "concrete"), (f"failed:budget: {spent}", "persona"),
        (f"failed:budget: {spent}", "persona")]


async def test_inside_a_checkpointed_graph_the_subgraph_keeps_no_checkpoints_of_its_own(session: Session) -> None:
    """As the expand node of `assay run` runs it: under a checkpointer, with durability "sync"."""
    class Outer(TypedDict, total=False):
        kept: int

    ctx, _ = scripted_context(session, default=FakeModel())

    async def node(state: Outer) -> Outer:
        report = await expand(ExpansionAgents(ctx, ctx, ctx), REQUEST, SEEDS, CandidateScreen(SEEDS), session.trace,
                              ExpandOptions(n=2))
        return {"kept": len(report.kept)}

    outer = StateGraph(Outer)
    outer.add_node("expand", node)
    outer.add_edge(START, "expand")
    outer.add_edge("expand", END)
    saver = InMemorySaver()
    thread = {"configurable": {"thread_id": "t"}}
    assert await outer.compile(checkpointer=saver).ainvoke({}, thread, durability="sync") == {"kept": 2}
    # A subgraph inherits its caller's checkpointer unless told not to: its samples would land in the checkpoints.
    assert {c.config["configurable"]["checkpoint_ns"] for c in saver.list(None)} == {""}
