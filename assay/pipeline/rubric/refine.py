"""`assay rubric refine`: propose rubric edits from review disagreements; keep one only if held-out agreement rises.

The decided review items are split, seeded and stratified by the person's decision, into
training and held-out items. Each round the rubric editor sees the best rubric so far and the
training items it gets wrong (plus the pairwise ties) and proposes an edited rubric; the
held-out items are judged again under it, and the proposal is kept only when its agreement
with the people rises strictly over the best so far. Every call goes through the session's
gateway (budget, cache, trace). A spent budget stops refine before anything is written: the
run's rows, its trace decisions and the fragment land together at the end, or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

from assay.agents.rubric_editor import propose_rubric
from assay.core.concurrency import gather_or_stop
from assay.core.config import Criterion
from assay.core.errors import AssayError
from assay.pipeline.rubric.items import (JudgeCall, ReviewCase, edit_case, judge_case, keep_threshold,
                                         recorded_verdict, review_cases, tie_cases)
from assay.pipeline.rubric.record import ProposalOutcome, RefineReport, record_run

MIN_DECIDED = 4  # two to learn from, two held out: fewer measure nothing
MAX_CASES = 12  # disagreements shown to the editor per round (the prompt stays short)
MAX_TIES = 4


@dataclass(frozen=True)
class RefineOptions:
    """How refine runs: the held-out share, proposals, seed, whether to rank pending items, the fragment path."""

    holdout: float = 0.3
    rounds: int = 1
    seed: int = 0
    rank_pending: bool = True
    out: Path | None = None


@dataclass
class Scored:
    """A rubric with the judge's decisions under it (by item id) and its held-out agreement."""

    rubric: tuple[Criterion, ...]
    verdicts: dict[int, JudgeCall]
    agreement: float
    proposal: ProposalOutcome | None = None  # None: the base rubric
    calls: list[int] = field(default_factory=list)


def split(cases: Sequence[ReviewCase], holdout: float, seed: int) -> tuple[list[ReviewCase], list[ReviewCase]]:
    """Training and held-out items, stratified by the person's decision, the same for the same seed and items."""
    rng = Random(f"{seed}:rubric-holdout")
    train: list[ReviewCase] = []
    held: list[ReviewCase] = []
    for decision in ("approve", "reject"):
        group = sorted((c for c in cases if c.human == decision), key=lambda c: c.id)
        rng.shuffle(group)
        k = min(len(group) - 1, round(len(group) * holdout)) if len(group) > 1 else 0
        held += group[:k]
        train += group[k:]
    if not held:  # every group too small to give one: hold out one item of the larger group
        largest = max(("approve", "reject"), key=lambda d: sum(c.human == d for c in train))
        moved = next(c for c in train if c.human == largest)
        train.remove(moved)
        held.append(moved)
    return sorted(train, key=lambda c: c.id), sorted(held, key=lambda c: c.id)


def agreement(cases: Sequence[ReviewCase], verdicts: dict[int, JudgeCall]) -> float:
    """The share of `cases` on which the judge decided as the person did (a failed verdict never agrees)."""
    if not cases:
        return 0.0
    return sum(verdicts[c.id].decision == c.human for c in cases) / len(cases)


async def refine(session: Any, judge_ctx: Any, editor_ctx: Any, judge: Any, options: RefineOptions) -> RefineReport:
    """Run the refinement loop on the session's decided review items and record it; returns the report."""
    cases = review_cases(session.conn)
    if len(cases) < MIN_DECIDED:
        raise AssayError(f"{session.dir}: {len(cases)} review item(s) decided by a person; refining the rubric needs "
                         f"at least {MIN_DECIDED} (approve or reject more with `assay review {session.dir}`; items "
                         "approved automatically, without --review, do not count)")
    if not 0 < options.holdout < 1:
        raise AssayError(f"--holdout {options.holdout}: give a share between 0 and 1, e.g. 0.3")
    train, held = split(cases, options.holdout, options.seed)
    threshold = keep_threshold(session.meta)
    base_rubric = tuple(session.config.judge.rubric)

    async def verdicts_for(rubric: tuple[Criterion, ...], items: Sequence[ReviewCase], *,
                           recorded: bool) -> dict[int, JudgeCall]:
        known = {c.id: v for c in items if recorded and (v := recorded_verdict(session.conn, c, threshold))}
        todo = [c for c in items if c.id not in known]
        judged = await gather_or_stop(judge_case(judge_ctx, judge, c, rubric, threshold) for c in todo)
        return {**known, **{c.id: v for c, v in zip(todo, judged, strict=True)}}

    base_verdicts = await verdicts_for(base_rubric, cases, recorded=True)
    base = Scored(base_rubric, base_verdicts, agreement(held, base_verdicts))
    best, top, outcomes = base, None, []
    keep_rule = (f"an expand item (a new sample) is kept when its overall score is at least {threshold:g} of 5; a repair "
                 "item (a rewrite) is kept when the pairwise judge prefers it over the original in both orders")
    for n in range(1, options.rounds + 1):
        shown = [edit_case(c, best.verdicts[c.id]) for c in train
                 if c.id in best.verdicts and best.verdicts[c.id].decision != c.human][:MAX_CASES]
        ties = [edit_case(c, best.verdicts[c.id]) for c in train if c.id in best.verdicts and best.verdicts[c.id].tie]
        ties = (ties + tie_cases(session.conn, MAX_TIES))[:MAX_TIES]
        edit = await propose_rubric(editor_ctx, best.rubric, shown, ties, keep_rule=keep_rule)
        outcome = ProposalOutcome(n, None, edit.value.rationale if edit.value else None, best.agreement, None,
                                  len(train), len(held), False, None, list(edit.call_ids))
        outcomes.append(outcome)
        if edit.value is None:
            outcome.error = f"the editor failed: {edit.error}"
            continue
        rubric = edit.value.rubric()
        outcome.rubric = rubric
        if rubric == best.rubric:
            outcome.error = "the proposal is the rubric it was given"
            continue
        held_verdicts = await verdicts_for(rubric, held, recorded=False)
        outcome.verdicts = held_verdicts
        outcome.agreement_after = agreement(held, held_verdicts)
        outcome.call_ids += [i for v in held_verdicts.values() for i in v.call_ids]
        scored = Scored(rubric, dict(held_verdicts), outcome.agreement_after, outcome)  # a copy: train verdicts join it
        if top is None or scored.agreement > top.agreement:
            top = scored
        if scored.agreement > best.agreement:
            outcome.kept = True
            if n < options.rounds:  # the next proposal learns from this rubric's training disagreements
                train_verdicts = await verdicts_for(rubric, train, recorded=False)
                outcome.call_ids += [i for v in train_verdicts.values() for i in v.call_ids]
                scored.verdicts.update(train_verdicts)
            best = scored
    winner = best if best is not base else top  # query by committee: the kept rubric, else the best proposal
    pending: list[ReviewCase] = []
    pending_verdicts: dict[str, dict[int, JudgeCall]] = {}
    if options.rank_pending and winner is not None:
        pending = review_cases(session.conn, pending=True)
        pending_verdicts = {"base": await verdicts_for(base_rubric, pending, recorded=True),
                            "winner": await verdicts_for(winner.rubric, pending, recorded=False)}
    return record_run(session, judge_ctx.model, options, threshold, base, best, winner, train, held, outcomes,
                      pending, pending_verdicts)
