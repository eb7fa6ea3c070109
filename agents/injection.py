"""A deterministic prompt-injection detector for sample text.

The judge's prompt already fences sample text off as data; this detector adds a flag that
never depends on the model noticing. It looks for text addressed to whoever grades the
sample (ignore the rubric, rate this 5, you are now …) and for forged prompt structure
(role markers, chat-template tokens, a closing data tag). The patterns are narrow on
purpose: instruction data legitimately says "rate this review from 1 to 5" or "you are
now ready to deploy", and those must not be flagged.
"""

from __future__ import annotations

import re

MAX_HIT_CHARS = 80
_GRADED_THING = r"(?:response|answer|output|reply|completion|sample|text|essay|submission)"
_TOP_MARK = r"(?:5|five|10|ten|100|full marks|a perfect score|perfect|the highest|the maximum|top marks|highly)"
_PATTERNS = (
    # "Ignore the rubric above", "disregard all previous instructions", "forget your guidelines"
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}?"
    r"\b(?:instructions?|rules?|rubric|prompts?|guidelines?|criteria|directions?|grading)\b",
    # "rate this response 5", "rate this a 5", "score it 10/10", "give this answer full marks"
    rf"\b(?:rate|score|grade|mark)\s+(?:this|it|me|my|the)\b(?:\s+{_GRADED_THING})?\s+(?:an?\s+|as\s+)?{_TOP_MARK}\b",
    rf"\bgive\s+(?:this|it|my|the)\s+(?:{_GRADED_THING}\s+)?(?:an?\s+)?{_TOP_MARK}\b",
    rf"\b(?:rate|score|grade)\b[^.\n]{{0,30}}\b{_TOP_MARK}\s+on\s+(?:every|each|all)\s+(?:criteri(?:on|a)|categor(?:y|ies))\b",
    # Role hijacks aimed at the model reading the sample.
    r"\byou are now (?:an?|the|my|no longer|in|acting as)\s+(?:[a-z-]+\s+){0,2}?"
    r"(?:ai|assistant|model|judge|grader|evaluator|reviewer|chatbot|language model|unrestricted|jailbroken|dan|"
    r"developer mode|free)\b",
    r"\byou are now (?:dan|jailbroken|unrestricted|unfiltered)\b",
    r"\b(?:new|updated|override|reveal|ignore|print|disregard|forget)\b[^.\n]{0,20}\bsystem prompt\b",
    r"\bsystem prompt\s*:",
    # Text addressed to the grader.
    r"\b(?:note|message|attention|instructions?)\s+(?:to|for)\s+(?:the\s+|any\s+)?(?:ai\s+|llm\s+)?"
    r"(?:judge|grader|evaluator|reviewer|assessor|rater)\b",
    rf"\b(?:judges?|graders?|evaluators?|reviewers?|raters?)\s+(?:must|should|will)\s+(?:rate|score|grade|give)\s+"
    rf"(?:this|it|my|the\s+{_GRADED_THING})\b",
    # Forged prompt structure: role lines, chat-template tokens, the data fence itself.
    r"\[\[(?:system|user|assistant)\]\]",
    r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\|>",
    r"</?data\b[^>]*>",
    r"\[/?INST\]|<<\s*/?SYS\s*>>",
)
_DETECTORS = tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in _PATTERNS)


def detect_injection(text: str) -> list[str]:
    """The injection attempts found in `text`, in order; overlapping matches are one snippet."""
    spans = sorted((m.start(), m.end()) for detector in _DETECTORS for m in detector.finditer(text or ""))
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    hits: list[str] = []
    for start, end in merged:
        snippet = text[start:end].strip()[:MAX_HIT_CHARS]
        if snippet not in hits:
            hits.append(snippet)
    return hits
