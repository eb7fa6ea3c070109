"""The comparison in the reports: `assay compare --report`'s page and the session report's section."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assay.core.records import Message, Origin, Sample
from assay.report.compare_page import render_compare_page, write_compare_page
from assay.report.write import write_report
from assay.session.session import Session
from assay.tools.compare_features import SetFeatures
from assay.tools.compare_sets import CompareSettings, compare_sets
from tests.test_report import EVIL, SEEDS, checked


def features(label: str, n: int, shift: float) -> SetFeatures:
    rng = np.random.default_rng(0)
    vectors = rng.normal(shift, 1, (n, 8)).astype(np.float32)
    texts = [f"question {i} {'word ' * (i % 9)}\n\nanswer {i}" for i in range(n)]
    return SetFeatures(label=label, instructions=[f"question {i}" for i in range(n)], responses=[f"answer {i}" for i in range(n)],
                       texts=texts, tokens=[len(t.split()) for t in texts], words=[len(t.split()) for t in texts],
                       instruction_words=[2 + i % 9 for i in range(n)], response_words=[2 + i % 4 for i in range(n)],
                       turns=[1] * n, languages=["en"] * n, scores=[None] * n, vectors=vectors, total=n)


def test_the_compare_page_is_self_contained_escaped_and_plots_every_marginal(tmp_path: Path) -> None:
    result = compare_sets(features(f"real{EVIL}", 40, 0.0), features("synthetic", 40, 1.0),
                          CompareSettings(permutations=30, clusters=3))
    page = render_compare_page(result)
    checker = checked(page)
    assert checker.svgs == len(result["marginals"])  # one paired-bar chart per marginal
    assert EVIL not in page and "&lt;script&gt;" in page
    for heading in ("Marginals", "Dependencies", "Embedding distribution", "Diversity", "The sets differ"):
        assert heading in page
    written = write_compare_page(result, tmp_path / "compare.html")
    assert written.read_text() == page


def synthetic(i: int) -> Sample:
    return Sample.create([Message(role="user", content=f"Evolved: explain step {i} of sorting a list in Python."),
                          Message(role="assistant", content=f"Step {i}: compare neighbours and swap them.")],
                         op="synth", parent_ids=(SEEDS[0].id,), origin=Origin(format="alpaca"))


def test_a_session_that_expanded_reports_seeds_against_synthetic_samples(session: Session, tmp_path: Path) -> None:
    session.samples.insert(SEEDS, round=0)
    session.samples.insert([synthetic(i) for i in range(6)], round=1)
    page = write_report(session, None, tmp_path / "report.html").read_text()
    checked(page)
    section = page[page.index('id="compare"'):]
    assert "A = seeds: 8 of 8 samples · B = synthetic: 6 of 6" in section
    assert "Embedding distribution" in section and section.count("<svg") >= 7


def test_a_session_that_never_expanded_says_there_is_nothing_to_compare(session: Session, tmp_path: Path) -> None:
    session.samples.insert(SEEDS, round=0)
    page = write_report(session, None, tmp_path / "report.html").read_text()
    assert "The session holds 0 synthetic samples and 8 seeds: nothing to compare" in page
