"""Judge a batch of pool samples and record the verdicts (judgements, scores, decisions).

Every verdict lands in the `judgements` table with its source, its overall score in the
sample's scores as `judge_overall` (and each criterion as `judge_<name>`), and one traced
decision per sample. A failed call is recorded as a failed attempt, never as a score: the
sample is judged again in a later pass, up to `judge.max_attempts` failed attempts.

With `--judge-sample K` (`deps.options.judge_sample`) the LLM judges K samples per cluster
(`tags["cluster"]`; samples without one form one group of their own), a classifier trained
on every successful LLM verdict of the session (`assay.pipeline.judge.quality_model`) predicts the rest,
and the doubtful predictions go to the LLM too, within a cap on the pass's LLM share. Too
few verdicts (or a classifier no better than their mean) → the LLM judges everything, and a
`judge_sample` event says why. Decisions say where each score came from:
"llm: overall 4.00 — sampled (3 per cluster)", "classifier: overall 3.9 (±0.4)".
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from random import Random
from typing import Any

from assay.session.judgements import Judgement, judge_attempts, record_judgements
from assay.pipeline.judge.quality_model import QualityModel, QualityModelSettings, build_features, route
from assay.core.records import Sample
from assay.trace.log import Decision

CHUNK = 32
NO_CLUSTER = ""


@dataclass
class JudgePoolReport:
    """What a judging pass did."""

    judged: int = 0
    failed: int = 0
    by_classifier: int = 0
    llm_sampled: int = 0
    llm_uncertain: int = 0
    budget_spent: str | None = None
    fallback: str | None = None
    issues: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        """Counts for progress lines and the trace."""
        return {"judged": self.judged, "failed": self.failed, "by_classifier": self.by_classifier,
                "llm_sampled": self.llm_sampled, "llm_uncertain": self.llm_uncertain, "fallback": self.fallback,
                "budget_spent": self.budget_spent, "issues": dict(self.issues)}


async def judge_pool(deps: Any, samples: Sequence[Sample], round: int, *,
                     settings: QualityModelSettings | None = None) -> JudgePoolReport:
    """Judge `samples`: all by the LLM, or (with `options.judge_sample`, in round 0) sampled, then by classifier."""
    report = JudgePoolReport()
    per_cluster = getattr(deps.options, "judge_sample", None)
    # Rewrites and syntheses (rounds > 0) are few, and unlike the seeds the classifier was
    # trained on: the LLM judges them.
    if per_cluster and round == 0:
        await _judge_sampled(deps, samples, round, per_cluster, settings or QualityModelSettings(), report)
    else:
        await judge_by_llm(deps, samples, round, report)
    return report


async def judge_by_llm(deps: Any, samples: Sequence[Sample], round: int, report: JudgePoolReport,
                       notes: Mapping[str, str] | None = None) -> dict[str, Judgement]:
    """Judge with the LLM, recording verdicts chunk by chunk; stops at a spent budget (see report)."""
    from assay.core.concurrency import run_chunked
    from assay.pipeline.plugins import judge_function

    session = deps.session
    ctx = deps.agent("judge", round)
    rubric = session.config.judge.rubric
    judge_sample = judge_function(session.config.plugins, code_criterion=session.config.judge.code_criterion)
    found: dict[str, Judgement] = {}
    for start in range(0, len(samples), CHUNK):
        part = list(samples[start : start + CHUNK])
        results, spent = await run_chunked(part, lambda s: judge_sample(ctx, s, rubric), CHUNK, lambda: None)
        verdicts = [_to_judgement(s, r, round) for s, r in zip(part, results, strict=True) if r is not None]
        record_verdicts(session, verdicts, round, notes)
        found.update((v.sample_id, v) for v in verdicts)
        report.judged += sum(v.ok for v in verdicts)
        report.failed += sum(not v.ok for v in verdicts)
        report.issues.update(issue["type"] for v in verdicts for issue in v.issues)
        deps.emit("advance", {"name": "judge", "n": len(part)})
        if spent:
            report.budget_spent = spent
            break
    return found


def sample_per_cluster(samples: Sequence[Sample], k: int, rng: Random) -> list[Sample]:
    """K samples of each cluster (all of a smaller one), the same for the same seed and samples."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[(sample.tags.get("cluster") or [NO_CLUSTER])[0]].append(sample)
    chosen = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda s: s.id)
        chosen.extend(rng.sample(members, min(k, len(members))))
    return chosen


