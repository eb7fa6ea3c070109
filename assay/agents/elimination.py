"""Evol-Instruct's elimination rules, as deterministic checks on evolved samples.

WizardLM (Xu et al. 2023, "Elimination Evolving") throws an evolution away when:
1. the evolved instruction gives no information gain over its parent (the paper asks
   ChatGPT; here: its content words are a subset of the parent's, or it equals it);
2. the response shows the model struggled: it contains "sorry" and is under 80 words;
3. the response holds only punctuation and stop words (here: also an empty one, and
   the same check on the instruction);
4. the instruction copies words of the evolving prompt ("given prompt", "rewritten
   prompt" …; here also the labels of assay's own synth_* templates).

Each check returns an `Assessment` like the scoring tools: keep, or drop with a reason
code `elimination:<rule>`, so the expansion traces why a candidate went.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from assay.core.records import Sample
from assay.core.assessment import KEEP, Assessment, drop

SORRY_MAX_WORDS = 80  # the paper's bound: a short "sorry" answer means the model could not answer
# Phrases of the evolving prompts (Evol-Instruct's, AIDE's, and the labels of prompts/synth_*.j2).
TEMPLATE_PHRASES = (
    "given prompt", "rewritten prompt", "created prompt", "improved prompt", "pre-prompt", "#given prompt#",
    "#rewritten prompt#", "instruction to rewrite", "seed instruction", "new instruction:", "<data", "</data",
)
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_SORRY = re.compile(r"\bsorry\b", re.IGNORECASE)
# Function words: they carry no information of their own, so they neither count as new
# information nor save a response made of nothing else. Negations stay out: "No." is an answer.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself now of off on once only or other our ours ourselves out over own same she should so
    some such than that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves also please""".split()
)


def content_words(text: str) -> set[str]:
    """Case-folded, accent-stripped words of `text` that are not stop words."""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return {w for w in _WORD.findall(text.casefold()) if w not in STOP_WORDS}


def no_new_information(evolved: str, parent: str) -> Assessment:
    """Rule 1: drop an evolved instruction that adds no content word to its parent."""
    added = content_words(evolved) - content_words(parent)
    if not added:
        return drop("elimination:no_new_information", "the evolved instruction adds no word to its parent")
    return Assessment(scores={"new_content_words": float(len(added))})


def copied_template_words(instruction: str, phrases: Sequence[str] = TEMPLATE_PHRASES) -> Assessment:
    """Rule 4: drop an instruction that repeats words of the evolving prompt."""
    folded = instruction.casefold()
    found = next((p for p in phrases if p in folded), None)
    if found is not None:
        return drop("elimination:copied_template", f"the instruction copies the prompt's words {found!r}")
    return KEEP


def only_punctuation_and_stop_words(text: str, what: str) -> Assessment:
    """Rule 3: drop text that is empty or holds nothing but punctuation and stop words."""
    if not content_words(text):
        return drop(f"elimination:empty_{what}", f"the {what} holds only punctuation and stop words")
    return KEEP


def struggling_response(response: str) -> Assessment:
    """Rule 2: drop a response under 80 words that says "sorry"."""
    words = len(_WORD.findall(response))
    if _SORRY.search(response) and words < SORRY_MAX_WORDS:
        return drop("elimination:sorry_short", f"a {words}-word response that says sorry")
    return KEEP


def eliminate_instruction(evolved: str, parent: str) -> Assessment:
    """The rules on an evolved instruction (checked before paying for reflection and response)."""
    for verdict in (only_punctuation_and_stop_words(evolved, "instruction"), copied_template_words(evolved),
                    no_new_information(evolved, parent)):
        if not verdict.keep:
            return verdict
    return KEEP


def eliminate_response(response: str) -> Assessment:
    """The rules on the response written for an evolved instruction."""
    for verdict in (only_punctuation_and_stop_words(response, "response"), struggling_response(response)):
        if not verdict.keep:
            return verdict
    return KEEP


class EliminationScreen:
    """Batch tool: every rule on each sample, its instruction compared with its first parent's.

    `parent_instructions` maps parent id to instruction; a sample whose parent is unknown
    is only checked by the rules that need no parent.
    """

    name = "elimination"

    def __init__(self, parent_instructions: Mapping[str, str]) -> None:
        self.parent_instructions = parent_instructions

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]:
        """One Assessment per sample, in order."""
        return [self.assess(sample) for sample in batch]

    def assess(self, sample: Sample) -> Assessment:
        """The first rule the sample breaks, or keep."""
        parent = self.parent_instructions.get(sample.parent_ids[0]) if sample.parent_ids else None
        checks = [only_punctuation_and_stop_words(sample.instruction, "instruction"),
                  copied_template_words(sample.instruction)]
        if parent is not None:
            checks.append(no_new_information(sample.instruction, parent))
        checks.append(eliminate_response(sample.response))
        return next((verdict for verdict in checks if not verdict.keep), KEEP)
