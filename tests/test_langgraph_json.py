"""langgraph.json loads: the graph it names imports from its file, is compiled, and has the curation loop's shape."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from langgraph.graph.state import CompiledStateGraph

ROOT = Path(__file__).resolve().parents[1]


def load_named_graph(spec: str) -> object:
    """Import `./path/to/file.py:attr` the way `langgraph dev` does: from the file, relative to the config."""
    path, attr = spec.rsplit(":", 1)
    module_spec = importlib.util.spec_from_file_location("langgraph_json_graph", ROOT / path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, attr)


def test_langgraph_json_names_the_compiled_curation_graph() -> None:
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    assert config["dependencies"] == ["."]
    assert set(config["graphs"]) == {"curation"}
    graph = load_named_graph(config["graphs"]["curation"])
    assert isinstance(graph, CompiledStateGraph)
    nodes = set(graph.get_graph().nodes)
    assert nodes == {"__start__", "ingest", "screen", "judge", "cues", "measure", "plan", "repair", "expand", "review_gate",
                     "apply", "select", "export_gate", "export", "__end__"}
    # Studio renders the state and the context from their JSON schemas: both must be generable.
    assert graph.get_input_jsonschema()["title"] == "CurationState"
    context = graph.get_context_jsonschema()
    assert set(context["properties"]) == {"session", "options"}
