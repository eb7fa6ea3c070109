"""`assay select` as a user runs it, on a small scored file written here."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from assay.core.errors import AssayError
from assay.cli.select import parse_quotas
from assay.pipeline.select.files import SelectOptions, run_select
from tests.test_cli import assay

TOPICS = ["math", "arithmetic", "poetry", "history", "cooking"]


def scored_rows() -> list[dict]:
    """30 Alpaca records as `assay score` writes them: 3 dropped, 4 clusters, a judge score, tags."""
    rows = []
    for i in range(30):
        status = "dropped" if i in (0, 7, 19) else "active"
        rows.append({
            "instruction": f"Task {i}: write about {TOPICS[i % 5]}", "input": "", "output": f"Answer {i} " * (1 + i % 4),
            "_assay": {"id": f"id{i:02d}", "status": status, "reason": "refusal" if status == "dropped" else None,
                       "cluster": i % 4, "scores": {"judge_overall": round(1 + (i * 7 % 40) / 10, 1), "novelty": 0.5},
                       "tags": {"skills": [TOPICS[i % 5], TOPICS[(i + 2) % 5]]}},
        })
    return rows


@pytest.fixture
def scored_file(tmp_path: Path) -> Path:
    path = tmp_path / "pool.scored.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in scored_rows()))
    return path


def fake_embed(texts: list[str]) -> np.ndarray:
    """Deterministic vectors; "math" and "arithmetic" point almost the same way."""
    vectors = []
    for text in texts:
        rng = np.random.default_rng(zlib.crc32(("math" if text == "arithmetic" else text).encode()))
        vector = rng.standard_normal(16) + (0.05 if text == "arithmetic" else 0.0)
        vectors.append(vector / np.linalg.norm(vector))
    return np.asarray(vectors, dtype=np.float32)


def untagged(path: Path) -> Path:
    """The file as `assay score` writes it today: no tags (MIG then labels by cluster, no embedding needed)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        del row["_assay"]["tags"]
    bare = path.with_name("untagged.jsonl")
    bare.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return bare


