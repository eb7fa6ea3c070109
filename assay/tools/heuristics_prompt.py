"""Filters on how the task is posed: several tasks glued together, or an input the model cannot see."""

from __future__ import annotations

import re

from assay.core.records import Sample
from assay.core.assessment import Assessment, drop
from assay.tools.heuristics_config import HeuristicConfig
from assay.tools.heuristics_text import URL, input_payload, task_text, words

DEFAULTS = HeuristicConfig()

# An output that runs on into the next generated record: "2. Instruction:", "### Instruction",
# "3. Input:". A bare "Input:" line is common in legit worked examples, so it needs a number.
RUN_ON_RECORD = re.compile(
    r"^\s*(?:#+\s*)?(?:\d+\s*[.)]\s*)?(?:#+\s*)?instruction\s*[:\n]"
    r"|^\s*#{2,}\s*(?:instruction|input|response|output)\b"
    r"|^\s*\d+\s*[.)]\s*(?:input|output)\s*:",
    re.IGNORECASE | re.MULTILINE,
)
ITEM = re.compile(r"(?:^|(?<=[\s.?!]))(\d{1,2})[.)]\s+(?=\S)")
TASK_START = re.compile(
    r"^(?:what|which|who|whom|when|where|why|how|is|are|can|does|do|name|list|give|write|explain|describe|"
    r"translate|convert|calculate|compute|find|suggest|create|generate|classify|summari[sz]e|rewrite|"
    r"identify|tell|make|compose|define|compare|provide|design|select|choose|edit|sort|rank|solve)\b",
    re.IGNORECASE,
)
# Steps of one task point back at each other ("it", "the result"); unrelated tasks do not.
REFERS_BACK = re.compile(r"\b(?:it|them|these|the result|the answer|above|previous|step|then|again)\b", re.I)
STOP = frozenset("a an the of to in on for and or is are what which how who me my your with from by".split())

# Instructions that treat a URL as a string to work on, not as a page to read.
URL_AS_DATA = re.compile(
    r"\b(?:html|hyperlink|anchor|regex|regular expression|shorten\w*|pars\w+|domain|validat\w*|encod\w*|"
    r"decod\w*|normali[sz]\w*|canonical\w*|query string|parameters?|protocol|qr|bookmark|markdown|link text|"
    r"create a link|tweet|citation|cite)\b",
    re.IGNORECASE,
)
NEEDS_CONTENT = re.compile(
    r"\b(?:summari[sz]\w*|read|describe|extract|according|based on|watch|listen|review|analy[sz]\w*|"
    r"classify|main (?:idea|point|argument)|article|page|post|video|song|photo|image|picture|painting|"
    r"website|webpage|site|document|pdf|spreadsheet|paper|story|report|content)\b",
    re.IGNORECASE,
)
# What may stand around a link without giving the model anything to read: "Review URL:", "Website 1:"
URL_LABEL = re.compile(
    r"^[^\n:]{0,30}:|\b(?:the|this|a|is|at|here|see|url|link|website|web ?page|site|page|source)\b|\d+", re.I | re.M
)
MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
HTML_MEDIA = re.compile(r"<(?:img|video|audio|iframe|embed|object|source)\b[^>]*>", re.IGNORECASE)
BASE64_BLOB = re.compile(r"(?:data:[\w/+.-]+;base64,)?[A-Za-z0-9+/]{120,}={0,2}")
# "<image>", "<video clip>", "<NEWS ARTICLE>", "<link to flag>": a slot nobody filled
MEDIA_PLACEHOLDER = re.compile(
    r"^\s*[\"']?<\s*(?:[\w -]*\b(?:image|img|photo|picture|video|audio|clip|file|link|url|attachment|"
    r"attached|article|document|pdf|chart|graph|table|screenshot|diagram|text|insert)\b[\w -]*)>[\"']?\s*\.?$",
    re.IGNORECASE,
)


