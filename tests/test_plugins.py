"""Plugins: the example package under examples/ installed for real (pip, no network), named in a
recipe, and run by `assay score`, `assay select` and `assay run` like the built-in tools."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assay.core.config import PluginSettings
from assay.core.errors import AssayError
from assay.core.formats import detect_format, record_to_sample
from tests.conftest import EXAMPLES

EXAMPLE = EXAMPLES / "assay-plugin-example"
QUICKSTART = EXAMPLES / "quickstart.jsonl"
RECIPE = """
[plugins]
filters = ["blocklist"]
scorers = ["lexical_diversity"]

[plugins.settings.blocklist]
words = ["SQL", "rainbow"]
"""
# A second package, written as pip would install it (module + dist-info with entry points):
# plugins that fail, for the failure paths the example package has no reason to show.
BROKEN_MODULE = '''
from assay.core.assessment import KEEP

class Explodes:
    def __call__(self, batch):
        if any("SQL" in s.text() for s in batch):
            raise RuntimeError("cannot read SQL")
        return [KEEP for _ in batch]

class WrongShape:
    def __call__(self, batch):
        return [0.5 for _ in batch]

class Greedy:
    def __init__(self, twice=False):
        self.twice = twice
    def __call__(self, pool, n, admission, *, seed):
        return [0, 0] if self.twice else list(range(pool.size))[:n]
'''
BROKEN_ENTRY_POINTS = """[assay.filters]
explodes = broken_plugins:Explodes

[assay.scorers]
wrong_shape = broken_plugins:WrongShape

