"""The curation graph for LangGraph Studio and `langgraph dev`, named in /langgraph.json.

The LangGraph server compiles nothing itself: it loads this compiled graph and gives it its
own checkpointer. Studio draws the nodes, the routers and the state; a run needs the
`CurationDeps` context (an open session), which `assay run` and `assay resume` build.
"""

from __future__ import annotations

from assay.graphs.curation import build_curation_graph

graph = build_curation_graph().compile()