def merged_instructions(sample: Sample, config: HeuristicConfig = DEFAULTS) -> Assessment:
    """Drop samples that glue unrelated tasks together, or whose output runs on into another record."""
    tasks = _numbered_tasks(task_text(sample))
    scores = {"numbered_tasks": float(len(tasks))}
    response = sample.response
    first_break = response.find("\n")
    run_on = RUN_ON_RECORD.search(response, first_break + 1) if first_break >= 0 else None
    if run_on and not re.search(r"\binstructions?\b|\bprompts?\b|\bdataset\b", sample.instruction, re.I):
        return drop("merged_instructions", f"the output runs on into another record: {run_on.group().strip()!r}", **scores)
    if len(tasks) >= 2 and _unrelated(tasks):
        return drop("merged_instructions", f"{len(tasks)} unrelated numbered tasks in one instruction", **scores)
    return Assessment(scores=scores)


def _numbered_tasks(instruction: str) -> list[str]:
    """The items of an instruction that is nothing but a numbered list ("1. … 2. …").

    A list after a lead-in ("Rank these: 1. … 2. …") is data for one task, so only an
    instruction that opens with "1." counts, and only when each item reads as a task.
    """
    text = instruction.strip()
    marks = list(ITEM.finditer(text))
    if not marks or marks[0].start() != 0 or marks[0].group(1) != "1":
        return []
    numbers = [int(m.group(1)) for m in marks]
    if numbers != list(range(1, len(numbers) + 1)):
        return []
    ends = [m.start() for m in marks[1:]] + [len(text)]
    items = [text[m.end() : end].strip() for m, end in zip(marks, ends, strict=True)]
    if all(TASK_START.match(item) or item.rstrip().endswith("?") for item in items):
        return items
    return []


def _unrelated(items: list[str]) -> bool:
    """True when no item refers back to another and no two share a content word."""
    if any(REFERS_BACK.search(item) for item in items[1:]):
        return False
    contents = [{w for w in words(item) if w not in STOP and len(w) > 2 and not TASK_START.match(w)} for item in items]
    shared = sum(1 for i, a in enumerate(contents) for b in contents[i + 1 :] if a & b)
    return shared == 0


def url_only_input(sample: Sample, config: HeuristicConfig = DEFAULTS) -> Assessment:
    """Drop samples whose input is only a link (or an image, a blob) the model cannot open."""
    task = task_text(sample)
    payload = input_payload(sample)
    urls = URL.findall(payload if payload is not None else task)
    scores = {"input_urls": float(len(urls))}
    if payload is not None:
        unreadable = _unreadable(payload)
        if unreadable:
            return drop("url_only_input", f"the input is {unreadable}, which the model cannot see", **scores)
        if urls and not _leftover_words(payload) and not URL_AS_DATA.search(task):
            return drop("url_only_input", f"the input is only a link: {urls[0][:80]}", **scores)
    elif urls and NEEDS_CONTENT.search(URL.sub(" ", task)) and not URL_AS_DATA.search(URL.sub(" ", task)):
        return drop("url_only_input", f"the task depends on opening {urls[0][:80]}", **scores)
    return Assessment(scores=scores)


def _unreadable(payload: str) -> str | None:
    """Name what makes a payload unreadable, or None."""
    if MEDIA_PLACEHOLDER.match(payload):
        return f"the placeholder {payload.strip()[:40]!r}"
    stripped = MARKDOWN_IMAGE.sub(" ", HTML_MEDIA.sub(" ", payload))
    if stripped.strip() != payload.strip() and not _leftover_words(stripped):
        return "only an embedded image"
    blob = BASE64_BLOB.search(payload)
    if blob and len(blob.group()) >= 0.8 * len(payload.strip()) and _looks_encoded(blob.group()):
        return "an encoded blob"
    return None


def _leftover_words(payload: str) -> tuple[str, ...]:
    """The words of a payload once its URLs and link labels are removed."""
    return words(URL_LABEL.sub(" ", URL.sub(" ", payload)))


def _looks_encoded(token: str) -> bool:
    # Base64 mixes cases and digits; a DNA sequence or a long hex id does not.
    return any(c.islower() for c in token) and any(c.isupper() for c in token) and any(c.isdigit() for c in token)
