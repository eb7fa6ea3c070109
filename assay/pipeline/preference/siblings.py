"""Pairs from synthetic siblings: of the candidates grown from one parent, a kept one is chosen and a
judged-and-rejected one is rejected.

Siblings usually ask different things (each hop rewrites the parent's instruction), so a
sibling pair teaches the generator, not the responder: its prompt asks for a new sample
grown from the parent's instruction, and chosen and rejected are whole samples
(`Instruction:` … `Response:` …). Siblings that share their instruction give an ordinary
response pair instead. Only candidates the judge scored are paired (their margin is
measured); a candidate rejected by a rule or the screen has no score to weigh.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from assay.core.records import Message, Sample
from assay.pipeline.preference.evidence import Verdict, barred_as_chosen, decision_ids, samples_by_id, split_reply
from assay.pipeline.preference.model import PreferencePair
from assay.pipeline.preference.synth_text import recover_candidate
from assay.session.proposals import proposals

SOURCE = "synthetic_sibling"
GENERATE = ("Write one new instruction-tuning sample, an instruction and its response, grown from this "
            "instruction: keep its task, add depth or a new angle.\n\n{instruction}")


def sibling_pairs(conn: sqlite3.Connection, scores: dict[str, Verdict]) -> tuple[list[PreferencePair], Counter[str]]:
    """Each judged rejected candidate against its best kept sibling (before the margin filter), and the drops."""
    dropped: Counter[str] = Counter()
    kept: dict[str, list[tuple[float, Sample]]] = {}
    for item in proposals(conn, kind="expand", status="approved"):
        sample, overall = item.sample(), item.payload.get("judge_overall")
        if overall is None:
            continue
        # Siblings share a parent; past the first hop a rejected candidate's parent may be the seed itself.
        for key in dict.fromkeys([*sample.parent_ids[:1], *([item.parent_id] if item.parent_id else [])]):
            kept.setdefault(key, []).append((float(overall), sample))
    rows = conn.execute("SELECT id, sample_id, scores, call_ids FROM decisions WHERE agent = 'synthesizer'"
                        " AND action = 'synth_rejected' AND reason LIKE 'low_quality:%' ORDER BY id").fetchall()
    pool = samples_by_id(conn, [s.id for group in kept.values() for _, s in group])
    parents = samples_by_id(conn, kept)
    pairs = []
    for row in rows:
        found = recover_candidate(conn, row["sample_id"], json.loads(row["call_ids"]))
        if found is None:
            dropped["text_unrecoverable"] += 1
            continue
        siblings = kept.get(found.parent_id or "")
        if not siblings:
            dropped["no_kept_sibling"] += 1
            continue
        best_score, best = max(siblings, key=lambda x: (x[0], x[1].id))
        barred = barred_as_chosen(pool.get(best.id))
        if barred:
            dropped[barred] += 1
            continue
        low_score = json.loads(row["scores"]).get("judge_overall")
        if low_score is None:  # a margin needs the rejected side's score: never invent one
            dropped["unscored"] += 1
            continue
        low = float(low_score)
        chosen, rejected = split_reply(best.messages), split_reply(found.messages)
        if chosen is None or rejected is None:
            dropped["no_response"] += 1
            continue
        if chosen[0] == rejected[0]:
            prompt, good, bad = chosen[0], chosen[1], rejected[1]
        else:
            parent = parents.get(found.parent_id or "")
            if parent is None:
                dropped["parent_missing"] += 1
                continue
            prompt = (Message(role="user", content=GENERATE.format(instruction=parent.instruction)),)
            good, bad = _as_text(best.messages), _as_text(found.messages)
        kept_decisions = decision_ids(conn, best.id, "synthesizer", ("synth_kept",))
        verdict = scores.get(best.id)
        pairs.append(PreferencePair(SOURCE, prompt, good, bad, best.id, row["sample_id"], best_score - low, None,
                                    (verdict.id,) if verdict else (), (), tuple(sorted([*kept_decisions, row["id"]]))))
    return pairs, dropped


def _as_text(messages: tuple[Message, ...]) -> str:
    """A whole sample as the generator would write it."""
    return "\n\n".join(f"{'Instruction' if m.role == 'user' else 'Response'}:\n{m.content}"
                       for m in messages if m.role != "system")
