"""Bias-cue detection: candidates, the controlled permutation test, the session's store and `assay cues detect`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from assay.cli.app import app
from assay.core.bias_cue import Cue
from assay.core.config import Config
from assay.core.errors import AssayError
from assay.core.records import Message, Sample, Status
from assay.session.bias_cues import CueFinding, DetectionRun, latest_findings, record_findings
from assay.session.judgements import Judgement, record_judgements
from assay.session.session import Session
from assay.tools.bias_cue_candidates import candidates, tokens
from assay.tools.bias_cue_detect import associate, detect
from tests.cue_synth import make, naive_difference

AI = "As an AI language model,"


def test_a_planted_cue_is_found_first_with_its_sign() -> None:
    data = make(1500, 1, AI, p_phrase=lambda c, lv: 0.3,
                outcome=lambda rng, c, lv, k: c * 0.5 + lv * 0.3 + (1.0 if k else 0.0) + rng.normal())
    found = detect(data.texts, data.outcome, data.clusters, permutations=500, seed=0)
    top = found.tests[0]
    # The 2-4 word openers and the phrases inside it have its carriers exactly: only the longest stays.
    assert top.cue.kind == "opener" and top.cue.text == "As an AI language model"
    assert top.effect == pytest.approx(1.0, abs=0.25) and top.adjusted_p < 0.01
    # Length raises the outcome too: the length cue (tested within clusters) is reported beside it.
    assert [t.cue.kind + ":" + t.cue.text for t in found.significant(0.05)] == [
        "opener:As an AI language model", "length:long (>= 100 words)"]
    negative = make(1500, 2, AI, p_phrase=lambda c, lv: 0.3, outcome=lambda rng, c, lv, k: -1.0 * k + rng.normal())
    assert detect(negative.texts, negative.outcome, negative.clusters, permutations=300).tests[0].effect < -0.7


def test_a_cue_that_only_tracks_length_is_not_reported_but_the_length_cue_is() -> None:
    # The phrase is far more common in long answers, and long answers score higher: uncontrolled, the
    # phrase looks strongly associated; within a length quintile it says nothing.
    data = make(2000, 3, "in other words then", opener=False, p_phrase=lambda c, lv: 0.05 + 0.15 * lv,
                outcome=lambda rng, c, lv, k: lv * 0.6 + rng.normal())
    assert naive_difference(data.planted, data.outcome) > 0.5
    found = detect(data.texts, data.outcome, data.clusters, permutations=500, seed=0)
    significant = found.significant(0.05)
    assert not [t for t in significant if t.cue.kind != "length"]
    assert [t.cue.kind for t in significant] == ["length"] and significant[0].effect > 0  # tested within clusters


def test_a_cue_that_only_tracks_cluster_is_not_reported() -> None:
    data = make(2000, 4, "in other words then", opener=False, p_phrase=lambda c, lv: 0.05 + 0.2 * c,
                outcome=lambda rng, c, lv, k: c * 0.8 + rng.normal())
    assert naive_difference(data.planted, data.outcome) > 0.5
    found = detect(data.texts, data.outcome, data.clusters, permutations=500, seed=0)
    assert found.significant(0.05) == []
    uncontrolled = detect(data.texts, data.outcome, None, permutations=500, seed=0)
    assert uncontrolled.tests[0].cue.text == "in other words then" and uncontrolled.tests[0].adjusted_p < 0.01


def test_no_cue_on_outcome_independent_data() -> None:
    data = make(1500, 5, AI, p_phrase=lambda c, lv: 0.3, outcome=lambda rng, c, lv, k: rng.normal())
    found = detect(data.texts, data.outcome, data.clusters, permutations=500, seed=0)
    assert len(found.tests) >= 2 and found.significant(0.05) == []


def test_null_p_values_are_roughly_uniform_and_max_t_holds_the_family_wise_rate() -> None:
    rng = np.random.default_rng(7)
    n, k = 600, 120
    strata = rng.integers(0, 10, size=n)
    raw, families_rejected = [], 0
    for run in range(30):
        presence = rng.random((k, n)) < rng.uniform(0.05, 0.5, size=(k, 1))
        _, p, adjusted, _ = associate(presence, rng.normal(size=n), strata, permutations=199, seed=run)
        raw.append(p)
        families_rejected += bool((adjusted <= 0.05).any())
    p = np.concatenate(raw)
    assert abs(p.mean() - 0.5) < 0.03
    assert 0.03 < (p <= 0.05).mean() < 0.07 and 0.17 < (p <= 0.2).mean() < 0.23
    assert families_rejected <= 5  # 30 null families at alpha 0.05: about 1.5 expected


def test_detection_is_deterministic_under_a_seed() -> None:
    data = make(800, 6, AI, p_phrase=lambda c, lv: 0.3, outcome=lambda rng, c, lv, k: 0.3 * k + rng.normal())
    first = detect(data.texts, data.outcome, data.clusters, permutations=300, seed=11)
    assert first == detect(data.texts, data.outcome, data.clusters, permutations=300, seed=11)
    other = detect(data.texts, data.outcome, data.clusters, permutations=300, seed=12)
    assert [t.p for t in first.tests] != [t.p for t in other.tests]


def test_each_candidate_pattern_matches_exactly_what_was_counted() -> None:
    rng = np.random.default_rng(8)
    openers = ["Sure! Here's the answer:", "sure, here s the answer", "Great question!", "As an AI language model, I"]
    closers = ["I hope this helps!", "Hope this helps.", "Let me know if you have questions."]
    texts = []
    for i in range(400):
        body = " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "eps", "zeta"], size=int(rng.integers(5, 40))))
        extra = rng.choice(["", "\n\n## Steps\n1. First\n2. Then **bold** 🎉", "\n- a point\n```py\nx=1\n```",
                            "\n\n-- The Assistant"])
        texts.append(f"{rng.choice(openers)} {body}.{extra} {rng.choice(closers)}")
    found = candidates(texts, min_count=20)
    kinds = {c.cue.kind for c in found}
    assert {"opener", "closer", "phrase", "format", "length"} <= kinds
    for c in found:
        assert [i for i, t in enumerate(texts) if c.cue.present(t)] == c.carriers.tolist(), c.cue
    texts_of = {c.cue.text for c in found}
    assert {"Sure! Here's the answer", "I hope this helps!", "markdown header", "emoji", "code fence",
            "signature line"} <= texts_of
    # "sure here s" has the carriers of "sure here s the answer": only the longer one stays.
    assert "Sure! Here's" not in texts_of


def test_findings_round_trip_through_the_session(session: Session) -> None:
    assert latest_findings(session.conn) == []
    cue = Cue(kind="opener", text="As an AI", pattern=r"\A\W*as\W+an\W+ai(?!\w)")
    first = [CueFinding(cue, "score", 0.8, 0.001, 0.004, 0.3, 900, 270, alpha=0.05, method="m")]
    record_findings(session.conn, session.runtime.clock, DetectionRun("score", 900, 0.05, "m", 999, 0), first)
    length = Cue(kind="length", text="long", min_words=120)
    second = [CueFinding(length, "kept", -0.1, 0.2, 0.6, 0.2, 50, 10, alpha=0.1, method="m"),
              CueFinding(cue, "kept", 0.2, 0.01, 0.03, 0.4, 50, 20, alpha=0.1, method="m")]
    run_id = record_findings(session.conn, session.runtime.clock, DetectionRun("kept", 50, 0.1, "m", 99, 3), second)
    got = latest_findings(session.conn)
    assert [(f.cue, f.effect, f.adjusted_p, f.n, f.carriers, f.outcome, f.run_id) for f in got] == [
        (length, -0.1, 0.6, 50, 10, "kept", run_id), (cue, 0.2, 0.03, 50, 20, "kept", run_id)]
    assert [f.significant for f in got] == [False, True] and got[0].created_at


def _session_with_cue(directory: Path, runtime, n: int = 600) -> None:
    data = make(n, 9, AI, p_phrase=lambda c, lv: 0.3, outcome=lambda rng, c, lv, k: 6 + 2 * k + rng.normal())
    session = Session.open(directory, runtime, Config(), create=True)
    try:
        samples = [Sample.create([Message(role="user", content=f"question {i}"), Message(role="assistant", content=t)],
                                 source="t", tags={"cluster": [str(c)]}) for i, (t, c) in enumerate(zip(data.texts, data.clusters))]
        session.samples.insert(samples)
        session.samples.set_status([s.id for s in samples[:40]], Status.DROPPED, "unjudged:not_judged")
        record_judgements(session.conn, runtime.clock, [Judgement(s.id, "llm", float(np.clip(y, 1, 10)))
                                                        for s, y in zip(samples[40:], data.outcome[40:])])
    finally:
        session.close()


def test_cli_detects_and_stores_cues_of_a_session(tmp_path: Path, runtime) -> None:
    directory = tmp_path / "s"
    _session_with_cue(directory, runtime)
    env = {"ASSAY_HOME": runtime.env["ASSAY_HOME"], "COLUMNS": "200"}
    result = CliRunner().invoke(app, ["cues", "detect", str(directory), "--permutations", "300", "--json"], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["n"] == 560 and out["left_out"] == 40 and out["cues"][0]["text"] == "As an AI language model"
    assert out["cues"][0]["effect"] > 1.5 and out["run_id"] == 1
    table = CliRunner().invoke(app, ["cues", "detect", str(directory), "--permutations", "300"], env=env)
    assert table.exit_code == 0, table.output
    assert "As an AI language model" in table.output and "stored as detection run 2" in table.output
    session = Session.open_read_only(directory, runtime)
    try:
        stored = latest_findings(session.conn)
    finally:
        session.close()
    assert stored[0].cue.text == "As an AI language model" and stored[0].run_id == 2 and stored[0].n == 560


def test_cli_detects_on_a_scored_file_by_kept(tmp_path: Path) -> None:
    data = make(500, 10, AI, p_phrase=lambda c, lv: 0.3, outcome=lambda rng, c, lv, k: float(rng.random() < 0.2 + 0.6 * k))
    path = tmp_path / "scored.jsonl"
    path.write_text("".join(json.dumps({"instruction": f"q{i}", "input": "", "output": t, "_assay": {
        "status": "active" if y else "dropped", "reason": None if y else "too_short", "cluster": int(c)}}) + "\n"
        for i, (t, y, c) in enumerate(zip(data.texts, data.outcome, data.clusters))))
    result = CliRunner().invoke(app, ["cues", "detect", str(path), "--outcome", "kept", "--permutations", "300",
                                      "--json"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["outcome"] == "kept" and out["cues"][0]["text"] == "As an AI language model" and out["cues"][0]["effect"] > 0.4
    # Below the smallest possible p (1/301), nothing is reported: one line says so, naming the closest.
    none = CliRunner().invoke(app, ["cues", "detect", str(path), "--outcome", "kept", "--permutations", "300",
                                    "--alpha", "0.001"], env={"COLUMNS": "300"})
    assert none.exit_code == 0 and "no cue associated with the kept" in none.output
    assert "the closest: opener 'As an AI language model'" in none.output
    missing = CliRunner().invoke(app, ["cues", "detect", str(path), "--outcome", "score"])
    assert isinstance(missing.exception, AssayError) and "judge_overall" in str(missing.exception)


def test_patterns_match_what_was_counted_under_unicode_case_rules() -> None:
    # str.lower() turns "İ" into "i" plus a combining dot (a non-word character), and the regex's
    # IGNORECASE treats "ı"/"i", "ſ"/"s" and "ϐ"/"β" as one letter: the counted words must follow the regex.
    rng = np.random.default_rng(12)
    heads = ["İstanbul is lovely today", "istanbul is lovely today", "Istanbul ıs lovely today",
             "ſo much ϐeta here", "so much βeta here", "Kelvin \u212a scale rules"]
    texts = [f"{rng.choice(heads)} {' '.join(rng.choice(['p', 'q', 'r', 't'], size=6))}." for _ in range(300)]
    found = candidates(texts, min_count=20)
    assert any(c.cue.kind == "opener" and c.words[:2] == tuple(tokens("istanbul is")) for c in found)
    for c in found:
        assert [i for i, t in enumerate(texts) if c.cue.present(t)] == c.carriers.tolist(), c.cue


def test_kept_leaves_out_samples_select_left_active_as_unjudged(session: Session) -> None:
    # select marks the chosen `selected`, the rest `dropped` (not_selected) and leaves samples without a
    # verdict `active` with an `unjudged:` reason: those were neither kept nor dropped for their text.
    from assay.pipeline.cues.gather import from_session

    samples = [Sample.create([Message(role="user", content=f"q{i}"), Message(role="assistant", content=f"a{i}")])
               for i in range(6)]
    session.samples.insert(samples)
    session.samples.set_status([s.id for s in samples[:2]], Status.SELECTED, None)
    session.samples.set_status([s.id for s in samples[2:4]], Status.DROPPED, "not_selected:top")
    session.samples.set_status([s.id for s in samples[4:]], Status.ACTIVE, "unjudged:not_judged")
    data = from_session(session, "kept")
    assert dict(zip(data.ids, data.outcome)) == {samples[0].id: 1.0, samples[1].id: 1.0, samples[2].id: 0.0,
                                                 samples[3].id: 0.0}
    assert data.left_out == 2


def test_the_cues_app_registers_each_command_once() -> None:
    from assay.cli.cues import cues_app

    assert [c.name for c in cues_app.registered_commands] == ["detect", "repair"]


@pytest.mark.parametrize("score", ['"high"', "true", "[7]"])
def test_a_scored_file_with_a_score_that_is_not_a_number_names_the_record(tmp_path: Path, score: str) -> None:
    path = tmp_path / "scored.jsonl"
    good = '{"instruction": "q", "output": "a", "_assay": {"status": "active", "judge": {"overall": 7}}}\n'
    path.write_text(good + '{"instruction": "q", "output": "a", "_assay": {"judge": {"overall": %s}}}\n' % score)
    result = CliRunner().invoke(app, ["cues", "detect", str(path)])
    assert isinstance(result.exception, AssayError), result.exception
    assert "record 2" in str(result.exception) and "judge overall" in str(result.exception)


def test_a_list_that_ends_the_answer_is_not_a_signature_line() -> None:
    from assay.tools.bias_cue_candidates import FORMAT_TICS

    signature = Cue(kind="format", text="signature line", pattern=FORMAT_TICS["signature line"])
    assert not signature.present("Pack light:\n- a hat\n- Use sunscreen\n")
    assert all(signature.present(t) for t in ("Done.\n-- The Assistant", "Done.\n\u2014 Jane", "Done.\n~ Bot",
                                              "Done.\nBest regards, Bot", "Done.\nCheers!"))
