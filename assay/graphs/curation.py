"""The curation loop as a LangGraph state machine.

    ingest → screen → judge → cues → measure → plan ─┬─ repair ─┐
                                                      ├─ expand ─┴→ review_gate → apply → screen → …
                                                      └─ select → export_gate → export → END
    (cues, once with [cues] repair: its own repair round → review_gate)

`build_curation_graph()` returns the uncompiled builder; its nodes are module functions that
get the run's dependencies (the session, the options) as LangGraph's runtime context, so the
graph is invoked with `context=CurationDeps(...)`, on every run and every resume. Real runs
compile it with the SQLite checkpointer in the session folder (`assay run`, `assay resume`),
tests with an in-memory one. The state holds ids and metrics only; samples stay in the session DB.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph

from assay.graphs import nodes_act, nodes_cues, nodes_finish, nodes_pool
from assay.graphs.state import CurationState
from assay.pipeline.deps import CurationDeps


def route_plan(state: CurationState) -> Literal["repair", "expand", "select"]:
    """After planning: act, or (on finish and on every stop) select and export."""
    if state.stop_reason is not None or state.plan is None or state.plan.action in ("finish", "select"):
        return "select"
    return "repair" if state.plan.action == "repair" else "expand"


def route_export(state: CurationState) -> Literal["export", "__end__"]:
    """A rejected export ends the session without writing."""
    return END if state.stop_reason == "export_rejected" else "export"


def build_curation_graph() -> StateGraph:
    """The curation graph's builder; compile it with a checkpointer, invoke it with `context=deps`."""
    graph = StateGraph(CurationState, context_schema=CurationDeps)
    graph.add_node("ingest", nodes_pool.ingest)
    graph.add_node("screen", nodes_pool.screen)
    graph.add_node("judge", nodes_pool.judge)
    graph.add_node("cues", nodes_cues.cues, destinations=("measure", "review_gate"))  # [cues]: once, after judging
    graph.add_node("measure", nodes_pool.measure)
    graph.add_node("plan", nodes_act.plan)
    graph.add_node("repair", nodes_act.repair)
    graph.add_node("expand", nodes_act.expand)
    graph.add_node("review_gate", nodes_act.review_gate)
    graph.add_node("apply", nodes_act.apply)
    graph.add_node("select", nodes_finish.select)
    graph.add_node("export_gate", nodes_finish.export_gate)
    graph.add_node("export", nodes_finish.export)
    graph.add_edge(START, "ingest")
    graph.add_edge("ingest", "screen")
    graph.add_edge("screen", "judge")
    graph.add_edge("judge", "cues")
    graph.add_edge("measure", "plan")
    graph.add_conditional_edges("plan", route_plan)
    graph.add_edge("repair", "review_gate")
    graph.add_edge("expand", "review_gate")
    graph.add_edge("review_gate", "apply")
    graph.add_edge("apply", "screen")
    graph.add_edge("select", "export_gate")
    graph.add_conditional_edges("export_gate", route_export)
    graph.add_edge("export", END)
    return graph
