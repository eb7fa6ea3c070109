"""The refusal filter: "As an AI language model, I cannot …" in reply to a harmless request.

A refusal is judged on how the answer opens, or on a short answer that is mostly refusal.
Apologies alone ("I'm sorry to hear that") are not refusals, and an apology is expected
when the task is to write one (a reply declining an invitation, a dialogue line).
"""

from __future__ import annotations

import re

from assay.core.records import Sample
from assay.core.assessment import Assessment, drop
from assay.tools.heuristics_config import HeuristicConfig
from assay.tools.heuristics_fold import FoldedPattern
from assay.tools.heuristics_text import words

DEFAULTS = HeuristicConfig()

_CANNOT = (
    r"(?:cannot|can ?not|can't|can’t|am unable to|am not able to|['’]m unable to|['’]m not able to|"
    r"won't be able to|do not have the ability to|don't have the ability to)"
)

# An assistant describing itself as an AI: a refusal or a disclaimer, never an answer.
AI_SELF_REFERENCE = FoldedPattern(
    r"\b(?:as an? (?:ai|artificial intelligence|language model|large language model|llm|"
    r"ai language model|ai assistant|virtual assistant|gpt(?:-\d)?(?: language)? model|text-based ai)\b|"
    r"i(?:'m| am) (?:just |only )?an? (?:ai|language model|ai language model|computer program)\b|"
    r"(?:cannot|can't|can not) be (?:performed|completed|done|fulfilled) by (?:a|an|the) (?:gpt|ai|language)\b)",

)
# Declining without mentioning being an AI: "I'm sorry, but I can't help with that."
DECLINE = FoldedPattern(
    r"(?:^|[.!]\s+)(?:i'm sorry|i’m sorry|i am sorry|sorry|unfortunately|i apologi[sz]e)[,.!]?\s*(?:but\s+)?"
    rf"(?:i\s+{_CANNOT}|i\s+(?:do not|don't|don’t) (?:have access|know how|have the)|i\s+(?:won't|will not))"
    r"|^i\s+" + _CANNOT + r"\s+(?:help(?! but)|assist|provide|write|create|do|fulfil|comply|complete|answer|generate|"
    r"perform|access|browse|describe|give|tell|share|offer|produce|draw|make)\b",

)
NO_ACCESS = FoldedPattern(
    r"\bi (?:do not|don't|don’t) have (?:access to|the ability to|personal (?:experiences?|opinions?|feelings?)|"
    r"real-time|the capability)",

)
CANNOT = FoldedPattern(rf"\b(?:{_CANNOT}|(?:do not|don't|don’t) have)\b")
ABOUT_AI = FoldedPattern(r"\b(?:ai|gpt|language models?|chatbots?|artificial intelligence)\b")
# Tasks whose correct answer may itself decline or apologise, in someone else's voice.
WRITES_IN_A_VOICE = FoldedPattern(
    r"\b(?:reply|respond|response|message|email|e-mail|letter|note|dialogue|dialog|conversation|script|"
    r"story|apolog\w*|decline|declining|refus\w*|reject\w*|rewrite|paraphrase|polite|customer|role-?play|"
    r"pretend|imagine|character)\b",

)


def refusal(sample: Sample, config: HeuristicConfig = DEFAULTS) -> Assessment:
    """Drop answers that open with a refusal or AI disclaimer, or short answers dominated by one."""
    response = sample.response.strip()
    opening = response[:200]
    short = len(words(response)) <= 60
    # The instruction's patterns are searched only when the answer gives cause: most answers give none.
    disclaimer = AI_SELF_REFERENCE.found(opening) or (short and AI_SELF_REFERENCE.found(response))
    # On a question about AI, "as an AI ..." may be the topic; it is a refusal only when it declines.
    if disclaimer and (not ABOUT_AI.found(sample.instruction) or CANNOT.found(_first_sentence(response))):
        return drop("refusal", f"the answer carries an AI disclaimer: {_first_sentence(response)!r}", refusal=1.0)
    declines = DECLINE.found(opening) or (short and (DECLINE.found(response) or NO_ACCESS.found(response)))
    if declines and not WRITES_IN_A_VOICE.found(sample.instruction):
        return drop("refusal", f"the answer declines the task: {_first_sentence(response)!r}", refusal=1.0)
    return Assessment(scores={"refusal": 0.0})


def _first_sentence(text: str) -> str:
    head = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    return head[:100]
