"""Judging a pool: by the LLM, or K per cluster by the LLM and the rest by the quality classifier."""

from __future__ import annotations

import json
import re
import zlib

import numpy as np
import pytest

from assay.core.config import Config
from assay.pipeline.deps import CurationDeps, RunOptions
from assay.session.judgements import latest_judgements
from assay.pipeline.judge.pool import judge_pool, sample_per_cluster
from assay.llm.transport import CompletionRequest
from assay.pipeline.judge.quality_model import Predictions, QualityModel, QualityModelSettings, build_features, route
from assay.core.records import Message, Sample
from assay.session.session import Session
from assay.testing.scripted import scripted_context
from tests.conftest import fixed_runtime

CRITERIA = ("accuracy", "helpfulness", "instruction_following", "clarity", "safety")
TOPICS = {
    "cooking": ("How do I cook {}?", ["rice", "pasta", "eggs", "beans", "soup", "bread", "fish", "tofu", "lentils", "oats"]),
    "math": ("What is the derivative of {}?", ["x^2", "sin x", "e^x", "ln x", "x^3", "cos x", "tan x", "1/x", "sqrt x", "x^5"]),
    "geography": ("What is the capital of {}?", ["France", "Peru", "Kenya", "Japan", "Chile", "Nepal", "Spain", "Egypt",
                                                 "Canada", "Norway"]),
    "code": ("Write a Python function that {}.", ["reverses a list", "sums a list", "sorts words", "counts vowels",
                                                  "finds the max", "removes duplicates", "joins strings", "checks primes",
                                                  "flattens lists", "parses ints"]),
}
FILLER = "then explain each step clearly with a short example and a note on common mistakes to avoid".split()
RESPONSE = re.compile(r'<data name="response">\n(.*?)\n</data>', re.S)


def response_words(request: CompletionRequest) -> int:
    return len(RESPONSE.search(request.messages[-1]["content"]).group(1).split())


def length_judge(request: CompletionRequest) -> str:
    """A fake judge whose overall score grows with the response's length: signal for the classifier."""
    overall = min(5, 1 + response_words(request) // 4)
    return json.dumps({"issues": [], "scores": dict.fromkeys(CRITERIA, overall), "overall": overall, "rationale": "ok"})


def constant_judge(request: CompletionRequest) -> str:
    return json.dumps({"issues": [], "scores": dict.fromkeys(CRITERIA, 4), "overall": 4, "rationale": "ok"})


def pool() -> list[Sample]:
    """40 samples in 4 topics; response lengths from 2 to 19 words."""
    samples = []
    for topic, (question, items) in TOPICS.items():
        for i, item in enumerate(items):
            words = 2 + (i * 7 + len(topic)) % 18
            answer = " ".join([f"For {item}:", *FILLER][:words])
            samples.append(Sample.create([Message(role="user", content=question.format(item)),
                                          Message(role="assistant", content=answer)], tags={"topic": [topic]}))
    return samples


class HashedWords:
    """A stand-in embedder (hashed word counts) for tests whose embeddings need no meaning."""

    def encode(self, texts: list[str], on_batch: object = None) -> np.ndarray:
        vectors = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, zlib.crc32(word.encode()) % 64] += 1
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def stored_pool(session: Session, floor: float | None = 3.5, *, real_embeddings: bool = False) -> list[Sample]:
    samples = pool()
    session.config.targets.quality_floor = floor
    if not real_embeddings:
        session.store.embedder = HashedWords()
    session.store.add(samples)
    session.store.set_tags({s.id: {"cluster": [str(list(TOPICS).index(s.tags["topic"][0]))]} for s in samples})
    session.store.set_scores({s.id: {"response_words": len(s.messages[-1].content.split()),
                                     "judge_overall": 9.0} for s in samples})  # a stale judge score: never a feature
    return session.samples.get([s.id for s in samples])


def deps_for(session: Session, judge: object, k: int | None) -> tuple[CurationDeps, object]:
    ctx, fake = scripted_context(session, default=judge)
    from assay.report.write import write_report

    deps = CurationDeps(session=session, options=RunOptions(judge_sample=k), write_report=write_report)
    deps.contexts[("judge", 0)] = ctx
    return deps, fake


def judge_events(session: Session) -> list[dict]:
    return [json.loads(r["data"]) for r in session.conn.execute("SELECT data FROM events WHERE kind = 'judge_sample'")]


def reasons(session: Session) -> dict[str, str]:
    return {r["sample_id"]: r["reason"] for r in session.conn.execute("SELECT sample_id, reason FROM decisions")}