async def _judge_sampled(deps: Any, samples: Sequence[Sample], round: int, k: int,
                         settings: QualityModelSettings, report: JudgePoolReport) -> None:
    session = deps.session
    rng = session.rng("judge-sample")
    sampled = sample_per_cluster(samples, k, rng)
    sampled_ids = {s.id for s in sampled}
    rest = [s for s in samples if s.id not in sampled_ids]
    event: dict[str, Any] = {"per_cluster": k, "samples": len(samples), "sampled": len(sampled)}
    note = f"— sampled ({k} per cluster)"
    await judge_by_llm(deps, sampled, round, report, {s.id: note for s in sampled})
    report.llm_sampled = len(sampled)
    if report.budget_spent or not rest:
        _summarise(session, report, event, round)
        return
    training = llm_verdicts(session.conn)
    train_samples = session.samples.get(list(training))
    y = [training[s.id] for s in train_samples]
    if len(y) < settings.min_verdicts or len(set(y)) < 2:
        why = (f"{len(y)} LLM verdicts, fewer than the {settings.min_verdicts} needed" if len(y) < settings.min_verdicts
               else f"all {len(y)} LLM verdicts score {y[0]:g}: nothing to learn")
        await _fallback(deps, rest, round, report, event, why)
        return
    everyone = [*train_samples, *rest]
    seed = rng.getrandbits(32)
    features = build_features(session.store.vectors([s.id for s in everyone]), [s.scores for s in everyone],
                              components=settings.components_for(len(y)), seed=seed)
    x_train, x_rest = features.matrix[: len(y)], features.matrix[len(y) :]
    floor = session.config.targets.quality_floor
    model = QualityModel.fit(x_train, y, floor=floor, settings=settings, seed=seed)
    event.update(model=model.fit_summary(), features=features.describe())
    if not model.beats_mean:
        why = f"the classifier (cv RMSE {model.cv_rmse:.2f}) does not beat the mean verdict ({model.mean_rmse:.2f})"
        await _fallback(deps, rest, round, report, event, why)
        return
    predicted = model.predict(x_rest)
    confidences = predicted.confidence(floor)
    llm_slots = math.floor(settings.max_llm_share * len(samples)) - len(sampled)
    routing = route(predicted, floor=floor, llm_slots=llm_slots, settings=settings)
    rationale = f"predicted from {model.n} LLM verdicts (cv MAE {model.cv_mae:.2f}); features: {features.describe()}"
    confident, notes = [], {}
    for i in routing.by_classifier:
        overall, sigma = float(predicted.overall[i]), float(predicted.sigma[i])
        confident.append(Judgement(rest[i].id, "classifier", _places(overall, 2), rationale=rationale, round=round,
                                   confidence=_places(float(confidences[i]), 3)))
        notes[rest[i].id] = f"(±{sigma:.1f})" + (" — doubtful, over the LLM cap" if routing.doubt[i] > 1 else "")
    record_verdicts(session, confident, round, notes)
    report.by_classifier = len(confident)
    deps.emit("advance", {"name": "judge", "n": len(confident)})
    doubtful = [rest[i] for i in routing.to_llm]
    guesses = {rest[i].id: float(predicted.overall[i]) for i in routing.to_llm}
    notes = {rest[i].id: f"— uncertain (classifier {predicted.overall[i]:.1f} ±{predicted.sigma[i]:.1f})"
             for i in routing.to_llm}
    judged = await judge_by_llm(deps, doubtful, round, report, notes)
    report.llm_uncertain = len(judged)
    errors = [abs(v.overall - guesses[i]) for i, v in judged.items() if v.ok]
    event.update(floor=floor, llm_slots=max(0, llm_slots), over_cap=routing.over_cap,
                 mae_on_uncertain=_places(sum(errors) / len(errors), 3) if errors else None)
    _summarise(session, report, event, round)


def _places(value: float, digits: int) -> float:
    return round(value, digits)  # here `round` is the builtin, not a parameter


