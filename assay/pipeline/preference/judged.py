"""Pairs from judged responses: two samples answering the same (or a near-duplicate) instruction, the
better-scored one chosen.

Samples group by their prompt with case and whitespace folded, and a sample screened out as
`duplicate_of:<id>` joins its kept twin's group. Within a group the best-scored sample is
paired with each of the others; a sample and its own rewrite are left to the repair source.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

from assay.core.records import Sample
from assay.pipeline.preference.evidence import Verdict, barred_as_chosen, prompt_key, samples_by_id, split_reply
from assay.pipeline.preference.model import PreferencePair

SOURCE = "judged_response"


def judged_pairs(conn: sqlite3.Connection, scores: dict[str, Verdict]) -> tuple[list[PreferencePair], Counter[str]]:
    """The best-scored sample of each group against every other (before the margin filter), and the drops."""
    dropped: Counter[str] = Counter()
    pool = samples_by_id(conn, scores)
    groups = _groups(pool)
    pairs = []
    for members in groups:
        ranked = sorted(members, key=lambda s: (-scores[s.id].overall, s.id))
        best, rest = ranked[0], ranked[1:]
        barred = barred_as_chosen(best)
        chosen = split_reply(best.messages)
        for other in rest:
            if best.id in other.parent_ids or other.id in best.parent_ids:
                continue  # a repair and its original: the repair source's pair
            if barred:
                dropped[barred] += 1
                continue
            rejected = split_reply(other.messages)
            if chosen is None or rejected is None or chosen[1].strip() == rejected[1].strip():
                dropped["same_response"] += 1
                continue
            high, low = scores[best.id], scores[other.id]
            pairs.append(PreferencePair(SOURCE, chosen[0], chosen[1], rejected[1], best.id, other.id,
                                        high.overall - low.overall, None, (high.id, low.id)))
    return pairs, dropped


def _groups(pool: dict[str, Sample]) -> list[list[Sample]]:
    """Judged samples sharing a prompt, or linked as duplicates, in groups of two or more."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_key: dict[str, str] = {}
    for sample in pool.values():
        split = split_reply(sample.messages)
        if split is None:
            continue
        first = by_key.setdefault(prompt_key(split[0]), sample.id)
        parent[find(sample.id)] = find(first)
        reason = sample.reason or ""
        if reason.startswith("duplicate_of:") and reason.split(":", 1)[1] in pool:
            parent[find(sample.id)] = find(reason.split(":", 1)[1])
    grouped: dict[str, list[Sample]] = {}
    for sample_id in parent:
        grouped.setdefault(find(sample_id), []).append(pool[sample_id])
    return [sorted(g, key=lambda s: s.id) for g in grouped.values() if len(g) >= 2]