def test_a_user_selects_with_mig_and_gets_ranked_records_in_their_format(scored_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "chosen.jsonl"
    done = assay("select", str(untagged(scored_file)), "--n", "6", "--method", "mig", "--out", str(out), home=tmp_path / "home")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    originals = {r["_assay"]["id"]: r for r in scored_rows()}
    assert len(rows) == 6
    assert [r["_assay"]["selection"]["rank"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["_assay"]["status"] == "selected" and r["_assay"]["selection"]["method"] == "mig" for r in rows)
    for row in rows:
        original = originals[row["_assay"]["id"]]
        assert original["_assay"]["status"] == "active"  # dropped records stay dropped
        assert {k: v for k, v in row.items() if k != "_assay"} == {k: v for k, v in original.items() if k != "_assay"}
    gains = [r["_assay"]["selection"]["gain"] for r in rows]
    assert gains == sorted(gains, reverse=True)
    assert sorted(r["_assay"]["cluster"] for r in rows[:4]) == [0, 1, 2, 3]  # every cluster before a second from any
    assert "mean judge_overall" in done.stdout and "used the 4 clusters as labels" in done.stdout


@pytest.mark.slow
def test_a_user_selects_with_deita_using_the_bundled_embedder(scored_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "chosen.jsonl"
    done = assay("select", str(scored_file), "--n", "5", "--method", "deita", "--out", str(out), home=tmp_path / "home")
    assert len(out.read_text().splitlines()) == 5 and "deita: 5 of 27 candidates" in done.stdout


def test_floor_quota_and_shortfall_are_reported(scored_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "chosen.json"
    done = assay("select", str(scored_file), "--n", "20", "--method", "random", "--out", str(out), "--min-score", "3",
                 "--quota", "cluster=3", home=tmp_path / "home")
    rows = json.loads(out.read_text())  # .json out: a JSON array
    assert all(r["_assay"]["scores"]["judge_overall"] >= 3 for r in rows)
    clusters = [r["_assay"]["cluster"] for r in rows]
    assert max(clusters.count(c) for c in set(clusters)) <= 3
    assert len(rows) < 20 and "warning: random: only" in done.stdout.replace("\n", " ")


def test_bad_options_fail_with_one_line(scored_file: Path, tmp_path: Path) -> None:
    done = assay("select", str(scored_file), "--n", "3", "--out", str(tmp_path / "o.jsonl"), "--quota", "cluster=none",
                 home=tmp_path / "home", check=False)
    assert done.returncode == 2 and "cluster=K or tag=K" in done.stderr and "Traceback" not in done.stderr
    done = assay("select", str(scored_file), "--n", "3", "--out", str(tmp_path / "o.jsonl"), "--score", "ifd",
                 home=tmp_path / "home", check=False)
    assert done.returncode == 2 and "no candidate has the score 'ifd'" in done.stderr


@pytest.mark.parametrize("method", ["deita", "kcenter"])
def test_embedding_methods_embed_the_candidates(scored_file: Path, tmp_path: Path, method: str) -> None:
    out = tmp_path / "o.jsonl"
    report = run_select(scored_file, out, SelectOptions(n=8, method=method), embed=fake_embed)
    assert report["written"] == 8 and report["candidates"] == 27
    assert report["figures"]["selection"]["size"] == 8 and report["score"] == "judge_overall"


def test_mig_links_near_synonym_tags_through_the_label_graph(scored_file: Path, tmp_path: Path) -> None:
    report = run_select(scored_file, tmp_path / "o.jsonl", SelectOptions(n=5, method="mig"), embed=fake_embed)
    assert "label graph: 5 tags, 1 edges at cosine ≥ 0.9" in report["notes"]
    assert report["figures"]["selection"]["tags"] == 5


def test_tag_quota_and_session_vectors(scored_file: Path, tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def stored(ids: list[str]) -> dict[str, np.ndarray]:
        seen.append(ids)
        return {}  # nothing stored: every vector is computed

    options = SelectOptions(n=10, method="deita", max_per_tag=4)
    report = run_select(scored_file, tmp_path / "o.jsonl", options, embed=fake_embed, session_vectors=stored)
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    counts = {t: sum(t in r["_assay"]["tags"]["skills"] for r in rows) for t in TOPICS}
    assert max(counts.values()) <= 4 and len(seen[0]) == 27
    assert any("0 from the session's store, 27 computed" in n for n in report["notes"])


def test_judge_output_and_unscored_files_are_read(tmp_path: Path) -> None:
    judged = tmp_path / "judged.jsonl"
    judged.write_text("".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}", "_assay": {"id": str(i), "judge": {
        "overall": i % 5 + 1, "scores": {"accuracy": 3}}}}) + "\n" for i in range(12)))
    report = run_select(judged, tmp_path / "o.jsonl", SelectOptions(n=3, method="deita", deita_threshold=1.0), embed=fake_embed)
    rows = [json.loads(line) for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    assert report["score"] == "judge_overall" and [r["_assay"]["judge"]["overall"] for r in rows] == [5, 5, 4]
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps({"instruction": f"q{i}", "output": f"a{i}"}) + "\n" for i in range(12)))
    report = run_select(plain, tmp_path / "p.jsonl", SelectOptions(n=4, method="kcenter"), embed=fake_embed)
    assert report["written"] == 4 and "not a scored file" in report["notes"][0]


def test_an_unknown_method_fails_before_any_work(scored_file: Path, tmp_path: Path) -> None:
    def never(texts: list[str]) -> np.ndarray:
        raise AssertionError("nothing should be embedded")

    with pytest.raises(AssayError, match="unknown method 'best'"):
        run_select(scored_file, tmp_path / "o.jsonl", SelectOptions(n=3, method="best"), embed=never)


def test_quota_parsing() -> None:
    assert parse_quotas(["cluster=3", "tag=2"]) == {"cluster": 3, "tag": 2}
    with pytest.raises(AssayError):
        parse_quotas(["cluster=0"])
