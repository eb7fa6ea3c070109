"""Build a session's preference pairs from every source, filter them, and write them as JSONL."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

from assay.core.writers import write_jsonl
from assay.pipeline.preference.evidence import verdicts
from assay.pipeline.preference.judged import judged_pairs
from assay.pipeline.preference.model import PairOptions, PairSet, PreferencePair
from assay.pipeline.preference.repairs import repair_pairs
from assay.pipeline.preference.siblings import sibling_pairs


def build_pairs(conn: sqlite3.Connection, options: PairOptions = PairOptions()) -> PairSet:
    """The session's pairs, by source in order repair, synthetic_sibling, judged_response.

    Filters, each counted by source and reason: a measured margin under `min_margin`
    (`below_margin`); a pairwise verdict whose orders disagree (`orders_disagree`); a pair
    with no pairwise verdict and no positive pointwise margin, a tie even at `min_margin` 0
    (`no_preference`); a chosen
    side that is contaminated or a duplicate; and a pair already given by an earlier source
    (`already_paired`).
    """
    scores = verdicts(conn)
    found = PairSet()
    seen: set[tuple[str, str]] = set()
    readers = {"repair": lambda: repair_pairs(conn, scores), "synthetic_sibling": lambda: sibling_pairs(conn, scores),
               "judged_response": lambda: judged_pairs(conn, scores)}
    for source in options.sources:
        candidates, dropped = readers[source]()
        found.dropped.update({(source, reason): n for reason, n in dropped.items()})
        for pair in candidates:
            reason = _filtered(pair, options, seen)
            if reason:
                found.dropped[(source, reason)] += 1
                continue
            seen.add((pair.chosen_id, pair.rejected_id))
            found.pairs.append(pair)
    found.dropped = Counter({k: v for k, v in found.dropped.items() if v})
    return found


def _filtered(pair: PreferencePair, options: PairOptions, seen: set[tuple[str, str]]) -> str | None:
    if pair.orders_agree is False:
        return "orders_disagree"
    if pair.margin is not None and pair.margin < options.min_margin:
        return "below_margin"
    if pair.orders_agree is None and (pair.margin is None or pair.margin <= 0):
        # A pointwise tie says neither side is better: "chosen" would be whichever id sorts first.
        return "no_preference"
    if (pair.chosen_id, pair.rejected_id) in seen or (pair.rejected_id, pair.chosen_id) in seen:
        return "already_paired"
    return None


def write_pairs(path: str | Path, pairs: PairSet) -> int:
    """Write the pairs as JSONL (one TRL row each), atomically; returns how many."""
    return write_jsonl(path, (p.row() for p in pairs.pairs))
