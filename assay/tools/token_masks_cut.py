"""Which scored tokens to mask: the lowest-scoring share, over the pool or per sample.

Works on plain score arrays (tools import core only); pipeline/tokens turns the result into the
session's `TokenMask`. Ties are broken by position (a stable sort), so the cut is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Scope = Literal["global", "sample"]


def share_count(share: float, n: int) -> int:
    """How many of `n` tokens a share masks: rounded half up."""
    if not 0 <= share < 1:
        raise ValueError(f"mask share {share} must be in [0, 1)")
    return int(np.floor(share * n + 0.5))


def _lowest(scores: np.ndarray, k: int) -> np.ndarray:
    masked = np.zeros(len(scores), dtype=bool)
    if k > 0:
        masked[np.argsort(scores, kind="stable")[:k]] = True
    return masked


def cut_masks(turn_scores: Sequence[np.ndarray], groups: Sequence[int], share: float,
              scope: Scope = "global") -> list[np.ndarray]:
    """A boolean mask per turn: True where the token is excluded from the loss.

    `turn_scores[i]` are turn i's token scores and `groups[i]` the sample it belongs to. "global"
    masks the lowest `share` of all tokens together; "sample" the lowest `share` of each sample's.
    A turn whose every token fell under the cut keeps its highest-scoring token, so every turn
    still trains on something (the masked count may then fall a little short of the share).
    """
    if len(turn_scores) != len(groups):
        raise ValueError("one group per turn")
    if scope not in ("global", "sample"):
        raise ValueError(f"scope {scope!r}: choose global or sample")
    sizes = [len(s) for s in turn_scores]
    bounds = np.cumsum([0, *sizes])
    flat = np.concatenate([np.asarray(s, dtype=np.float64) for s in turn_scores]) if turn_scores else np.zeros(0)
    masked = np.zeros(len(flat), dtype=bool)
    if scope == "global":
        masked = _lowest(flat, share_count(share, len(flat)))
    else:
        by_group: dict[int, list[int]] = {}
        for i, g in enumerate(groups):
            by_group.setdefault(g, []).append(i)
        for turns in by_group.values():
            index = np.concatenate([np.arange(bounds[i], bounds[i + 1]) for i in turns])
            masked[index] = _lowest(flat[index], share_count(share, len(index)))
    out = []
    for i in range(len(turn_scores)):
        turn = masked[bounds[i] : bounds[i + 1]].copy()
        if len(turn) and turn.all():
            turn[int(np.argmax(flat[bounds[i] : bounds[i + 1]]))] = False
        out.append(turn)
    return out
