"""What a refinement run stores: its row, each proposal, the verdicts it used, the items' effectiveness, the fragment.

Everything lands in one transaction, together with one trace decision per proposal; the
fragment file is written (atomically) inside it, so a failure leaves neither half.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.core.config import Criterion
from assay.pipeline.rubric.items import JudgeCall, ReviewCase
from assay.trace.log import Decision

AGENT = "rubric_editor"


@dataclass
class ProposalOutcome:
    """One proposal and how it scored on the held-out items."""

    n: int
    rubric: tuple[Criterion, ...] | None
    rationale: str | None
    agreement_before: float
    agreement_after: float | None
    n_train: int
    n_holdout: int
    kept: bool
    error: str | None = None
    call_ids: list[int] = field(default_factory=list)
    verdicts: dict[int, JudgeCall] = field(default_factory=dict)  # held-out items under this rubric


@dataclass(frozen=True)
class RefineReport:
    """What a refinement run found and wrote."""

    refinement_id: int
    n_train: int
    n_holdout: int
    keep_threshold: float
    base_agreement: float
    final_agreement: float
    proposals: list[ProposalOutcome]
    kept: tuple[Criterion, ...] | None  # the refined rubric, None when no proposal raised agreement
    fragment: Path | None
    effects: dict[int, int]  # decided item id -> +1 fixed, -1 broken, 0 unchanged (by the winning rubric)
    ranked_pending: int


def rubric_json(rubric: Sequence[Criterion]) -> str:
    """A rubric as stored: [{name, description}, …]."""
    return json.dumps([{"name": c.name, "description": c.description} for c in rubric])


def record_run(session: Any, model: str, options: Any, threshold: float, base: Any, best: Any, winner: Any,
               train: Sequence[ReviewCase], held: Sequence[ReviewCase], outcomes: Sequence[ProposalOutcome],
               pending: Sequence[ReviewCase], pending_verdicts: dict[str, dict[int, JudgeCall]]) -> RefineReport:
    """Store the run (rows, verdicts, effects, trace decisions) and write the fragment when a proposal was kept."""
    from assay.pipeline.rubric.fragment import write_fragment

    conn, now = session.conn, session.runtime.clock().isoformat()
    decided = [*train, *held]
    effects = _effects(decided, base.verdicts, winner.verdicts if winner is not None else {})
    kept = best.rubric if best is not base else None
    fragment = (options.out or session.dir / "refined_rubric.toml") if kept else None
    with conn:
        run = conn.execute(
            "INSERT INTO rubric_refinements (ts, model, seed, holdout, n_train, n_holdout, keep_threshold, base_rubric,"
            " base_agreement, fragment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now, model, options.seed, options.holdout, len(train), len(held), threshold, rubric_json(base.rubric),
             base.agreement, str(fragment) if fragment else None)).lastrowid
        split = {c.id: "train" for c in train} | {c.id: "holdout" for c in held}
        _verdicts(conn, run, "base", split, base.verdicts)
        ids: dict[int, int] = {}
        for p in outcomes:
            ids[p.n] = conn.execute(
                "INSERT INTO rubric_proposals (refinement_id, n, rubric, rationale, agreement_before, agreement_after,"
                " n_train, n_holdout, kept, error, call_ids) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run, p.n, rubric_json(p.rubric) if p.rubric else None, p.rationale, p.agreement_before,
                 p.agreement_after, p.n_train, p.n_holdout, int(p.kept), p.error, json.dumps(p.call_ids))).lastrowid
            _verdicts(conn, run, str(ids[p.n]), split, p.verdicts)
        if winner is not None and winner.proposal is not None:
            won = ids[winner.proposal.n]
            conn.execute("UPDATE rubric_refinements SET winner = ? WHERE id = ?", (won, run))
            # The winner's training verdicts (judged when another round followed it).
            _verdicts(conn, run, str(won), split, {i: v for i, v in winner.verdicts.items() if split.get(i) == "train"})
            for which, verdicts in pending_verdicts.items():
                _verdicts(conn, run, "base" if which == "base" else str(won), {c.id: "pending" for c in pending},
                          verdicts)
        conn.executemany("INSERT INTO rubric_effects (refinement_id, item_id, human, base, winner, effect)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         [(run, c.id, c.human, base.verdicts[c.id].decision, winner.verdicts[c.id].decision, effects[c.id])
                          for c in decided if c.id in effects])
        session.trace.decisions([_decision(p, run) for p in outcomes])
        if fragment is not None:
            write_fragment(fragment, kept, before=base.agreement, after=best.agreement, n_train=len(train),
                           n_holdout=len(held), source=str(session.dir))
    return RefineReport(run, len(train), len(held), threshold, base.agreement, best.agreement, list(outcomes), kept,
                        fragment, effects, len(pending_verdicts.get("winner", {})))


def _verdicts(conn: Any, run: int, rubric: str, split: dict[int, str], verdicts: dict[int, JudgeCall]) -> None:
    conn.executemany(
        "INSERT INTO rubric_verdicts (refinement_id, item_id, rubric, split, decision, overall, tie, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(run, item, rubric, split.get(item, "pending"), v.decision, v.overall, int(v.tie), v.detail)
         for item, v in verdicts.items() if item in split])


def _effects(decided: Sequence[ReviewCase], base: dict[int, JudgeCall], winner: dict[int, JudgeCall]) -> dict[int, int]:
    """Per decided item judged under both rubrics: +1 the winner fixes the judge's decision, -1 breaks it, 0 same."""
    found = {}
    for c in decided:
        if c.id in base and c.id in winner:
            found[c.id] = int(winner[c.id].decision == c.human) - int(base[c.id].decision == c.human)
    return found


def _decision(p: ProposalOutcome, run: int) -> Decision:
    after = "-" if p.agreement_after is None else f"{p.agreement_after:.3f}"
    verdict = "kept" if p.kept else "rejected"
    why = p.error or (f"held-out agreement {p.agreement_before:.3f} -> {after} on {p.n_holdout} items"
                      f" ({p.n_train} for training)")
    scores = {"agreement_before": p.agreement_before}
    if p.agreement_after is not None:
        scores["agreement_after"] = p.agreement_after
    return Decision(None, AGENT, f"rubric_{verdict}", f"refinement {run}, proposal {p.n} {verdict}: {why}", scores,
                    list(p.call_ids))
