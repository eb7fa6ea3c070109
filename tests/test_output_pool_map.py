"""The report's pool map says how much of the variance its two PCA axes show, in a box when it is little."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from assay.graphs.state import CurationState
from assay.report.pool_map import PoolMap
from assay.report.write import write_report
from assay.session.session import Session
from tests.test_report import checked, sample, upsert_vectors


def map_box(page: str) -> tuple[str, str]:
    """The class and the text of the map's variance line."""
    found = re.search(r'<div id="map-explained" class="([^"]+)">([^<]*)</div>', page)
    assert found, "no variance line on the page"
    return found.group(1), found.group(2)


def test_little_explained_variance_is_said_in_a_box(session: Session, tmp_path: Path) -> None:
    pool = [sample(f"question {i}", f"answer {i}") for i in range(60)]
    # Isotropic 64-d vectors: no direction stands out, so two axes hold a few percent each.
    upsert_vectors(session, pool, np.random.default_rng(1).normal(size=(len(pool), 64)).astype(np.float32))
    page = write_report(session, CurationState(), tmp_path / "r.html").read_text(encoding="utf-8")
    kind, text = map_box(page)
    assert kind == "banner" and text.startswith("PCA: the two axes explain ")
    assert "most of how the samples differ is not on this map" in text and "need not be alike" in text
    checked(page)


def test_a_map_that_holds_most_of_the_variance_says_so_plainly(session: Session, tmp_path: Path) -> None:
    pool = [sample(f"question {i}", f"answer {i}") for i in range(40)]
    rng = np.random.default_rng(2)
    plane = np.zeros((len(pool), 32), dtype=np.float32)
    plane[:, :2] = rng.normal(size=(len(pool), 2)) * [10.0, 5.0]
    plane += rng.normal(scale=0.01, size=plane.shape).astype(np.float32)
    upsert_vectors(session, pool, plane)
    page = write_report(session, CurationState(), tmp_path / "r.html").read_text(encoding="utf-8")
    kind, text = map_box(page)
    assert kind == "note" and re.fullmatch(r"PCA: the two axes explain \d+% \+ \d+% of the variance\.", text)


def test_the_note_names_both_shares_and_their_sum() -> None:
    little = PoolMap(np.zeros((2, 2)), ["active"] * 2, ["a", "b"], 2, (0.031, 0.029))
    assert little.explains_little
    assert little.explained_note().startswith("PCA: the two axes explain 3% + 3% of the variance, 6% together")
