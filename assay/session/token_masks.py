"""Token-level loss masks in the session DB (migration 0006): each response token's score and
whether it is left out of the training loss.

Offsets are characters of the message's content, so a mask outlives the tokenizer that scored
it; `scorer` and `tokenizer` name how it was made.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from assay.trace.log import Clock

UNCLUSTERED = "unclustered"


@dataclass(frozen=True)
class TokenScore:
    """One scored token: `turn` indexes the sample's messages, [start, end) are character offsets
    into that message's content; `masked` means it is excluded from the loss."""

    turn: int
    start: int
    end: int
    score: float
    masked: bool


@dataclass(frozen=True)
class TokenMask:
    """A sample's scored response tokens, in order, under the named scorer and tokenizer."""

    sample_id: str
    scorer: str
    tokenizer: str
    tokens: tuple[TokenScore, ...]

    @property
    def total(self) -> int:
        """How many response tokens were scored."""
        return len(self.tokens)

    @property
    def masked(self) -> int:
        """How many of them are masked."""
        return sum(1 for t in self.tokens if t.masked)

    def spans(self, turn: int) -> list[tuple[int, int]]:
        """The masked character spans of one turn, sorted, with touching or overlapping spans merged."""
        spans: list[tuple[int, int]] = []
        for t in sorted((t for t in self.tokens if t.turn == turn and t.masked), key=lambda t: t.start):
            if spans and t.start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], t.end))
            else:
                spans.append((t.start, t.end))
        return spans


def _tokens_json(mask: TokenMask) -> str:
    return json.dumps([[t.turn, t.start, t.end, round(t.score, 6), int(t.masked)] for t in mask.tokens])


def _row_mask(row: sqlite3.Row | tuple) -> TokenMask:
    sample_id, scorer, tokenizer, tokens = row[0], row[1], row[2], row[3]
    parsed = tuple(TokenScore(turn=int(a), start=int(b), end=int(c), score=float(d), masked=bool(e))
                   for a, b, c, d, e in json.loads(tokens))
    return TokenMask(sample_id=sample_id, scorer=scorer, tokenizer=tokenizer, tokens=parsed)


def save_masks(conn: sqlite3.Connection, masks: Sequence[TokenMask], clock: Clock) -> None:
    """Store masks in one transaction, replacing any earlier mask of the same sample."""
    now = clock().isoformat()
    with conn:
        conn.executemany(
            "INSERT OR REPLACE INTO token_masks (sample_id, scorer, tokenizer, tokens, total, masked, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(m.sample_id, m.scorer, m.tokenizer, _tokens_json(m), m.total, m.masked, now) for m in masks])


def load_mask(conn: sqlite3.Connection, sample_id: str) -> TokenMask | None:
    """The sample's mask, or None when it was never scored."""
    row = conn.execute("SELECT sample_id, scorer, tokenizer, tokens FROM token_masks WHERE sample_id = ?",
                       (sample_id,)).fetchone()
    return None if row is None else _row_mask(row)


def iter_masks(conn: sqlite3.Connection) -> Iterator[TokenMask]:
    """Every stored mask, by sample id."""
    for row in conn.execute("SELECT sample_id, scorer, tokenizer, tokens FROM token_masks ORDER BY sample_id"):
        yield _row_mask(row)


def masked_share_by_cluster(conn: sqlite3.Connection) -> list[tuple[str, int, int]]:
    """(cluster label, tokens, masked tokens) summed over the masked samples, largest first.

    The cluster is the sample's first `tags["cluster"]` label, as the report and viewer use it;
    samples without one are counted under "unclustered".
    """
    rows = conn.execute(
        "SELECT COALESCE(json_extract(s.tags, '$.cluster[0]'), ?) AS cluster, SUM(m.total), SUM(m.masked)"
        " FROM token_masks m LEFT JOIN samples s ON s.id = m.sample_id"
        " GROUP BY cluster ORDER BY SUM(m.total) DESC, cluster",
        (UNCLUSTERED,)).fetchall()
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]