SHARE = QualityModelSettings(max_llm_share=0.5)


async def test_sampled_judging_splits_llm_and_classifier_deterministically(session: Session, tmp_path) -> None:
    samples = stored_pool(session, real_embeddings=True)
    deps, fake = deps_for(session, length_judge, 3)
    report = await judge_pool(deps, samples, 0, settings=SHARE)

    assert report.llm_sampled == 12 and report.fallback is None
    assert 0 < report.llm_uncertain <= 8  # 50 % of 40 = 20 LLM calls at most, 12 of them sampled
    assert len(fake.requests) == 12 + report.llm_uncertain
    assert report.by_classifier == 40 - len(fake.requests)
    verdicts = latest_judgements(session.conn)
    assert set(verdicts) == {s.id for s in samples} and all(v.ok for v in verdicts.values())
    sources = [v.source for v in verdicts.values()]
    assert sources.count("llm") == len(fake.requests) and sources.count("classifier") == report.by_classifier
    truth = {s.id: min(5, 1 + len(s.messages[-1].content.split()) // 4) for s in samples}
    predicted = [v for v in verdicts.values() if v.source == "classifier"]
    assert np.mean([abs(v.overall - truth[v.sample_id]) for v in predicted]) < 0.6
    assert all(0 < v.confidence <= 1 and "12 LLM verdicts" in v.rationale for v in predicted)
    assert all(v.confidence is None and v.overall == truth[i] for i, v in verdicts.items() if v.source == "llm")

    why = reasons(session)
    assert sum(r.endswith("— sampled (3 per cluster)") for r in why.values()) == 12
    assert sum(r.startswith("llm: overall") and "— uncertain (classifier" in r for r in why.values()) == report.llm_uncertain
    assert all(re.fullmatch(r"classifier: overall \d\.\d \(±\d\.\d\)( — doubtful, over the LLM cap)?", why[v.sample_id])
               for v in predicted)
    [event] = judge_events(session)
    assert event["sampled"] == 12 and event["by_classifier"] == report.by_classifier
    assert event["model"]["trained_on"] == 12 and event["model"]["cv_mae"] < event["model"]["mean_mae"]
    assert "response_words" in event["features"] and "judge_overall" not in event["features"]
    stored = session.samples.get([v.sample_id for v in predicted])
    assert all(s.scores["judge_overall"] == verdicts[s.id].overall for s in stored)

    # The same pool and seed in another session: the same samples asked, the same verdicts.
    other = Session.open(tmp_path / "other", fixed_runtime(), Config(), create=True)
    try:
        other.store.embedder = session.store.embedder  # the same model, loaded once
        other_deps, other_fake = deps_for(other, length_judge, 3)
        await judge_pool(other_deps, stored_pool(other, real_embeddings=True), 0, settings=SHARE)
        assert [r.messages for r in other_fake.requests] == [r.messages for r in fake.requests]
        assert {i: (v.source, v.overall, v.confidence) for i, v in latest_judgements(other.conn).items()} == {
            i: (v.source, v.overall, v.confidence) for i, v in verdicts.items()}
    finally:
        other.close()


async def test_too_few_verdicts_falls_back_to_the_llm(session: Session) -> None:
    samples = stored_pool(session)
    deps, fake = deps_for(session, length_judge, 1)
    report = await judge_pool(deps, samples, 0)
    assert len(fake.requests) == 40 and report.judged == 40 and report.by_classifier == 0
    assert report.fallback == "4 LLM verdicts, fewer than the 8 needed"
    [event] = judge_events(session)
    assert event["fallback"] == report.fallback and event["sampled"] == 4
    assert {v.source for v in latest_judgements(session.conn).values()} == {"llm"}
    assert sum("classifier not used: 4 LLM verdicts" in r for r in reasons(session).values()) == 36


async def test_verdicts_that_all_agree_teach_nothing(session: Session) -> None:
    deps, fake = deps_for(session, constant_judge, 3)
    report = await judge_pool(deps, stored_pool(session), 0)
    assert len(fake.requests) == 40 and report.fallback == "all 12 LLM verdicts score 4: nothing to learn"


async def test_without_judge_sample_the_llm_judges_everything(session: Session) -> None:
    samples = stored_pool(session)[:5]
    deps, fake = deps_for(session, length_judge, None)
    report = await judge_pool(deps, samples, 0)
    assert len(fake.requests) == 5 and report.judged == 5 and judge_events(session) == []
    assert all(r.startswith("llm: overall ") and "—" not in r for r in reasons(session).values())


def test_sample_per_cluster_takes_k_of_each_and_groups_the_untagged() -> None:
    from random import Random

    samples = pool()
    tagged = [s.model_copy(update={"tags": {"cluster": [s.tags["topic"][0]]}}) for s in samples[:30]] + samples[30:]
    chosen = sample_per_cluster(tagged, 2, Random(1))
    assert len(chosen) == 8  # three clusters and one group of untagged samples
    assert chosen == sample_per_cluster(list(reversed(tagged)), 2, Random(1))
    assert chosen != sample_per_cluster(tagged, 2, Random(2))


def test_features_skip_judge_scores_impute_and_drop_constants() -> None:
    vectors = np.eye(6, 4, dtype=np.float32)
    scores = [{"response_words": 3.0, "judge_overall": 5.0, "refusal": 0.0}, {"response_words": 30.0, "refusal": 0.0},
              {"novelty": 0.5, "refusal": 0.0}, {"novelty": 0.1, "refusal": 0.0}, {"refusal": 0.0}, {"refusal": 0.0}]
    features = build_features(vectors, scores, components=2)
    assert features.score_names == ("novelty", "response_words") and features.components == 2
    assert features.matrix.shape == (6, 4) and not np.isnan(features.matrix).any()
    assert features.describe() == "2 embedding components + scores (novelty, response_words)"


def test_model_learns_and_is_less_sure_far_from_its_data() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = np.clip(3 + x[:, 0] + rng.normal(scale=0.1, size=40), 1, 5)
    model = QualityModel.fit(x, y, seed=0)
    assert model.beats_mean and model.cv_mae < 0.3 < model.mean_mae
    near, far = model.predict(np.array([[0.5, 0, 0], [0.5, 8, -8]])).spread
    assert far > 3 * near
    assert model.fit_summary()["trained_on"] == 40


def test_route_sends_the_most_doubtful_within_the_cap() -> None:
    predictions = Predictions(overall=np.array([4.8, 3.6, 3.4, 2.0, 3.0]), spread=np.array([0.1, 0.1, 0.1, 0.9, 0.1]),
                              sigma=np.array([0.4, 0.4, 0.4, 1.0, 0.4]))
    limits = QualityModelSettings(max_spread=0.5, max_wrong_side=0.2)
    routed = route(predictions, floor=3.5, llm_slots=2, settings=limits)
    # rows 1 and 2 sit by the floor (wrong side ≈ 40 %, doubt 2.0); row 3 is far from the data (doubt 1.8);
    # row 4 is 1.25 sigma below the floor (wrong side ≈ 11 %, doubt 0.53)
    assert routed.to_llm == [1, 2] and routed.by_classifier == [0, 3, 4] and routed.over_cap == 1
    assert routed.doubt[1] == pytest.approx(2.0, abs=0.02) and routed.doubt[3] == pytest.approx(1.8)
    assert route(predictions, floor=3.5, llm_slots=5, settings=limits).to_llm == [1, 2, 3]
    assert route(predictions, floor=None, llm_slots=5, settings=limits).to_llm == [3]
    assert route(predictions, floor=3.5, llm_slots=-3, settings=limits).to_llm == []
    assert route(predictions, floor=3.5, llm_slots=5, settings=QualityModelSettings(max_wrong_side=0.1)).to_llm == [1, 2, 3, 4]


def test_floor_classifier_reads_the_rare_side() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = np.where(x[:, 0] > 1.3, 5.0, 3.0)  # about one in ten above the floor
    model = QualityModel.fit(x, y, floor=4.0, seed=0)
    assert model.floor_model is not None and model.fit_summary()["floor_classifier"] is True
    rare = model.predict(np.array([[2.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]))
    gaussian = Predictions(rare.overall, rare.spread, rare.sigma)
    assert rare.overall[0] < 4.0  # the regression, pulled to the mean, puts a clear member below the floor
    assert gaussian.wrong_side(4.0)[0] < 0.4  # and a Gaussian around it calls that likely right
    assert rare.above[0] > 0.9 and rare.wrong_side(4.0)[0] > 0.9  # the floor classifier does not
    assert rare.above[1] < 0.05 and rare.confidence(4.0)[1] > 0.95
    few = QualityModel.fit(x[:20], np.where(np.arange(20) < 2, 5.0, 3.0), floor=4.0, seed=0)
    assert few.floor_model is None and few.predict(x[:2]).above is None  # two above the floor: too few to fit
