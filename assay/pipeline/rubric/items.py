"""The review items a rubric is measured on, and the judge's decision on each under a rubric.

A person's decision is an item's status when `decided_by` names a person: "auto" (a run
without `--review`) and None (pending) are no human decision. The judge's decision under a
rubric is derived exactly the way the pipeline decides:

- an **expand** item (a synthesized sample) is approved when the pointwise judge's overall
  score is at least the keep threshold, the run's `min_synth_quality` (stored run options,
  else 3.5), as `pipeline/expand/wave.py` keeps candidates; below it, rejected;
- a **repair** item (a rewrite) is approved when the pairwise judge prefers the rewrite over
  the sample it replaces in both orders, as `agents/rewriter.py` accepts rewrites; the original
  preferred, or a tie (the two orders disagree), is a rejection, and a tie is also flagged as
  a vague case: the rubric gave the judge nothing to decide by.

The verdict the pipeline already recorded is the base rubric's where there is one (the latest
judgement of the sample, else the expansion's traced judge score; for a rewrite, the rewriter's
traced pairwise outcome), so measuring the base costs nothing; under another rubric the item
is judged again through the gateway (budget, cache, trace).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.agents.judge import conversation_parts
from assay.agents.rubric_editor import EditCase
from assay.core.config import Criterion
from assay.core.records import Sample
from assay.session.judgements import latest_judgements
from assay.session.proposals import Proposal, proposals
from assay.session.samples import row_to_sample

DEFAULT_KEEP = 3.5  # RunOptions.min_synth_quality's default
JUDGED_KINDS = ("expand", "repair")  # an export item is no judge decision
HUMAN = {"approved": "approve", "rejected": "reject"}


@dataclass(frozen=True)
class ReviewCase:
    """A review item with what the judge reads: the proposed sample and, for a repair, the one it replaces."""

    id: int
    kind: str
    human: str | None  # approve | reject; None while pending
    note: str | None
    sample: Sample
    parent: Sample | None

    @property
    def instruction(self) -> str:
        """The instruction as the judge reads it (a repair is judged on the original's instruction)."""
        return conversation_parts(self.parent if self.kind == "repair" and self.parent else self.sample)["instruction"]

    @property
    def response(self) -> str:
        """The proposed response."""
        return str(conversation_parts(self.sample)["response"])

    @property
    def original(self) -> str | None:
        """The response a repair would replace."""
        return str(conversation_parts(self.parent)["response"]) if self.kind == "repair" and self.parent else None


@dataclass(frozen=True)
class JudgeCall:
    """The judge's decision on one item under one rubric; `decision` None when the call failed."""

    decision: str | None  # approve | reject
    overall: float | None = None  # expand: the pointwise overall score
    scores: dict[str, float] = field(default_factory=dict)
    tie: bool = False  # repair: the two orders disagreed
    detail: str = ""
    call_ids: tuple[int, ...] = ()
    error: str | None = None


def review_cases(conn: Any, *, pending: bool = False) -> list[ReviewCase]:
    """The expand and repair items a person decided (or, with `pending`, those still pending), oldest first."""
    found = []
    for item in proposals(conn, status="pending" if pending else None):
        if item.kind not in JUDGED_KINDS or "sample" not in item.payload:
            continue
        if not pending and (item.status not in HUMAN or item.decided_by in (None, "auto")):
            continue
        found.append(_case(conn, item))
    return found


def _case(conn: Any, item: Proposal) -> ReviewCase:
    parent = None
    if item.parent_id:
        row = conn.execute("SELECT * FROM samples WHERE id = ?", (item.parent_id,)).fetchone()
        parent = row_to_sample(row) if row is not None else None
    return ReviewCase(item.id, item.kind, HUMAN.get(item.status), item.note, item.sample(), parent)


def keep_threshold(meta: Any) -> float:
    """The overall score an expansion candidate needs: the run's `min_synth_quality`, else its default."""
    options = meta("run_options") or {}
    return float(options.get("min_synth_quality", DEFAULT_KEEP))


def recorded_verdict(conn: Any, case: ReviewCase, threshold: float) -> JudgeCall | None:
    """The base rubric's verdict the pipeline already recorded for the item, if any."""
    if case.kind == "expand":
        verdict = latest_judgements(conn, [case.sample.id]).get(case.sample.id)
        if verdict is not None and verdict.ok and verdict.source == "llm":
            return pointwise(float(verdict.overall), verdict.scores, threshold, tuple(verdict.call_ids))  # type: ignore[arg-type]
        row = conn.execute("SELECT scores, call_ids FROM decisions WHERE sample_id = ? AND agent = 'synthesizer' AND"
                           " action IN ('synth_kept', 'synth_rejected') ORDER BY id DESC", (case.sample.id,)).fetchone()
        scores = json.loads(row["scores"]) if row else {}
        if "judge_overall" not in scores:
            return None
        calls = tuple(json.loads(row["call_ids"]))
        return pointwise(float(scores["judge_overall"]), _call_scores(conn, calls), threshold, calls)
    if case.parent is None:
        return None
    row = conn.execute("SELECT action, reason, call_ids FROM decisions WHERE sample_id = ? AND agent = 'rewriter' AND"
                       " action IN ('rewrite_accepted', 'rewrite_rejected') AND reason LIKE ? ORDER BY id DESC",
                       (case.parent.id, f"%{case.sample.id}%")).fetchone()
    if row is None:
        return None
    outcome = "b" if row["action"] == "rewrite_accepted" else "tie" if row["reason"].startswith("tie") else "a"
    return pairwise(outcome, tuple(json.loads(row["call_ids"])))


def pointwise(overall: float, scores: dict[str, float], threshold: float, call_ids: tuple[int, ...] = ()) -> JudgeCall:
    """A pointwise verdict as a decision: approve at or above the keep threshold."""
    shown = ", ".join(f"{k} {v:g}" for k, v in scores.items())
    detail = f"overall {overall:g}, keep at {threshold:g}" + (f"; {shown}" if shown else "")
    return JudgeCall("approve" if overall >= threshold else "reject", overall, dict(scores), False, detail, call_ids)


def pairwise(winner: str, call_ids: tuple[int, ...] = ()) -> JudgeCall:
    """A both-order pairwise outcome (b = the rewrite) as a decision: approve only when the rewrite won both orders."""
    detail = {"b": "preferred the rewrite in both orders", "a": "preferred the original",
              "tie": "tie: the two orders disagreed"}[winner]
    return JudgeCall("approve" if winner == "b" else "reject", tie=winner == "tie", detail=detail, call_ids=call_ids)


async def judge_case(ctx: Any, judge: Any, case: ReviewCase, rubric: Sequence[Criterion], threshold: float) -> JudgeCall:
    """The judge's decision on `case` under `rubric`, asked through the gateway (`judge` is the pointwise function)."""
    if case.kind == "expand":
        result = await judge(ctx, case.sample, tuple(rubric))
        if result.value is None:
            return JudgeCall(None, detail="judge failed", call_ids=tuple(result.call_ids), error=result.error)
        verdict = result.value
        return pointwise(float(verdict.overall), {k: float(v) for k, v in verdict.scores.items()}, threshold,
                         tuple(result.call_ids))
    from assay.agents.judge_pairwise import judge_pair

    if case.parent is None or case.original is None:
        return JudgeCall(None, detail="the sample it replaces is gone", error="no parent sample")
    outcome = await judge_pair(ctx, case.instruction, case.original, case.response,
                               sample_ids=(case.parent.id, case.sample.id), rubric=tuple(rubric))
    if not outcome.ok:
        return JudgeCall(None, detail="pairwise judge failed", call_ids=outcome.call_ids, error=outcome.error)
    return pairwise(str(outcome.winner), outcome.call_ids)


def edit_case(case: ReviewCase, verdict: JudgeCall) -> EditCase:
    """What the rubric editor is shown of a decided item."""
    judge = "tie" if verdict.tie else verdict.decision or "failed"
    return EditCase(case.kind, case.human or "undecided", judge, verdict.detail, case.instruction, case.response,
                    case.original, case.note)


def tie_cases(conn: Any, limit: int) -> list[EditCase]:
    """Rewrites the pairwise judge tied on (its two orders disagreed), newest first: vague cases, no decision."""
    rows = conn.execute("SELECT d.call_ids AS decision_calls, s.* FROM decisions d JOIN samples s ON s.id = d.sample_id"
                        " WHERE d.agent = 'rewriter' AND d.action = 'rewrite_rejected' AND d.reason LIKE 'tie%'"
                        " ORDER BY d.id DESC LIMIT ?", (limit,)).fetchall()
    found = []
    for row in rows:
        parts = conversation_parts(row_to_sample(row))
        rewrite = _rewrite_text(conn, json.loads(row["decision_calls"]))
        found.append(EditCase("repair", "undecided", "tie", "tie: the two orders disagreed", parts["instruction"],
                              rewrite if rewrite is not None else "(the rewrite's text was not recorded)",
                              parts["response"]))
    return found


def _rewrite_text(conn: Any, call_ids: Sequence[int]) -> str | None:
    """The rewritten response from the rewriter's recorded answer among `call_ids`."""
    for call in call_ids:
        row = conn.execute("SELECT response FROM llm_calls WHERE id = ? AND agent = 'rewriter'", (call,)).fetchone()
        parsed = _json(row["response"] if row else None)
        if isinstance(parsed, dict) and isinstance(parsed.get("response"), str):
            return parsed["response"]
    return None


def _call_scores(conn: Any, call_ids: Sequence[int]) -> dict[str, float]:
    """The criterion scores of the judge's recorded answer among `call_ids` (empty when there is none)."""
    for call in call_ids:
        row = conn.execute("SELECT response FROM llm_calls WHERE id = ? AND agent = 'judge'", (call,)).fetchone()
        parsed = _json(row["response"] if row else None)
        if isinstance(parsed, dict) and isinstance(parsed.get("scores"), dict):
            return {k: float(v) for k, v in parsed["scores"].items() if isinstance(v, int | float)}
    return {}


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text.strip().removeprefix("```json").removesuffix("```").strip())
    except json.JSONDecodeError:
        return None
