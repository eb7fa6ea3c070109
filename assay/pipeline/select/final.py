"""The run's final selection: qualifying samples, down to the target size with the chosen selector.

Its writes are one transaction that also marks select done: a kill between marking the
chosen samples SELECTED and dropping the rest undoes both, and the re-run selects afresh.
A sample the judge could not score (the provider failed `judge.max_attempts` times, or the
budget ran out first) is no quality rejection: it stays active, with an `unjudged:` reason,
out of the export's curated file and listed in its rejected file with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.core.records import Sample, Status
from assay.pipeline.judge.round import judge_pending
from assay.session.judgements import judge_attempts, latest_judgements, unjudged_reason
from assay.trace.log import Decision

SELECTED_META = "selected"


async def select_final(deps: Any, round: int, *, budget_left: bool) -> str | None:
    """Select the final dataset once; returns the budget message when the last LLM work ran out of budget.

    With `budget_left` (the loop did not stop on a spent budget), samples whose judging failed
    in the final round get a last try (the loop has no next round to retry them in), and a
    MIG selection first tags its candidates with their skills (pipeline/select/tag_round.py).
    """
    from assay.pipeline.select.tag_round import tag_candidates, wants_tags

    session = deps.session
    if session.meta(SELECTED_META):
        return None
    spent = None
    if budget_left:
        report = await judge_pending(deps, round)
        if report is not None and report.budget_spent:
            spent = report.budget_spent
    targets = session.config.targets
    pool = _sort_pool(session)
    qualifying = pool.qualifying
    size = targets.size or len(qualifying)
    if budget_left and not spent and len(qualifying) > size and wants_tags(deps):
        spent = await tag_candidates(deps, qualifying, round)
        qualifying = session.samples.get([s.id for s in qualifying])  # with the tags just written
    drops, unjudged, verdicts = pool.drops, pool.unjudged, pool.verdicts
    chosen, notes = choose(deps, qualifying, [verdicts[s.id].overall for s in qualifying], size)
    chosen_ids = {qualifying[i].id for i in chosen}
    method = deps.options.selection if len(qualifying) > size else "all"
    drops.update({s.id: f"not_selected:{method}" for s in qualifying if s.id not in chosen_ids})
    store = session.store
    with session.conn:  # one transaction, marked done inside it: a kill leaves all of select or none
        store.set_status([qualifying[i].id for i in chosen], Status.SELECTED, None)
        for reason in sorted(set(drops.values())):
            store.set_status([i for i, r in drops.items() if r == reason], Status.DROPPED, reason)
        for reason in sorted(set(unjudged.values())):
            store.set_status([i for i, r in unjudged.items() if r == reason], Status.ACTIVE, reason)
        session.trace.decisions([Decision(i, "select", "drop", r, round=round) for i, r in drops.items()]
                                + [Decision(i, "select", "unjudged", r, round=round) for i, r in unjudged.items()])
        session.trace.event("select", f"selected {len(chosen)} of {len(qualifying)} qualifying samples ({method})"
                            + (f"; {len(unjudged)} left unjudged" if unjudged else ""),
                            {"method": method, "size": len(chosen), "qualifying": len(qualifying), "notes": notes,
                             "unjudged": len(unjudged)}, round=round)
        session.set_meta(SELECTED_META, True)
    deps.emit("selected", {"selected": len(chosen), "qualifying": len(qualifying), "method": method, "notes": notes,
                           "unjudged": len(unjudged)})
    return spent


@dataclass
class _Pool:
    """The active pool sorted for selection: the candidates, the samples below the floor, the unjudged."""

    qualifying: list[Sample]
    drops: dict[str, str]  # sample -> why it is dropped
    unjudged: dict[str, str]  # no verdict (the provider failed, or the budget ran out): stays active
    verdicts: dict[str, Any]


def _sort_pool(session: Any) -> _Pool:
    floor = session.config.targets.quality_floor
    active = list(session.samples.iter(status=Status.ACTIVE))
    verdicts = latest_judgements(session.conn, [s.id for s in active])
    attempts = judge_attempts(session.conn, [s.id for s in active])
    pool = _Pool([], {}, {}, verdicts)
    for sample in active:
        verdict = verdicts.get(sample.id)
        if verdict is None or not verdict.ok:
            pool.unjudged[sample.id] = unjudged_reason(attempts.get(sample.id, 0), session.config.judge.max_attempts)
        elif floor is not None and verdict.overall < floor:
            pool.drops[sample.id] = f"below_quality_floor:{verdict.overall:.2f}"
        else:
            pool.qualifying.append(sample)
    return pool


def choose(deps: Any, samples: list[Any], quality: list[float], size: int) -> tuple[list[int], list[str]]:
    """Indices of the chosen samples: all of them when they fit, else the selector's picks.

    MIG selects on the samples' skill tags (`tags["skills"]`, written by the run's tag step)
    when every candidate has them, and on cluster labels otherwise.
    """
    if len(samples) <= size:
        return list(range(len(samples))), []
    from assay.pipeline.plugins import load_selector
    from assay.tools.selection import METHODS, NEEDS_VECTORS, select
    from assay.tools.selection.base import LabelSets, Pool

    method = deps.options.selection
    clusters = np.asarray([int(s.tags["cluster"][0]) if s.tags.get("cluster") else -1 for s in samples], dtype=np.int64)
    skills = [s.tags.get("skills", []) for s in samples]
    tagged = sum(1 for labels_of in skills if labels_of)
    # Skill tags only when every candidate has some: an untagged sample adds no information
    # gain, so MIG would take the tagged ones and fill up in row order, blind to quality.
    labels = LabelSets.from_lists(skills if tagged == len(samples) else [[f"cluster-{c}"] for c in clusters])
    partly = [f"skill tags on {tagged} of {len(samples)} candidates: selected on cluster labels"] if 0 < tagged < len(samples) else []
    vectors = label_vectors = None
    store = deps.session.store
    plugin = None if method in METHODS else load_selector(method, deps.session.config.plugins)
    if method in NEEDS_VECTORS or (plugin is not None and plugin.needs_vectors):
        vectors = store.vectors([s.id for s in samples])
    if method == "mig":
        label_vectors = store.embedder.encode(list(labels.names))
    pool = Pool(len(samples), np.asarray(quality, dtype=np.float64), clusters, labels, vectors, label_vectors)
    seed = deps.session.config.llm.seed
    picked = plugin.select(pool, size, seed=seed) if plugin is not None else select(method, pool, size, seed=seed)
    chosen = [int(i) for i in picked.indices]
    notes = [*partly, *picked.notes, *picked.warnings]
    if len(chosen) < size:
        # The selector's own rule (DEITA's similarity cap, say) left room: the user asked for
        # `size`, and enough samples qualify, so the best remaining ones by score fill it.
        taken = set(chosen)
        rest = sorted((i for i in range(len(samples)) if i not in taken), key=lambda i: (-quality[i], samples[i].id))
        chosen += rest[: size - len(chosen)]
        notes.append(f"topped up to {size} with the best-scored remaining samples")
    return chosen, notes
