"""The curation loop as a LangGraph state machine.

    ingest → screen → judge → measure → plan ─┬─ repair ─┐
                                               ├─ expand ─┴→ review_gate → apply → screen → …
                                               └─ select → export_gate → export → END

`build_curation_graph(deps)` returns the uncompiled builder: real runs compile it with the
SQLite checkpointer in the session DB (`assay run`, `assay resume`), tests with an in-memory
one. The state holds ids and metrics only; samples stay in the session DB.
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph

from assay.graphs.deps import CurationDeps
from assay.graphs.nodes_act import make_apply, make_expand, make_plan, make_repair, make_review_gate
from assay.graphs.nodes_finish import make_export, make_export_gate, make_select
from assay.graphs.nodes_pool import make_ingest, make_judge, make_measure, make_screen
from assay.graphs.state import CurationState


def route_plan(state: CurationState) -> Literal["repair", "expand", "select"]:
    """After planning: act, or (on finish and on every stop) select and export."""
    if state.stop_reason is not None or state.plan is None or state.plan.action in ("finish", "select"):
        return "select"
    return state.plan.action  # type: ignore[return-value]


def route_export(state: CurationState) -> Literal["export", "__end__"]:
    """A rejected export ends the session without writing."""
    return END if state.stop_reason == "export_rejected" else "export"


def build_curation_graph(deps: CurationDeps) -> StateGraph:
    """The curation graph's builder, its nodes bound to `deps`."""
    graph = StateGraph(CurationState)
    graph.add_node("ingest", make_ingest(deps))
    graph.add_node("screen", make_screen(deps))
    graph.add_node("judge", make_judge(deps))
    graph.add_node("measure", make_measure(deps))
    graph.add_node("plan", make_plan(deps))
    graph.add_node("repair", make_repair(deps))
    graph.add_node("expand", make_expand(deps))
    graph.add_node("review_gate", make_review_gate(deps))
    graph.add_node("apply", make_apply(deps))
    graph.add_node("select", make_select(deps))
    graph.add_node("export_gate", make_export_gate(deps))
    graph.add_node("export", make_export(deps))
    graph.add_edge(START, "ingest")
    graph.add_edge("ingest", "screen")
    graph.add_edge("screen", "judge")
    graph.add_edge("judge", "measure")
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
