"""The text of a synthetic candidate the expansion rejected, recovered from its traced LLM calls.

A rejected candidate never enters the pool, but its decision lists the calls that wrote it:
the instruction (evolve, persona or improve) and the response (respond). The candidate's id
is the content hash of those two turns, so a recovery is exact or not made at all: every
instruction and response the calls returned is tried until the hash matches.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from assay.core.records import Message, content_id


@dataclass(frozen=True)
class Recovered:
    """A rejected candidate's turns and the parent it was grown from."""

    messages: tuple[Message, ...]
    parent_id: str | None


def recover_candidate(conn: sqlite3.Connection, sample_id: str, call_ids: Sequence[int]) -> Recovered | None:
    """The candidate `sample_id` rebuilt from the synthesizer calls among `call_ids`; None if no text hashes to it."""
    if not call_ids:
        return None
    marks = ",".join("?" * len(call_ids))
    rows = conn.execute(f"SELECT id, response FROM llm_calls WHERE agent = 'synthesizer' AND outcome IN ('ok', 'cached')"
                        f" AND id IN ({marks}) ORDER BY id", tuple(call_ids)).fetchall()
    instructions, responses = [], []
    for row in rows:
        value = _json(row[1])
        if isinstance(value.get("instruction"), str):
            instructions.append(value["instruction"])
        if isinstance(value.get("response"), str):
            responses.append(value["response"])
    for instruction in _variants(reversed(instructions)):
        for response in _variants(reversed(responses)):
            messages = (Message(role="user", content=instruction), Message(role="assistant", content=response))
            if content_id(messages) == sample_id:
                return Recovered(messages, _parent(conn, [int(r[0]) for r in rows]))
    return None


def _variants(texts: Sequence[str] | object) -> list[str]:
    """Each text as returned and stripped (the output models trim what they validate)."""
    out: list[str] = []
    for text in texts:  # type: ignore[attr-defined]
        for variant in (text, text.strip()):
            if variant not in out:
                out.append(variant)
    return out


def _json(text: str | None) -> dict[str, object]:
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}  # a call whose answer was not JSON wrote no part of a candidate that passed validation
    return value if isinstance(value, dict) else {}


def _parent(conn: sqlite3.Connection, call_ids: Sequence[int]) -> str | None:
    """The sample the synthesizer calls were made about: the candidate's parent."""
    if not call_ids:
        return None
    row = conn.execute(f"SELECT sample_id FROM llm_call_samples WHERE call_id IN ({','.join('?' * len(call_ids))})"
                       " ORDER BY call_id LIMIT 1", tuple(call_ids)).fetchone()
    return row[0] if row else None
