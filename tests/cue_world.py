"""A scripted model for bias-cue repair tests: the rewriter, pairwise judge, claim decomposer and verifier.

It reads the sample text out of the prompt's <data> blocks, so its answers follow the data.
The planted cue is the opener CUE_TEXT. A phrase of one of ANSWERS in the original response picks what happens:
- (default): the rewrite drops the opener and wins both orders;
- "pasta": the judge prefers the original when it is shown first (one order lost);
- "rice": the rewrite keeps the opener (the cue stays);
- "dough": the rewrite is about something else (meaning drifts: low cosine);
- "onion": the rewrite changes a fact, so a claim of the original is no longer supported.
The pointwise judge is biased: it scores a response carrying the cue 5, any other 3.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from assay.core.bias_cue import Cue
from assay.llm.transport import Completion, CompletionRequest
from tests.curation_world import CurationWorld, blocks

CUE_TEXT = "Certainly! Here is a detailed answer:"
CUE = Cue(kind="opener", text=CUE_TEXT, pattern=r"\Acertainly! here is a detailed answer:")
DRIFT = ("The stock market closed higher on Friday as technology shares rallied and bond yields fell, "
         "while oil prices slipped for a third week.")
ANSWERS = {
    "egg": "Boil the egg for about six minutes, then cool it in cold water so the yolk stays soft and runny.",
    "pasta": "Use plenty of boiling salted water and stir the pasta during the first two minutes of cooking.",
    "rice": "Rinse the rice until the water runs clear, use the right water ratio and let it steam covered.",
    "bread": "The dough has risen enough when it has roughly doubled and a gentle poke springs back slowly.",
    "onion": "Cook sliced onions slowly over low heat for about forty minutes, stirring often, until deep brown.",
    "sear": "Searing browns the surface of the meat over high heat before the slower cooking that follows.",
}
QUESTIONS = {
    "egg": "How long should I boil an egg for a soft yolk?", "pasta": "How do I keep pasta from sticking together?",
    "rice": "How do I make rice fluffy?", "bread": "How can I tell when bread dough has risen enough?",
    "onion": "How do I caramelize onions?", "sear": "What does it mean to sear meat?",
}


def with_cue(answer: str) -> str:
    """The answer as the planted cue's carriers write it."""
    return f"{CUE_TEXT} {answer}"


def strip_cue(text: str) -> str:
    """The text without the planted opener."""
    return re.sub(r"^certainly! here is a detailed answer:\s*", "", text.strip(), flags=re.IGNORECASE)


@dataclass
class CueWorld:
    """The fake model; counts what each agent was asked."""

    asked: dict[str, int] = field(default_factory=dict)
    base: CurationWorld = field(default_factory=CurationWorld)

    def __call__(self, request: CompletionRequest) -> Completion:
        props = set((request.schema or {}).get("properties", {}))
        data = blocks(request)
        kind, answer = self._answer(request, props, data)
        self.asked[kind] = self.asked.get(kind, 0) + 1
        return Completion(text=json.dumps(answer), prompt_tokens=100, completion_tokens=20, cost_usd=0.001)

    def _answer(self, request: CompletionRequest, props: set[str], data: dict[str, str]) -> tuple[str, Any]:
        if "changes" in props:
            return "rewrite", {"response": self._rewrite(data.get("response", "")), "changes": ["removed the opener"]}
        if props == {"rationale", "winner"}:
            a, b = data.get("response_a", ""), data.get("response_b", "")
            if "stir the pasta" in a and CUE.present(a):  # the original shown first wins; shown second it loses
                return "pairwise", {"rationale": "the first one", "winner": "a"}
            winner = "a" if not CUE.present(a) and CUE.present(b) else "b" if not CUE.present(b) and CUE.present(a) else "tie"
            return "pairwise", {"rationale": "the one without filler", "winner": winner}
        if props == {"sentences", "claims"}:
            text = strip_cue(data.get("response", ""))
            claims = [c.strip() for c in re.split(r"(?<=\.)\s+|,\s+then\s+", text) if c.strip()]
            return "decompose", {"sentences": [{"text": text, "kind": "fact"}], "claims": claims}
        if props == {"verdicts"}:
            passage = data.get("passage_1", "")
            claims = [data[k] for k in sorted((k for k in data if k.startswith("claim_")), key=lambda k: int(k[6:]))]
            return "verify", {"verdicts": [
                {"reason": "in the passage" if _words(c) <= _words(passage) else "not in the passage",
                 "label": "supported" if _words(c) <= _words(passage) else "unverifiable"} for c in claims]}
        if {"scores", "overall"} <= props:  # the pointwise judge, biased: it scores the cue's carriers higher
            kind, verdict = self.base._answer(request, props)
            overall = 5 if CUE.present(data.get("response", "").strip()) else 3
            return kind, {**verdict, "overall": overall, "scores": {c: overall for c in verdict["scores"]}}
        return self.base._answer(request, props)

    def _rewrite(self, response: str) -> str:
        if "Rinse the rice" in response:
            return response.replace("Rinse the rice until", "Rinse it until")
        if "The dough has risen" in response:
            return DRIFT
        if "Cook sliced onions" in response:
            return strip_cue(response).replace("forty minutes", "five minutes")
        return strip_cue(response)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))
