"""A scripted model that plays every agent of the curation loop, for graph tests.

It answers by the requested schema and reads the sample text out of the prompt's <data>
blocks, so its verdicts follow the data: a response containing WRONG is judged 2 with a
fixable issue, a rewrite replaces WRONG with FIXED and wins the pairwise comparison, and
the synthesizer writes distinct, readable samples. `low_forever` makes every repair lose.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from assay.llm.transport import Completion, CompletionRequest

DATA = re.compile(r'<data name="([^"]+)">\n(.*?)\n</data>', re.DOTALL)
NOUNS = ["river", "engine", "garden", "ledger", "signal", "market", "glacier", "recipe", "circuit", "harbor",
         "library", "orchard", "satellite", "theater", "vaccine", "workshop", "volcano", "algorithm", "canal",
         "telescope", "bakery", "forest", "museum", "battery", "compass", "desert", "factory", "island"]


def blocks(request: CompletionRequest) -> dict[str, str]:
    """The <data> blocks of the request's messages, by name (the last one of a name wins)."""
    text = "\n".join(str(m.get("content", "")) for m in request.messages)
    return {name: body for name, body in DATA.findall(text)}


def _words(key: str, n: int) -> list[str]:
    digest = hashlib.sha256(key.encode()).digest()
    return [NOUNS[b % len(NOUNS)] for b in digest[:n]]


@dataclass
class CurationWorld:
    """The fake model; counts what each agent was asked."""

    low_forever: bool = False
    asked: dict[str, int] = field(default_factory=dict)

    def __call__(self, request: CompletionRequest) -> Completion:
        props = set((request.schema or {}).get("properties", {}))
        kind, answer = self._answer(request, props)
        self.asked[kind] = self.asked.get(kind, 0) + 1
        return Completion(text=json.dumps(answer), prompt_tokens=100, completion_tokens=20, cost_usd=0.001)

    def _answer(self, request: CompletionRequest, props: set[str]) -> tuple[str, Any]:
        data = blocks(request)
        if {"scores", "overall"} <= props:
            return "judge", self._verdict(request, data.get("response", ""))
        if props == {"rationale", "winner"}:
            a, b = data.get("response_a", ""), data.get("response_b", "")
            better = "tie" if self.low_forever else ("a" if "FIXED" in a else "b" if "FIXED" in b else "tie")
            return "pairwise", {"rationale": "the fixed answer is right", "winner": better}
        if "changes" in props:
            return "rewrite", {"response": data.get("response", "").replace("WRONG", "FIXED"), "changes": ["fixed it"]}
        if "example_instruction" in props:
            return "request", {"topic": "everyday science", "attributes": ["causes", "examples"], "personas": [],
                               "example_instruction": "Explain how rivers shape valleys."}
        if {"triplets", "proposed"} <= props:
            return "attributes", {"topic": "everyday science",
                                  "triplets": [{"topic": "everyday science", "relation": "has", "attribute": "causes"}],
                                  "proposed": [{"topic": "everyday science", "relation": "has", "attribute": "effects"}]}
        if props == {"reason", "score"}:
            return "relevance", {"reason": "on the seed's task", "score": 8}
        if props == {"instruction"}:
            # Stays on the seed's task (so it lands in the seed's cluster) and adds new words.
            seed = data.get("seed", "Explain a simple idea.").strip().rstrip("?.")
            a, b = _words(json.dumps(request.messages), 2)
            return "instruction", {"instruction": f"{seed}, in the case of a {a} owner who also runs a {b}?"}
        if props == {"response"}:
            instruction = data.get("instruction", "").strip().rstrip("?")
            a, b = _words(json.dumps(request.messages) + "r", 2)
            return "response", {"response": (
                f"To answer that: {instruction}. The short version is that the rules depend on the facts of the "
                f"case, so start from the records you already keep. A {a} owner should list every source of "
                f"income, keep receipts for each cost, and ask an adviser when the {b} side is unclear.")}
        if props == {"tags"}:
            return "tags", {"tags": ["science"]}
        raise AssertionError(f"the curation world has no answer for a schema with {sorted(props)}")

    def _verdict(self, request: CompletionRequest, response: str) -> dict[str, Any]:
        schema = request.schema or {}
        scores_schema = schema["properties"]["scores"]
        if "$ref" in scores_schema:
            scores_schema = schema["$defs"][scores_schema["$ref"].rsplit("/", 1)[-1]]
        criteria = list(scores_schema.get("properties", {}))
        if "WRONG" in response:
            overall, issues = 2, [{"type": "wrong_answer", "where": "response", "fix": "correct the answer"}]
        elif "FIXED" in response:
            overall, issues = 5, []
        else:
            overall, issues = 4, []
        return {"issues": issues, "scores": {c: overall for c in criteria}, "overall": overall,
                "rationale": "scored by the curation world"}
