"""Bias-cue repair over a session: which samples carry a significant cue, and their rewrites as proposals.

The cues come from the latest detection (session/bias_cues.py); a cue counts when it is
significant in that run (adjusted p within its alpha) and removable (not a length cue). Each active sample
carrying such cues, not tried before, gets one attempt (pipeline/repair/cue_attempt.py) that
names every cue it carries. Kept rewrites become `repair` proposals exactly like the repair
action's: review mode holds them for `assay review`, otherwise they are approved at once, and
`apply_round` brings them into the pool. Progress is kept in the session's meta as each sample
finishes, so a re-run after a kill repairs only the rest; calls go through the gateway (budget,
cache, trace) like every other agent's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.core.bias_cue import Cue
from assay.core.records import Sample, Status
from assay.core.recipe_cues import CueSettings
from assay.pipeline.repair.cue_attempt import AGENT, REASONS, CueAgents, attempt
from assay.session.proposals import propose, sample_payload

CUE_META = "cue_repair_progress"  # the cue round's attempts so far, see `_progress`


@dataclass
class CueRepairReport:
    """Per cue: samples carrying it, rewrites tried and kept, and drops by reason; and the run's totals."""

    round: int
    cues: list[str] = field(default_factory=list)  # cue keys, in detection order
    carrying: dict[str, int] = field(default_factory=dict)
    tried: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, dict[str, int]] = field(default_factory=dict)  # cue -> reason -> count
    proposals: int = 0
    budget_spent: str | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One row per cue, for the CLI's table and --json."""
        return [{"cue": key, "carrying": self.carrying.get(key, 0), "tried": self.tried.get(key, 0),
                 "kept": self.kept.get(key, 0), "rejected": dict(self.rejected.get(key, {}))} for key in self.cues]


def repair_cues_of(findings: Sequence[Any]) -> list[Cue]:
    """The cues worth repairing: significant in their detection run (adjusted p within its alpha, the
    ones `assay cues detect` reported) and removable by rewriting (not a length cue)."""
    return [f.cue for f in findings if f.significant and f.cue.removable]


def carriers(session: Any, cues: Sequence[Cue]) -> list[tuple[Sample, list[Cue]]]:
    """Each active sample whose response carries any of `cues`, with the cues it carries, in pool order."""
    found = []
    for sample in session.samples.iter(status=Status.ACTIVE):
        carried = [c for c in cues if c.present(sample.response)]
        if carried:
            found.append((sample, carried))
    return found


@dataclass(frozen=True)
class CueSelection:
    """The active samples carrying the cues, and those a round tries: not tried before, at most its limit."""

    carrying: list[tuple[Sample, list[Cue]]]
    chosen: list[tuple[Sample, list[Cue]]]


def select_carriers(session: Any, cues: Sequence[Cue], limit: int, round: int) -> CueSelection:
    """What round `round` repairs (a sample it already tried, before a kill, is still its own)."""
    carrying = carriers(session, cues)
    skip = tried_before(session) - set(_progress(session, round)["done"])
    return CueSelection(carrying, [(s, c) for s, c in carrying if s.id not in skip][:limit])


def tried_before(session: Any) -> set[str]:
    """Samples a cue repair already decided on (any round); a failed rewrite counts once it failed
    `judge.max_attempts` times, as for the repair action."""
    limit = session.config.judge.max_attempts
    rows = session.conn.execute(
        "SELECT sample_id, SUM(reason LIKE 'rewrite_failed%'), SUM(reason NOT LIKE 'rewrite_failed%') FROM decisions"
        " WHERE agent = ? GROUP BY sample_id", (AGENT,))
    return {r[0] for r in rows if r[2] or r[1] >= limit}


def session_agents(session: Any, round: int | None, agent: Callable[[str, int | None], Any] | None = None) -> CueAgents:
    """The rewriter, pairwise judge, claim decomposer and verifier of the session, and its embedder."""
    from assay.agents.base import AgentContext
    from assay.pipeline.rubric.in_force import pairwise_rubric

    make = agent or (lambda role, r: AgentContext.for_session(session, role, round=r))
    return CueAgents(rewriter=make("rewriter", round), judge=make("judge", round), decomposer=make("decomposer", round),
                     verifier=make("judge", round), embed=lambda texts: session.store.embedder.encode(texts),
                     rubric=pairwise_rubric(session.config.judge))