def llm_verdicts(conn: Any) -> dict[str, float]:
    """Each sample's latest successful LLM overall score in the session: the classifier's training data."""
    rows = conn.execute(
        "SELECT j.sample_id, j.overall FROM judgements j JOIN (SELECT sample_id, MAX(id) AS last FROM judgements"
        " WHERE source = 'llm' AND error IS NULL AND overall IS NOT NULL GROUP BY sample_id) l ON j.id = l.last"
        " ORDER BY j.sample_id")
    return {row[0]: float(row[1]) for row in rows}


async def _fallback(deps: Any, rest: Sequence[Sample], round: int, report: JudgePoolReport,
                    event: dict[str, Any], why: str) -> None:
    report.fallback = why
    event["fallback"] = why
    await judge_by_llm(deps, rest, round, report, {s.id: "— classifier not used: " + why for s in rest})
    _summarise(session=deps.session, report=report, event=event, round=round)


def _summarise(session: Any, report: JudgePoolReport, event: dict[str, Any], round: int) -> None:
    event.update(llm_sampled=report.llm_sampled, llm_uncertain=report.llm_uncertain,
                 by_classifier=report.by_classifier, failed=report.failed, budget_spent=report.budget_spent)
    by_llm = report.judged + report.failed
    message = (f"judged {by_llm} by LLM ({report.llm_sampled} sampled, {report.llm_uncertain} uncertain"
               + (", rest: fallback" if report.fallback else "") + f"), {report.by_classifier} by classifier")
    session.trace.event("judge_sample", message, event, round=round)


def _to_judgement(sample: Sample, result: Any, round: int) -> Judgement:
    verdict = result.value
    if verdict is None:
        return Judgement(sample.id, "llm", None, error=result.error or "no verdict", call_ids=list(result.call_ids),
                         round=round)
    return Judgement(sample.id, "llm", float(verdict.overall), {k: float(v) for k, v in verdict.scores.items()},
                     [issue.model_dump() for issue in verdict.issues], verdict.rationale,
                     call_ids=list(result.call_ids), round=round)


def record_verdicts(session: Any, verdicts: Sequence[Judgement], round: int | None,
                    notes: Mapping[str, str] | None = None) -> None:
    """Store verdicts: the judgements table, the samples' scores, and a decision each.

    `notes` (by sample id) are appended to the decisions' reasons: why the LLM judged it, or
    the classifier's uncertainty.
    """
    if not verdicts:
        return
    notes = dict(notes or {})
    failed = [v.sample_id for v in verdicts if not v.ok]
    if failed:
        limit = session.config.judge.max_attempts
        before = judge_attempts(session.conn, failed)
        for sample_id in failed:  # the attempt is part of the record: "(attempt 2 of 3)"
            attempt = f"(attempt {before.get(sample_id, 0) + 1} of {limit})"
            notes[sample_id] = f"{attempt} {notes[sample_id]}" if sample_id in notes else attempt
    with session.conn:  # the verdicts, their scores and their decisions land together or not at all
        record_judgements(session.conn, session.runtime.clock, verdicts)
        session.store.set_scores({
            v.sample_id: {"judge_overall": v.overall, **{f"judge_{k}": s for k, s in v.scores.items()}}
            for v in verdicts if v.ok
        })
        session.trace.decisions([
            Decision(v.sample_id, "judge", "judged" if v.ok else "judge_failed",
                     reason=_reason(v, notes.get(v.sample_id)), scores=_decision_scores(v), call_ids=v.call_ids,
                     round=round)
            for v in verdicts
        ])


def _reason(verdict: Judgement, note: str | None) -> str:
    if not verdict.ok:
        text = f"{verdict.source}: {verdict.error}"
    elif verdict.source == "classifier":
        text = f"classifier: overall {verdict.overall:.1f}"
    else:
        text = f"{verdict.source}: overall {verdict.overall:.2f}"
    return f"{text} {note}" if note else text


def _decision_scores(verdict: Judgement) -> dict[str, float]:
    if not verdict.ok:
        return {}
    scores = {"overall": float(verdict.overall)}  # type: ignore[arg-type]
    if verdict.confidence is not None:
        scores["confidence"] = verdict.confidence
    return scores
