"""`assay compare` as a user runs it: two files, a session's seeds against its synthetic samples, JSON and table."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from assay.core.config import Config
from assay.core.records import Message, Origin, Sample
from assay.session.session import Session
from tests.conftest import EXAMPLES, fixed_runtime
from tests.test_cli import assay

FAST = ("--max-samples", "60", "--permutations", "50")


def arithmetic(n: int) -> list[dict]:
    """A set unlike the example pool: terse sums, each answered with a number."""
    return [{"instruction": f"Compute {i} + {2 * i + 7}.", "input": "", "output": str(3 * i + 7)} for i in range(n)]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path, Path, Path]:
    home = tmp_path_factory.mktemp("home")
    work = tmp_path_factory.mktemp("compare")
    lines = (EXAMPLES / "pool.jsonl").read_text().splitlines()
    random.Random(0).shuffle(lines)
    shuffled = work / "pool_shuffled.jsonl"
    shuffled.write_text("\n".join(lines) + "\n")
    sums = work / "sums.json"
    sums.write_text(json.dumps(arithmetic(60)))
    return home, work, shuffled, sums


def compare_json(*args: str, home: Path) -> dict:
    return json.loads(assay("compare", *args, "--json", *FAST, home=home).stdout)


def test_a_file_against_a_shuffled_copy_of_itself_comes_out_the_same(files) -> None:
    home, _, shuffled, _ = files
    result = compare_json(str(EXAMPLES / "pool.jsonl"), str(shuffled), home=home)
    assert result["a"]["n"] == result["b"]["n"] == 60 and result["a"]["total"] == result["b"]["total"]
    assert all(m["js"] == 0.0 for m in result["marginals"])
    emb = result["embedding"]
    assert emb["frechet"] == pytest.approx(0.0, abs=1e-5) and emb["mmd_p_value"] > 0.5
    assert emb["precision"] == emb["recall"] == 1.0
    assert result["diversity"]["a"] == result["diversity"]["b"]
    assert result["novelty"]["near_copy_share"] == 1.0
    assert emb["embedded"] == 60 and emb["cached"] == 60  # the copy's texts are the first file's: encoded once


def test_a_different_set_differs_on_every_layer(files) -> None:
    home, _, _, sums = files
    result = compare_json(str(EXAMPLES / "pool.jsonl"), str(sums), home=home)
    emb = result["embedding"]
    assert emb["mmd_p_value"] < 0.05 and emb["frechet"] > 0.2
    assert emb["recall"] < 0.2  # sums of numbers cover almost none of the pool's manifold
    by_name = {m["name"]: m for m in result["marginals"]}
    assert by_name["response words"]["js"] > 0.5 and by_name["response words"]["mean_b"] == 1.0
    assert result["novelty"]["near_copy_share"] == 0.0
    # Sums all look alike to the embedding model: their mean pairwise cosine is far above the pool's.
    assert result["diversity"]["b"]["mean_pairwise_cosine"] > result["diversity"]["a"]["mean_pairwise_cosine"] + 0.2


def test_the_table_names_each_layer_and_says_whether_the_sets_differ(files) -> None:
    home, work, _, sums = files
    page = work / "compare.html"
    out = assay("compare", str(EXAMPLES / "pool.jsonl"), str(sums), *FAST, "--report", str(page), home=home).stdout
    for heading in ("marginals", "dependencies", "embedding distribution", "diversity", "novelty of B against A",
                    "The sets differ", f"page: {page}"):
        assert heading in out
    html = page.read_text()
    assert "Synthetic against real" in html and html.count("<svg") == 7  # one plot per marginal


def synthetic(i: int, score: float) -> Sample:
    return Sample.create([Message(role="user", content=f"Rewrite step by step: compute {i} + {i + 3}."),
                          Message(role="assistant", content=f"First take {i}, then add {i + 3}: {2 * i + 3}.")],
                         op="synth", parent_ids=("x",), origin=Origin(format="alpaca"),
                         scores={"judge_overall": score})


def test_a_session_compares_its_seeds_with_its_synthetic_samples(files, tmp_path) -> None:
    home = files[0]
    seeds = [json.loads(line) for line in (EXAMPLES / "pool.jsonl").read_text().splitlines()[:30]]
    seed_samples = [Sample.create([Message(role="user", content=r["instruction"]),
                                   Message(role="assistant", content=r["output"])], origin=Origin(format="alpaca"),
                                  scores={"judge_overall": 4.0 + (i % 2)}) for i, r in enumerate(seeds)]
    session = Session.open(tmp_path / "s", fixed_runtime(), Config(), create=True)
    session.samples.insert(seed_samples + [synthetic(i, 2.0 + i % 3) for i in range(20)])
    session.close()
    result = compare_json(str(tmp_path / "s"), home=home)
    assert (result["a"]["label"], result["b"]["label"]) == ("seeds", "synthetic")
    assert (result["a"]["n"], result["b"]["n"]) == (len({s.id for s in seed_samples}), 20)
    assert result["judge"]["judged_b"] == 20 and result["judge"]["scores"]["mean_b"] == pytest.approx(2.95)
    assert [d["name"] for d in result["dependencies"]][1] == "response words → judge score"


def test_wrong_arguments_are_one_line_errors(files, tmp_path) -> None:
    home = files[0]
    done = assay("compare", str(EXAMPLES / "pool.jsonl"), home=home, check=False)
    assert done.returncode != 0 and "name two datasets" in done.stderr
    session = Session.open(tmp_path / "empty", fixed_runtime(), Config(), create=True)
    session.close()
    done = assay("compare", str(tmp_path / "empty"), home=home, check=False)
    assert done.returncode != 0 and "no synthetic samples" in done.stderr
    done = assay("compare", str(EXAMPLES / "pool.jsonl"), str(files[3]), "--report", str(tmp_path / "x.txt"),
                 home=home, check=False)
    assert done.returncode != 0 and "name it .html" in done.stderr


def test_an_expansion_is_compared_with_its_pool_and_a_seedless_one_is_not(tmp_path) -> None:
    import os

    from assay.pipeline.compare import expansion_comparison

    kept = [{**row, "_assay": {"id": str(i), "judge_overall": 4.0 + i % 2}} for i, row in enumerate(arithmetic(12))]
    out = tmp_path / "grown.jsonl"
    out.write_text("".join(json.dumps(row) + "\n" for row in kept))
    summary = {"written": 12, "seedless": False, "out": str(out), "pool": str(EXAMPLES / "pool.jsonl"),
               "session": str(tmp_path / "unused")}
    runtime = fixed_runtime({"ASSAY_HOME": os.environ["ASSAY_HOME"]})
    result = expansion_comparison(summary, runtime=runtime, store=Config().store, session_given=False, max_samples=30)
    assert (result["a"]["label"], result["b"]["label"], result["b"]["n"]) == ("pool", "kept", 12)
    assert result["judge"]["judged_b"] == 12 and result["judge"]["judged_a"] == 0  # the scores assay wrote in _assay
    assert expansion_comparison({**summary, "seedless": True}, runtime=runtime, store=Config().store,
                                session_given=False) is None
    assert expansion_comparison({**summary, "written": 1}, runtime=runtime, store=Config().store,
                                session_given=False) is None