async def run_cue_repairs(session: Any, findings: Sequence[Any], settings: CueSettings, *, round: int, review: bool,
                          agents: CueAgents | None = None, max_repairs: int | None = None,
                          emit: Callable[[str, dict[str, Any]], None] = lambda kind, data: None,
                          selection: CueSelection | None = None) -> CueRepairReport:
    """Repair the cue-carrying samples (at most `max_repairs`, default the settings'; `selection`: already
    selected with `select_carriers`); kept rewrites become proposals."""
    from assay.core.concurrency import run_chunked
    from assay.pipeline.rounds import record_outcome

    cues = repair_cues_of(findings)
    report = CueRepairReport(round, cues=[c.key() for c in cues])
    limit = settings.max_repairs if max_repairs is None else max_repairs
    selection = selection or select_carriers(session, cues, limit, round)
    carrying = selection.carrying
    for _, carried in carrying:
        for cue in carried:
            report.carrying[cue.key()] = report.carrying.get(cue.key(), 0) + 1
    progress = _progress(session, round)
    done: dict[str, Any] = progress["done"]
    chosen = selection.chosen
    agents = agents or session_agents(session, round)
    emit("stage", {"name": "cue repair", "total": len(chosen)})

    async def one(item: tuple[Sample, list[Cue]]) -> None:
        sample, carried = item
        outcome = await attempt(agents, sample, carried, settings, round=round, trace=session.trace)
        new = outcome.rewritten
        done[sample.id] = {"cues": list(outcome.cues), "reason": outcome.reason, "proposal": None if not outcome.kept
                           else {"sample_id": new.id, "summary": f"cue repair of {sample.id}: removed "
                                 f"{', '.join(outcome.cues)}", "payload": sample_payload(
                                     new, changes=list(outcome.changes), cue_checks=outcome.numbers)}}
        session.set_meta(CUE_META, progress)  # no await since the decision: the sample is done before anything else

    todo = [item for item in chosen if item[0].id not in done]  # a re-run after a kill repairs only the rest
    _, report.budget_spent = await run_chunked(todo, one, 16, lambda: emit("advance", {"name": "cue repair", "n": 1}))
    kept = []
    for sample, _ in chosen:
        entry = done.get(sample.id)
        if entry is None:
            continue
        for key in entry["cues"]:
            report.tried[key] = report.tried.get(key, 0) + 1
            if entry["reason"] == "kept":
                report.kept[key] = report.kept.get(key, 0) + 1
            else:
                report.rejected.setdefault(key, Counter())[entry["reason"]] += 1
        if entry["proposal"] is not None:
            kept.append((sample.id, entry["proposal"]))
    report.rejected = {k: {r: v[r] for r in REASONS if v.get(r)} for k, v in report.rejected.items()}
    with session.conn:  # the round's proposals and its outcome land together
        for original_id, new in kept:
            propose(session.conn, session.runtime.clock, round=round, kind="repair", sample_id=new["sample_id"],
                    parent_id=original_id, auto_approve=not review, summary=new["summary"], payload=new["payload"])
        record_outcome(session, round, cue_repair={"attempted": sum(s.id in done for s, _ in chosen),
                                                   "kept": len(kept)})
    report.proposals = len(kept)
    emit("repaired", {"cue attempts": sum(s.id in done for s, _ in chosen), "kept": len(kept)})
    return report


def _progress(session: Any, round: int) -> dict[str, Any]:
    """The cue round's attempts so far (sample -> its cues, reason and proposal), kept in `meta`."""
    stored = session.meta(CUE_META)
    if stored is not None and stored["round"] == round:
        return dict(stored)
    return {"round": round, "done": {}}


def prevalence(session: Any, cues: Sequence[Cue]) -> dict[str, float]:
    """Share of the active pool carrying each cue (the report's "after")."""
    responses = [s.response for s in session.samples.iter(status=Status.ACTIVE)]
    n = len(responses) or 1
    return {c.key(): sum(c.present(r) for r in responses) / n for c in cues}
