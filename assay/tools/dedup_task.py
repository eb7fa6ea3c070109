"""Whether two near-duplicate texts pose the same task: the instruction-aware check of MinHash pairs.

Whole-text similarity cannot tell a copy from a sibling that shares a long passage. In Dolly,
"List the types of pasta that can be used to make carbonara" and "List the types of cured
pork …" carry the same 500-character passage, so their texts reach Jaccard 0.94 while their
questions and answers differ; 17 of Dolly's 19 MinHash pairs were of that kind (a passage, or
a long list of countries, shared by different questions; evals/eval_dedup_dolly.py). Two samples pose the same task only
when what they ask, outside the material they share, is the same too.

The instruction is measured without the weight of that shared material: each word run of
`context_words` or more that both prompts hold in order (a passage, a list) counts as one
token, and the two prompts are then compared word by word in order (difflib's ratio; words,
not character grams, so one edited word in a short instruction costs only its share). The
pair stands when the instructions reach `instruction_threshold`, or reach
`instruction_floor` while the responses reach `response_threshold`: an edit or a
rewording moves a ten-word instruction far (one word in eight is 0.88, a rephrasing 0.5-0.7),
and then the matching answer is what shows the task is the same. On Alpaca's planted
near-copies the instruction part never fell under 0.74 and each under 0.8 had its response at
0.91 or more; Dolly's template siblings over one passage stay at 0.69 with answers at 0.0.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assay.core.records import Sample
from assay.tools.dedup_text import normalize_text


def prompt_words(sample: Sample) -> list[str]:
    """The normalised words of the sample's user turns (the instruction with any context)."""
    return normalize_text("\n".join(m.content for m in sample.messages if m.role == "user")).split()


def response_words(sample: Sample) -> list[str]:
    """The normalised words of the sample's assistant turns."""
    return normalize_text("\n".join(m.content for m in sample.messages if m.role == "assistant")).split()


def words_ratio(first: Sequence[str], second: Sequence[str]) -> float:
    """2 × (words matched in order) / (words of both); 1.0 when both are empty."""
    if not first and not second:
        return 1.0
    matcher = difflib.SequenceMatcher(None, first, second, autojunk=False)
    return 2 * sum(block.size for block in matcher.get_matching_blocks()) / (len(first) + len(second))


CONTEXT = "\x00"  # stands for one shared run; no normalised word holds it


def without_shared_runs(first: Sequence[str], second: Sequence[str], min_run: int) -> tuple[list[str], list[str]]:
    """Both word lists with each run of `min_run` or more words that they share in order
    collapsed to one CONTEXT token: a passage then weighs one word, not hundreds, and a
    number changed inside it still leaves the two sides mostly alike (CONTEXT 15 CONTEXT
    against CONTEXT 16 CONTEXT), where removing the runs would leave "15" against "16"."""
    matcher = difflib.SequenceMatcher(None, first, second, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size >= min_run]
    return _collapse(first, [(b.a, b.size) for b in blocks]), _collapse(second, [(b.b, b.size) for b in blocks])


def _collapse(words: Sequence[str], runs: list[tuple[int, int]]) -> list[str]:
    """`words` with each (start, size) run, in order, replaced by one CONTEXT token."""
    out: list[str] = []
    at = 0
    for start, size in runs:
        out += [*words[at:start], CONTEXT]
        at = start + size
    return out + list(words[at:])


def own_text(words: Sequence[str]) -> str:
    """The words outside the shared context, as text to embed."""
    return " ".join(w for w in words if w != CONTEXT)


@dataclass(frozen=True)
class TaskRule:
    """When two near-duplicate samples pose the same task (see the module doc)."""

    instruction_threshold: float = 0.8
    instruction_floor: float = 0.5
    response_threshold: float = 0.8
    context_words: int = 25

    def similarities(self, first: Sample, second: Sample) -> tuple[float, float]:
        """(instruction similarity outside shared context, response similarity), word-level."""
        own_a, own_b = without_shared_runs(prompt_words(first), prompt_words(second), self.context_words)
        return words_ratio(own_a, own_b), words_ratio(response_words(first), response_words(second))

    def holds(self, first: Sample, second: Sample) -> bool:
        """Whether the two samples ask the same thing (and, for a looser instruction match, answer alike)."""
        instruction, response = self.similarities(first, second)
        if instruction >= self.instruction_threshold:
            return True
        return instruction >= self.instruction_floor and response >= self.response_threshold


@dataclass(frozen=True)
class SemanticTaskRule:
    """The same check for semantic pairs, by meaning: the instruction outside shared context and
    the response are embedded apart, and their cosines take the place of the word ratios.

    Semantic dedup embeds the whole text, so a shared passage pulls different questions together
    just as it does for MinHash (Dolly: "which was built first, Disneyland or Disney World?" and
    "a brief history of Walt Disney World" over one passage reach 0.99). Only the candidate
    pairs' parts are embedded, so the check costs little beside the whole-text embedding.
    A pair that passes the word-level `lexical` rule stands without embedding: a copy with
    one number changed inside its passage leaves "15" against "16" to embed, which says
    nothing of the task, while the words show it is the same.
    """

    instruction_threshold: float = 0.95
    instruction_floor: float = 0.8
    response_threshold: float = 0.9
    context_words: int = 25
    lexical: TaskRule | None = TaskRule()  # a pair the word-level rule accepts needs no embedding

    def holds_for(self, samples: Sequence[Sample], pairs: Sequence[tuple[int, int]],
                  encode: Callable[[list[str]], np.ndarray] | None) -> list[bool]:
        """For each (first, second) pair of positions, whether the two samples pose the same task;
        `encode` maps texts to unit vectors (an Embedder's encode). Parts equal in both samples
        need no embedding, so pairs of identical samples are judged without `encode`."""
        lexical = [self.lexical is not None and self.lexical.holds(samples[a], samples[b]) for a, b in pairs]
        parts = []
        for (first, second), settled in zip(pairs, lexical, strict=True):
            if settled:
                parts.append(("", "", "", ""))
                continue
            own_a, own_b = without_shared_runs(prompt_words(samples[first]), prompt_words(samples[second]),
                                               self.context_words)
            parts.append((own_text(own_a), own_text(own_b),
                          " ".join(response_words(samples[first])), " ".join(response_words(samples[second]))))
        texts = sorted({t for a, b, c, d in parts for t in ((a, b) if a != b else ()) + ((c, d) if c != d else ()) if t})
        if texts and encode is None:
            raise ValueError("the instruction-aware semantic check embeds instructions and responses: pass an "
                             "`embedder` (or a `store`), or semantic_task=None for whole-text similarity alone")
        vectors = dict(zip(texts, np.asarray(encode(texts), dtype=np.float32), strict=True)) if texts else {}
        verdicts = []
        for settled, (instr_a, instr_b, resp_a, resp_b) in zip(lexical, parts, strict=True):
            instruction, response = _cosine(vectors, instr_a, instr_b), _cosine(vectors, resp_a, resp_b)
            verdicts.append(settled or instruction >= self.instruction_threshold
                            or (instruction >= self.instruction_floor and response >= self.response_threshold))
        return verdicts


def _cosine(vectors: dict[str, np.ndarray], first: str, second: str) -> float:
    """Cosine of two texts' unit vectors; two empty texts are the same (1.0), one empty is not (0.0)."""
    if first == second:
        return 1.0
    if not first or not second:
        return 0.0
    return float(vectors[first] @ vectors[second])
