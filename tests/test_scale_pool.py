"""The synthetic scale pool (evals/scale_pool.py): deterministic, streamed, with its stated duplicate rate."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evals"))
import scale_pool  # noqa: E402

pytestmark = pytest.mark.skipif(not (scale_pool.DATA / scale_pool.SOURCES[0]).exists(), reason="needs ../shared/data/alpaca")


def test_same_seed_same_file_other_seed_other_file(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    scale_pool.write_pool(first, 3000, 0.2, seed=1)
    scale_pool.write_pool(second, 3000, 0.2, seed=1)
    scale_pool.write_pool(other, 3000, 0.2, seed=2)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()


def test_rows_are_alpaca_records_with_about_the_stated_share_of_copies(tmp_path: Path) -> None:
    path = tmp_path / "pool.jsonl"
    stats = scale_pool.write_pool(path, 20_000, 0.3, seed=0)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == stats.rows == 20_000
    assert all(set(row) == {"instruction", "input", "output"} and row["instruction"] and row["output"] for row in rows)
    copies = stats.exact_copies + stats.edited_copies
    assert stats.originals + copies == 20_000
    assert 0.25 < copies / 20_000 < 0.35
    assert stats.largest_cluster >= 20  # heavy-tailed cluster sizes
    repeats = sum(n - 1 for n in Counter(json.dumps(r, sort_keys=True) for r in rows).values())
    assert stats.exact_copies <= repeats < copies  # exact copies repeat; most edited ones do not


def test_without_planted_copies_near_duplicates_are_rare(tmp_path: Path) -> None:
    path = tmp_path / "pool.jsonl"
    scale_pool.write_pool(path, 5000, 0.0, seed=0)
    outputs = Counter(json.loads(line)["output"] for line in path.read_text(encoding="utf-8").splitlines())
    assert sum(n - 1 for n in outputs.values()) < 50  # recombined responses seldom coincide


def test_memory_is_the_window_not_the_pool() -> None:
    stats = scale_pool.PoolStats()
    rows = scale_pool.rows(200_000, 0.2, 0, stats, scale_pool.load_sources())
    for _ in range(scale_pool.WINDOW + 10):
        next(rows)
    generated = stats.originals + stats.exact_copies + stats.edited_copies
    assert generated <= 2 * scale_pool.WINDOW + 10 + scale_pool.MAX_COPIES  # one window ahead, not the whole pool


def test_sizes_read_as_people_write_them() -> None:
    assert [scale_pool.parse_size(s) for s in ("10k", "100K", "1M", "2500")] == [10_000, 100_000, 1_000_000, 2500]


def test_originals_stay_distinct_when_the_pool_outgrows_its_sources() -> None:
    """Ten originals per source record (a 1M pool has ~125): v1 made them near-duplicate siblings, v2 must not."""
    from assay.core.formats import record_to_sample
    from assay.core.recipe_screen import ScreenSettings
    from assay.pipeline.screen.scoring import dedup_options
    from assay.tools.dedup import dedup

    sources = scale_pool.load_sources()[::20]  # 400 records
    records = list(scale_pool.rows(4000, 0.0, 0, scale_pool.PoolStats(), sources))
    samples = [record_to_sample(r, "alpaca", source="test") for r in records]
    result = dedup(samples, ("exact", "minhash"), **dedup_options(ScreenSettings()))
    dropped = sum(not a.keep for a in result.assessments)
    assert dropped <= 4000 * 0.002  # near-duplicates only by chance, none planted


def test_planted_copies_are_what_dedup_drops(tmp_path: Path) -> None:
    """The realised duplicate share of a pool is its planted share: exact and edited copies, no more."""
    from assay.core.formats import record_to_sample
    from assay.core.recipe_screen import ScreenSettings
    from assay.pipeline.screen.scoring import dedup_options
    from assay.tools.dedup import dedup

    stats = scale_pool.PoolStats()
    records = list(scale_pool.rows(3000, 0.2, 3, stats, scale_pool.load_sources()[::10]))
    samples = [record_to_sample(r, "alpaca", source="test") for r in records]
    result = dedup(samples, ("exact", "minhash"), **dedup_options(ScreenSettings()))
    dropped = sum(not a.keep for a in result.assessments)
    planted = stats.exact_copies + stats.edited_copies
    assert planted - 0.01 * 3000 <= dropped <= planted + 0.01 * 3000


def test_word_counts_stay_close_to_the_sources() -> None:
    sources = scale_pool.load_sources()
    records = list(scale_pool.rows(4000, 0.0, 0, scale_pool.PoolStats(), sources))
    for name, low, high in (("instruction", 1.0, 1.4), ("output", 0.85, 1.15)):
        ours = sum(len(r[name].split()) for r in records) / len(records)
        theirs = sum(len(r[name].split()) for r in sources) / len(sources)
        assert low <= ours / theirs <= high, (name, ours, theirs)