[assay.selectors]
greedy = broken_plugins:Greedy
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder the example package is pip-installed into (built from a copy: the checkout stays clean)."""
    work = tmp_path_factory.mktemp("plugins")
    source = work / "assay-plugin-example"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = work / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--quiet", "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (target / "broken_plugins.py").write_text(BROKEN_MODULE)
    info = target / "broken_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(BROKEN_ENTRY_POINTS)
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    for name in [m for m in sys.modules if m.startswith(("assay_plugin_example", "broken_plugins"))]:
        del sys.modules[name]


def assay(site: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, with the plugin packages importable."""
    env = {**os.environ, "ASSAY_HOME": str(home), "COLUMNS": "200", "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def scored(site: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    work = tmp_path_factory.mktemp("scored")
    recipe = work / "recipe.toml"
    recipe.write_text(RECIPE)
    out = work / "scored.jsonl"
    done = assay(site, work / "home", "score", str(QUICKSTART), "--no-embed", "--recipe", str(recipe), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out, recipe, work


def quickstart_samples() -> list:
    records = [json.loads(line) for line in QUICKSTART.read_text().splitlines()]
    return [record_to_sample(r, detect_format(r), source="q") for r in records]


def test_the_example_filter_drops_and_the_scorer_scores_in_assay_score(scored) -> None:
    out, _, _ = scored
    rows = [json.loads(line)["_assay"] for line in out.read_text().splitlines()]
    texts = QUICKSTART.read_text().splitlines()
    blocked = {i: r["reason"] for i, r in enumerate(rows) if (r["reason"] or "").startswith("blocked_word:")}
    assert blocked == {2: "blocked_word:rainbow", 7: "blocked_word:sql"}
    assert "rainbow" in texts[2] and "SQL" in texts[7]
    assert all(r["status"] == "dropped" and "blocked word" in r["detail"] for i, r in enumerate(rows) if i in blocked)
    kept = [r for r in rows if r["status"] == "active"]
    assert kept and all(0 < r["scores"]["lexical_diversity"] <= 1 for r in kept)
    # The built-in heuristics still run first and keep their reasons.
    assert sorted(r["reason"] for r in rows if r["status"] == "dropped" and r["reason"] not in blocked.values()) == ["refusal", "truncated"]


def test_an_unknown_plugin_is_one_line_naming_the_installed_ones(site: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text('[plugins]\nfilters = ["blocklst"]\n')
    done = assay(site, tmp_path / "home", "score", str(QUICKSTART), "--no-embed", "--recipe", str(recipe),
                 "--out", str(tmp_path / "o.jsonl"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: unknown filter plugin 'blocklst': installed filter plugins are blocklist, explodes "
        "(entry point group assay.filters)"]
    assert not (tmp_path / "o.jsonl").exists()


def test_settings_a_plugin_refuses_are_one_line_before_any_work(site: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text('[plugins]\nfilters = ["blocklist"]\n[plugins.settings.blocklist]\nwordz = ["x"]\n')
    done = assay(site, tmp_path / "home", "score", str(QUICKSTART), "--no-embed", "--recipe", str(recipe),
                 "--out", str(tmp_path / "o.jsonl"))
    assert done.returncode == 2
    assert "filter plugin 'blocklist' refused its settings [plugins.settings.blocklist]" in done.stderr
    assert "wordz" in done.stderr and not (tmp_path / "o.jsonl").exists()


def test_a_filter_that_raises_drops_only_the_samples_it_fails_on_with_the_error(site: Path) -> None:
    from assay.pipeline.plugins import screen_stages
    from assay.tools.screen import run_stages

    samples = quickstart_samples()
    result = run_stages(samples, screen_stages(PluginSettings(filters=["explodes"])))
    failed = {s.id for s in samples if "SQL" in s.text()}
    assert len(failed) == 1
    for sample in samples:
        outcome = result.outcomes[sample.id]
        if sample.id in failed:
            assert (outcome.keep, outcome.reason, outcome.detail) == (False, "plugin_error:explodes", "RuntimeError: cannot read SQL")
            assert result.dropped_by[sample.id] == "filter:explodes"
        else:
            assert outcome.keep


def test_a_scorer_answering_in_the_wrong_shape_is_a_recorded_plugin_error(site: Path) -> None:
    from assay.pipeline.plugins import screen_stages
    from assay.tools.screen import run_stages

    samples = quickstart_samples()[:3]
    result = run_stages(samples, screen_stages(PluginSettings(scorers=["wrong_shape"])))
    assert {o.reason for o in result.outcomes.values()} == {"plugin_error:wrong_shape"}
    assert all("mapping of score name to number" in o.detail for o in result.outcomes.values())


@pytest.mark.slow  # storing the samples embeds them: about 25 s on CPU with a cold model
def test_plugin_drops_are_decisions_in_the_session_trace(site: Path, session) -> None:
    from assay.pipeline.plugins import screen_stages
    from assay.pipeline.screen.record import apply_screen
    from assay.tools.screen import run_stages

    settings = PluginSettings(filters=["blocklist"], settings={"blocklist": {"words": ["rainbow"]}})
    result = run_stages(quickstart_samples(), screen_stages(settings))
    apply_screen(session, result, {})
    rows = session.conn.execute("SELECT agent, action, reason FROM decisions").fetchall()
    assert [tuple(r) for r in rows] == [("filter:blocklist", "drop", "blocked_word:rainbow")]


def test_assay_select_runs_a_selector_plugin_with_its_recipe_settings(site: Path, scored) -> None:
    out, recipe, work = scored
    picked = work / "picked.jsonl"
    recipe.write_text(RECIPE + "\n[plugins.settings.round_robin]\nper_turn = 2\n")
    done = assay(site, work / "home", "select", str(out), "-n", "3", "--method", "round_robin",
                 "--score", "lexical_diversity", "--recipe", str(recipe), "--out", str(picked))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line)["_assay"] for line in picked.read_text().splitlines()]
    active = sorted((r["scores"]["lexical_diversity"] for r in (json.loads(line)["_assay"] for line in out.read_text().splitlines())
                     if r["status"] == "active"), reverse=True)
    # No clusters in a --no-embed file: round robin over one cluster is best score first.
    assert [r["scores"]["lexical_diversity"] for r in rows] == active[:3]
    assert all(r["selection"]["method"] == "round_robin" for r in rows)
    recipe.write_text(RECIPE + "\n[plugins.settings.round_robin]\nper_turn = 0\n")
    refused = assay(site, work / "home", "select", str(out), "-n", "3", "--method", "round_robin",
                    "--recipe", str(recipe), "--out", str(work / "x.jsonl"))
    assert refused.returncode == 2 and "per_turn must be ≥ 1" in refused.stderr


def test_an_unknown_selector_lists_the_built_in_and_installed_ones(site: Path, scored) -> None:
    from assay.pipeline.deps import RunOptions

    out, _, work = scored
    done = assay(site, work / "home", "select", str(out), "-n", "3", "--method", "nope", "--out", str(work / "x.jsonl"))
    assert done.returncode == 2
    assert "'nope' is not one of mig, deita, kcenter, random, greedy, round_robin" in done.stderr
    assert RunOptions(selection="round_robin").selection == "round_robin"
    with pytest.raises(ValueError, match="'nope' is not one of mig, deita, kcenter, random, greedy, round_robin"):
        RunOptions(selection="nope")


def test_a_selector_breaking_the_shared_rules_is_refused_naming_it(site: Path) -> None:
    from assay.pipeline.plugins import load_selector
    from assay.tools.selection.base import Constraints, Pool

    pool = Pool(size=4, quality=np.array([1.0, 5.0, 2.0, 4.0]))
    twice = load_selector("greedy", PluginSettings(settings={"greedy": {"twice": True}}))
    with pytest.raises(AssayError, match="selector plugin 'greedy' failed: .*picked candidate 0 at rank 2: picked twice"):
        twice.select(pool, 2)
    greedy = load_selector("greedy", PluginSettings())
    with pytest.raises(AssayError, match="candidate 0 at rank 1: refused by the quality floor"):
        greedy.select(pool, 2, constraints=Constraints(min_quality=3.0))
    assert greedy.select(pool, 2).indices.tolist() == [0, 1]


@pytest.mark.slow
def test_assay_run_screens_with_plugin_filters_and_selects_with_a_plugin(site: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE)
    out = tmp_path / "session"
    done = assay(site, tmp_path / "home", "run", str(QUICKSTART), "--out", str(out), "--dry-run", "--target-size", "5",
                 "--select", "round_robin", "--recipe", str(recipe), "--max-rounds", "1")
    assert done.returncode == 0, done.stderr
    rejected = [json.loads(line)["_assay"]["reason"] for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert {"blocked_word:rainbow", "blocked_word:sql"} <= set(rejected)
    assert "not_selected:round_robin" in rejected
    assert len((out / "curated.jsonl").read_text().splitlines()) == 5


def _words(record: dict) -> int:
    return len(str(record.get("output", "")).split())


def test_a_judge_plugin_replaces_the_built_in_judge_in_assay_judge(site: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text('[plugins]\njudge = "strict"\n\n[plugins.settings.strict]\nmin_words = 30\n')
    out = tmp_path / "judged.jsonl"
    done = assay(site, tmp_path / "home", "judge", str(QUICKSTART), "--dry-run", "--recipe", str(recipe), "--out", str(out))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    verdicts = [(row, row["_assay"]["judge"]) for row in rows if row["_assay"].get("judge")]
    assert verdicts
    short = [v["overall"] for row, v in verdicts if _words(row) < 30]
    assert short and all(overall <= 2 for overall in short)
    # The built-in judge's scores stand for the long ones (the dry-run model scores some short ones above 2).
    assert any(v["overall"] > 2 for row, v in verdicts if _words(row) >= 30)


def test_an_unknown_judge_plugin_is_one_line_before_any_work(site: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "r.toml"
    recipe.write_text('[plugins]\njudge = "lenient"\n')
    out = tmp_path / "judged.jsonl"
    done = assay(site, tmp_path / "home", "judge", str(QUICKSTART), "--dry-run", "--recipe", str(recipe), "--out", str(out))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: unknown judge plugin 'lenient': installed judge plugins are strict (entry point group assay.judges)"]
    assert not out.exists()


def test_judge_function_is_the_built_in_judge_by_default() -> None:
    from assay.agents.judge import judge_sample
    from assay.pipeline.plugins import judge_function

    assert judge_function(PluginSettings()) is judge_sample
