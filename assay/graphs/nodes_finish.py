"""Nodes that end a session: select the final dataset, the export gate, and export."""

from __future__ import annotations

from typing import Any

import numpy as np
from langgraph.types import interrupt

from assay.graphs.deps import CurationDeps
from assay.graphs.state import CurationState
from assay.graphs.nodes_pool import judge_pending
from assay.session.judgements import judge_attempts, latest_judgements, unjudged_reason
from assay.session.proposals import propose, proposals
from assay.core.records import Status
from assay.trace.log import Decision

SELECTED_META = "selected"


def make_select(deps: CurationDeps):  # noqa: ANN201 - a LangGraph node
    """Choose the final dataset: qualifying samples, down to the target size with the chosen selector.

    Its writes are one transaction that also marks select done: a kill between marking the
    chosen samples SELECTED and dropping the rest undoes both, and the re-run selects afresh.
    A sample the judge could not score (the provider failed `judge.max_attempts` times, or the
    budget ran out first) is no quality rejection: it stays active, with an `unjudged:` reason,
    out of the export's curated file and listed in its rejected file with that reason.
    """

    async def select_node(state: CurationState) -> dict[str, Any]:
        session = deps.session
        if session.meta(SELECTED_META):
            return {}
        update: dict[str, Any] = {}
        if state.stop_reason != "budget_spent":
            # The last chance for samples whose judging failed in the final round: the loop has
            # no next round to retry them in.
            report = await judge_pending(deps, state.round)
            if report is not None and report.budget_spent:
                update = {"stop_reason": "budget_spent", "stop_message": report.budget_spent}
        targets = session.config.targets
        active = list(session.samples.iter(status=Status.ACTIVE))
        verdicts = latest_judgements(session.conn, [s.id for s in active])
        attempts = judge_attempts(session.conn, [s.id for s in active])
        floor = targets.quality_floor
        drops: dict[str, str] = {}
        unjudged: dict[str, str] = {}  # no verdict (the provider failed, or the budget ran out): stays active
        qualifying = []
        for sample in active:
            verdict = verdicts.get(sample.id)
            if verdict is None or not verdict.ok:
                unjudged[sample.id] = unjudged_reason(attempts.get(sample.id, 0), session.config.judge.max_attempts)
            elif floor is not None and verdict.overall < floor:
                drops[sample.id] = f"below_quality_floor:{verdict.overall:.2f}"
            else:
                qualifying.append(sample)
        size = targets.size or len(qualifying)
        chosen, notes = _choose(deps, qualifying, [verdicts[s.id].overall for s in qualifying], size)
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
            session.trace.decisions([Decision(i, "select", "drop", r, round=state.round) for i, r in drops.items()]
                                    + [Decision(i, "select", "unjudged", r, round=state.round)
                                       for i, r in unjudged.items()])
            session.trace.event("select", f"selected {len(chosen)} of {len(qualifying)} qualifying samples ({method})"
                                + (f"; {len(unjudged)} left unjudged" if unjudged else ""),
                                {"method": method, "size": len(chosen), "qualifying": len(qualifying), "notes": notes,
                                 "unjudged": len(unjudged)}, round=state.round)
            session.set_meta(SELECTED_META, True)
        deps.emit("selected", {"selected": len(chosen), "qualifying": len(qualifying), "method": method, "notes": notes,
                               "unjudged": len(unjudged)})
        return update

    return select_node


def _choose(deps: CurationDeps, samples: list[Any], quality: list[float], size: int) -> tuple[list[int], list[str]]:
    """Indices of the chosen samples: all of them when they fit, else the selector's picks."""
    if len(samples) <= size:
        return list(range(len(samples))), []
    from assay.tools.selection import NEEDS_VECTORS, select
    from assay.tools.selection.base import LabelSets, Pool

    method = deps.options.selection
    clusters = np.asarray([int(s.tags["cluster"][0]) if s.tags.get("cluster") else -1 for s in samples], dtype=np.int64)
    skills = [s.tags.get("skills", []) for s in samples]
    labels = LabelSets.from_lists(skills if any(skills) else [[f"cluster-{c}"] for c in clusters])
    vectors = label_vectors = None
    store = deps.session.store
    if method in NEEDS_VECTORS:
        vectors = store.vectors([s.id for s in samples])
    if method == "mig":
        label_vectors = store.embedder.encode(list(labels.names))
    pool = Pool(len(samples), np.asarray(quality, dtype=np.float64), clusters, labels, vectors, label_vectors)
    picked = select(method, pool, size, seed=deps.session.config.llm.seed)
    chosen = [int(i) for i in picked.indices]
    notes = [*picked.notes, *picked.warnings]
    if len(chosen) < size:
        # The selector's own rule (DEITA's similarity cap, say) left room: the user asked for
        # `size`, and enough samples qualify, so the best remaining ones by score fill it.
        taken = set(chosen)
        rest = sorted((i for i in range(len(samples)) if i not in taken), key=lambda i: (-quality[i], samples[i].id))
        chosen += rest[: size - len(chosen)]
        notes.append(f"topped up to {size} with the best-scored remaining samples")
    return chosen, notes


def make_export_gate(deps: CurationDeps):  # noqa: ANN201
    """In review mode, hold the export until a person approves it."""

    async def export_gate(state: CurationState) -> dict[str, Any]:
        if not deps.options.review:
            return {}
        session = deps.session
        selected = sum(1 for _ in session.samples.iter(status=Status.SELECTED))
        propose(session.conn, session.runtime.clock, round=None, kind="export", auto_approve=False,
                summary=f"export {selected} selected samples ({state.stop_reason}: {state.stop_message})",
                payload={"selected": selected, "stop_reason": state.stop_reason})
        while proposals(session.conn, kind="export", status="pending"):
            interrupt({"pending": 1, "message": f"the export waits for review: assay review {session.dir}"})
        (item,) = proposals(session.conn, kind="export")
        if item.status == "rejected":
            return {"stop_reason": "export_rejected", "stop_message": item.note or "the export was rejected in review"}
        return {}

    return export_gate


def make_export(deps: CurationDeps):  # noqa: ANN201
    """Write curated.jsonl, rejected.jsonl, lineage.jsonl and report.html into the session folder."""

    async def export(state: CurationState) -> dict[str, Any]:
        from assay.pipeline.export import export_session

        session = deps.session
        with session.conn:  # the closing round (finish or a stop) ends with the export
            session.conn.execute("UPDATE rounds SET finished_at = ? WHERE finished_at IS NULL",
                                 (session.runtime.clock().isoformat(),))
        written = export_session(session, state)
        deps.emit("exported", {k: str(v) for k, v in written.items()})
        return {"exported": {k: str(v) for k, v in written.items()}}

    return export
