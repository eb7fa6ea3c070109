"""The recipe's dedup controls: MinHash's LSH bands, and which dedup methods run (`--dedup` overrides)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from assay.core.recipe_screen import ScreenSettings
from assay.pipeline.screen.scoring import ScoreOptions, build_stages
from assay.tools.dedup import Dedup, MinHashFinder, dedup
from tests.test_cli import assay
from tests.test_dedup_scale import edited, sample, text


def near_copies() -> list:
    """Twenty originals, each with three edited copies (shingle Jaccard about 0.75-0.9 to it)."""
    rng = random.Random(3)
    pool = []
    for _ in range(20):
        original = sample(text(rng, 14), text(rng, 70))
        pool += [original, *(edited(original, rng, 6) for _ in range(3))]
    return pool


def test_bands_set_the_lsh_banding_and_change_the_candidates() -> None:
    pool = near_copies()
    assert (MinHashFinder(pool[:4], bands=16).index.b, MinHashFinder(pool[:4], bands=16).index.r) == (16, 8)
    derived = MinHashFinder(pool[:4])  # unset: from the threshold, weighted for recall, as before
    assert (derived.index.b, derived.index.r) != (16, 8)
    default = sum(not a.keep for a in dedup(pool, ("minhash",)).assessments)
    # Two bands of 64 rows: only texts with nearly the same signature are proposed.
    two_bands = sum(not a.keep for a in dedup(pool, ("minhash",), bands=2).assessments)
    assert default == 60 and two_bands < default / 2
    with pytest.raises(ValueError, match="bands = 3 must be 2 or more and divide num_perm = 128"):
        MinHashFinder(pool[:4], bands=3)


def test_the_recipes_bands_reach_the_dedup_stage() -> None:
    screen = ScreenSettings.model_validate({"minhash": {"bands": 2}})
    (stage,) = [s for s in build_stages(ScoreOptions(heuristics=False, embed=False, screen=screen), None)
                if s.name == "dedup"]
    assert isinstance(stage.run, Dedup) and stage.run.options["bands"] == 2
    pool = near_copies()
    assert sum(not a.keep for a in stage.run(pool)) < sum(not a.keep for a in Dedup(("exact", "minhash"))(pool))


def test_bands_must_divide_the_permutations(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="bands = 30 must divide permutations = 128"):
        ScreenSettings.model_validate({"minhash": {"bands": 30}})
    assert ScreenSettings.model_validate({"minhash": {"bands": 30, "permutations": 120}}).minhash.bands == 30
    bad = assay("recipe", "show", "--set", "screen.minhash.bands=30", home=tmp_path, check=False)
    assert bad.returncode == 2 and "screen.minhash: Value error, bands = 30 must divide permutations" in bad.stderr
    shown = assay("recipe", "show", "--set", "screen.minhash.bands=16", home=tmp_path).stdout
    assert "\nbands = 16\n" in shown
    assert "# bands = (unset)" in assay("recipe", "show", home=tmp_path).stdout


def test_methods_must_be_known_and_named_once() -> None:
    with pytest.raises(ValidationError, match="names a method twice"):
        ScreenSettings.model_validate({"dedup": {"methods": ["exact", "exact"]}})
    with pytest.raises(ValidationError, match="'exact', 'minhash' or 'semantic'"):
        ScreenSettings.model_validate({"dedup": {"methods": ["fuzzy"]}})


def _score(tmp_path: Path, name: str, *args: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """`assay score --no-embed` of the pool; each record's status (and reason) by instruction."""
    out = tmp_path / f"{name}.jsonl"
    full = {**os.environ, "ASSAY_HOME": str(tmp_path / "home"), **(env or {})}
    done = subprocess.run([sys.executable, "-m", "assay", "score", str(tmp_path / "pool.jsonl"), "--no-embed",
                           "--out", str(out), *args], capture_output=True, text=True, env=full, timeout=600)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return {r["instruction"]: f"{r['_assay']['status']} {r['_assay']['reason'] or ''}".strip() for r in rows}


def test_the_recipe_chooses_the_dedup_methods_and_the_flag_overrides_it(tmp_path: Path) -> None:
    answer = ("Photosynthesis turns light, water and carbon dioxide into sugar and oxygen inside the chloroplasts "
              "of green plants, which store the energy of sunlight as chemical energy for the plant to use later.")
    records = [{"instruction": "Explain photosynthesis in two sentences.", "input": "", "output": answer},
               {"instruction": "EXPLAIN PHOTOSYNTHESIS IN TWO SENTENCES.", "input": "", "output": answer.upper()},
               {"instruction": "Name three rivers in Europe.", "input": "",
                "output": "The Danube, the Rhine and the Loire."}]
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    copy = records[1]["instruction"]
    recipe = tmp_path / "none.toml"
    recipe.write_text("[screen.dedup]\nmethods = []\n")
    assert _score(tmp_path, "default")[copy].startswith("dropped duplicate_of:")
    assert _score(tmp_path, "recipe", "--recipe", str(recipe))[copy] == "active"
    flagged = _score(tmp_path, "flag", "--recipe", str(recipe), "--dedup", "exact")
    assert flagged[copy].startswith("dropped duplicate_of:")
    env = {"ASSAY_SCREEN__DEDUP__METHODS": '["exact"]'}
    assert _score(tmp_path, "env", "--recipe", str(recipe), env=env)[copy].startswith("dropped duplicate_of:")
    assert _score(tmp_path, "off", "--dedup", "none", env=env)[copy] == "active"
