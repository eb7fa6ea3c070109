"""The text of one original sample of the scale pool (evals/scale_pool.py), pool version 2.

Version 1 built each original from ONE source record (its output's sentences shuffled, one or
two sentences from others added). With 8k source records, a 1M pool had about 125 originals per
record, and those siblings were genuine near-duplicates (3-gram Jaccard 0.6-0.8): the pool's
near-duplicate share grew with its size. Version 2 takes only the *shape* of a source record
(its fields' sentence and word counts) and fills it with text from many records:

- instruction: a prefix and a suffix (templates) around a source instruction whose content
  words are, each with probability SUBSTITUTE, swapped for a content word of another
  instruction (at least one swap when it has any);
- input and output: each sentence of the source record's field is replaced by a sentence of a
  random record with the same length bucket (so the length distribution stays that of
  Alpaca + Dolly), whose content words are swapped with probability SUBSTITUTE;
- digits substituted everywhere.

Two originals then share a sentence only by chance, and even then with different swaps, so
near-duplicates are rare at any pool size unless planted.
"""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass, field

PREFIXES = ("", "", "", "", "Please ", "Kindly ", "Task: ", "Question: ", "Instruction: ", "Help me: ",
            "I need this: ", "Quick one. ", "For a class assignment, ", "For my blog, ", "As an expert, ",
            "In simple terms, ", "Briefly, ", "In detail, ", "Step by step, ", "For a beginner, ",
            "Here is a request. ", "Could you do this? ", "New task. ", "Exercise: ", "Prompt: ",
            "Read carefully. ", "From a teacher: ", "Homework: ", "Work item: ", "Request: ")
SUFFIXES = ("", "", "", "", "", "", "", "", "", "", "", "", "", "", "", " Keep it short.", " Use plain English.", " Be specific.",
            " Thanks!", " Explain your reasoning.", " Answer in a few sentences.", " Be concise.",
            " Use an example.", " Please be accurate.", " Write for a general audience.")
SUBSTITUTE = 0.3  # chance that a content word is swapped
BUCKETS = (1, 2, 3, 5, 8, 12, 18, 27, 40, 60)  # upper bounds of sentence length buckets, in words
# Split after a sentence end that follows a non-digit (so "1. Item" stays whole), keep line breaks as separators.
_SENTENCE = re.compile(r"(?<=[^\d\s][.!?])[ \t]+(?=[A-Z\"'])|(\n+)")
_WORD = re.compile(r"\b[a-z][a-z]{3,}\b")  # content words: lower-case, 4+ letters (function words are shorter or kept)
_DIGITS = re.compile(r"\d+")
_KEEP = frozenset("that this with from have there their they them then than what when which will would "
                  "were been your into about also each other some more most such only over very".split())


@dataclass
class Parts:
    """What originals are assembled from: sentences by field and length bucket, content words by field."""

    instructions: list[str] = field(default_factory=list)
    sentences: dict[str, list[list[str]]] = field(default_factory=dict)
    words: dict[str, list[str]] = field(default_factory=dict)
    shapes: list[dict[str, list[int]]] = field(default_factory=list)  # per record: sentence lengths per field
    usable: list[int] = field(default_factory=list)  # records with an instruction and an output (a few have none)


def bucket(words: int) -> int:
    """The length bucket of a sentence of `words` words."""
    return min(bisect.bisect_left(BUCKETS, words), len(BUCKETS) - 1)


def pieces(text: str) -> list[str]:
    """`text` split into sentences and line-break separators (separators are the strings that start with a newline)."""
    return [p for p in _SENTENCE.split(text.strip()) if p]


def build_parts(sources: list[dict[str, str]]) -> Parts:
    """Index the source records once: every field's sentences by length bucket, its content words, each record's shape."""
    parts = Parts(instructions=[s["instruction"].strip() for s in sources])
    for name in ("instruction", "input", "output"):
        parts.sentences[name] = [[] for _ in BUCKETS]
        seen: set[str] = set()
        for record in sources:
            for piece in pieces(record[name]):
                if not piece.startswith("\n"):
                    parts.sentences[name][bucket(len(piece.split()))].append(piece)
                    seen.update(w for w in _WORD.findall(piece) if w not in _KEEP)
        parts.words[name] = sorted(seen)
    for record in sources:
        parts.shapes.append({name: [-1 if p.startswith("\n") else len(p.split()) for p in pieces(record[name])]
                             for name in ("input", "output")})
    parts.usable = [i for i, shape in enumerate(parts.shapes)
                    if parts.instructions[i] and any(length >= 0 for length in shape["output"])]
    return parts


def swap_words(text: str, words: list[str], rng: random.Random, at_least_one: bool = False) -> str:
    """`text` with each content word swapped, with probability SUBSTITUTE, for a random one of `words`."""
    spots = [m for m in _WORD.finditer(text) if m.group(0) not in _KEEP]
    if not spots or not words:
        return text
    chosen = [m for m in spots if rng.random() < SUBSTITUTE]
    if at_least_one and not chosen:
        chosen = [rng.choice(spots)]
    out, last = [], 0
    for m in chosen:
        out += [text[last:m.start()], rng.choice(words)]
        last = m.end()
    return "".join(out) + text[last:]


def fill(shape: list[int], name: str, parts: Parts, rng: random.Random) -> str:
    """A field with `shape` (sentence lengths, -1 for a line break), each sentence drawn from a random record."""
    out = []
    for length in shape:
        if length < 0:
            out.append("\n")
            continue
        pool = parts.sentences[name][bucket(length)] or parts.sentences["output"][bucket(length)]
        if out and not out[-1].endswith("\n"):
            out.append(" ")
        out.append(swap_words(rng.choice(pool), parts.words[name], rng))
    return "".join(out)


def numbers(text: str, rng: random.Random) -> str:
    """`text` with every run of digits replaced by a random number of about the same size."""
    return _DIGITS.sub(lambda m: str(rng.randint(1, 10 ** min(len(m.group(0)), 4))), text)


def original(parts: Parts, rng: random.Random) -> dict[str, str]:
    """One original sample (see the module docstring)."""
    at = parts.usable[rng.randrange(len(parts.usable))]
    prefix, instruction = rng.choice(PREFIXES), parts.instructions[at]
    instruction = swap_words(instruction, parts.words["instruction"], rng, at_least_one=True)
    if prefix.endswith(", ") and instruction[:1].isupper() and instruction[1:2].islower():
        instruction = instruction[0].lower() + instruction[1:]  # "Briefly, explain ...", not "Briefly, Explain ..."
    instruction = prefix + instruction + rng.choice(SUFFIXES)
    shape = parts.shapes[at]
    return {"instruction": numbers(instruction, rng), "input": numbers(fill(shape["input"], "input", parts, rng), rng),
            "output": numbers(fill(shape["output"], "output", parts, rng), rng)}
