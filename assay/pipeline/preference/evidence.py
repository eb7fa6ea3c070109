"""What the pair sources share: a sample's prompt and reply, its latest verdict, its pool status."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assay.core.records import Message, Sample
from assay.session.samples import row_to_sample

# Reason codes (the part before ':') that bar a sample from being the chosen side, and the drop reason.
BARRED_CHOSEN = {"contaminated": "chosen_contaminated", "duplicate_of": "chosen_duplicate",
                 "exact_repeat": "chosen_duplicate"}


@dataclass(frozen=True)
class Verdict:
    """A sample's latest successful pointwise verdict: its judgements row and overall score."""

    id: int
    overall: float


def split_reply(messages: Sequence[Message]) -> tuple[tuple[Message, ...], str] | None:
    """(every turn before the last assistant turn, that turn's text); None without an assistant turn."""
    last = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=None)
    if last is None:
        return None
    return tuple(messages[:last]), messages[last].content


def prompt_key(prompt: Sequence[Message]) -> str:
    """The prompt with case and whitespace folded: equal keys are the same request."""
    return json.dumps([[m.role, " ".join(m.content.split()).casefold()] for m in prompt], ensure_ascii=False)


def verdicts(conn: sqlite3.Connection) -> dict[str, Verdict]:
    """Each judged sample's latest successful verdict (failed verdicts have no score)."""
    rows = conn.execute(
        "SELECT j.id, j.sample_id, j.overall FROM judgements j JOIN (SELECT MAX(id) AS last FROM judgements"
        " WHERE error IS NULL AND overall IS NOT NULL GROUP BY sample_id) l ON j.id = l.last")
    return {r[1]: Verdict(int(r[0]), float(r[2])) for r in rows}


def samples_by_id(conn: sqlite3.Connection, ids: Iterable[str] | None = None) -> dict[str, Sample]:
    """The pool's samples (all of them, or those in `ids`), by id, with their current status."""
    if ids is None:
        return {s.id: s for s in map(row_to_sample, conn.execute("SELECT * FROM samples"))}
    wanted = sorted(set(ids))
    found: dict[str, Sample] = {}
    for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
        chunk = wanted[start:start + 500]
        rows = conn.execute(f"SELECT * FROM samples WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        found.update((s.id, s) for s in map(row_to_sample, rows))
    return found


def barred_as_chosen(sample: Sample | None) -> str | None:
    """The drop reason when `sample` may not be chosen (contaminated, a duplicate), else None."""
    if sample is None or not sample.reason:
        return None
    return BARRED_CHOSEN.get(sample.reason.split(":", 1)[0])


def decision_ids(conn: sqlite3.Connection, sample_id: str, agent: str, actions: Sequence[str]) -> list[int]:
    """The trace decisions on `sample_id` by `agent` with one of `actions`, oldest first."""
    rows = conn.execute(
        f"SELECT id FROM decisions WHERE sample_id = ? AND agent = ? AND action IN ({','.join('?' * len(actions))})"
        " ORDER BY id", (sample_id, agent, *actions))
    return [int(r[0]) for r in rows]


def calls_of(conn: sqlite3.Connection, call_ids: Sequence[int], agent: str) -> list[int]:
    """Those of `call_ids` made by `agent`, in order."""
    if not call_ids:
        return []
    rows = conn.execute(f"SELECT id FROM llm_calls WHERE agent = ? AND id IN ({','.join('?' * len(call_ids))})",
                        (agent, *call_ids))
    found = {int(r[0]) for r in rows}
    return [i for i in call_ids if i in found]
