"""The recipe's [screen] section: every filter's switch and threshold, from the file to the tools.

The default recipe builds the very tool settings the tools default to; a recipe that changes
every threshold round-trips through `assay recipe show` and reaches the tools; an unknown key
anywhere is an error naming the key and the file.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from assay.core.config import Config
from assay.core.config_sources import load_config
from assay.core.errors import ConfigError
from assay.core.recipe import given_settings
from assay.core.recipe_screen import ScreenSettings
from assay.tools.code_screen import CodeConfig, CodeScreen
from assay.core.recipe_toml import recipe_toml
from assay.pipeline.screen.candidates import CandidateScreen
from assay.pipeline.screen.scoring import (HEURISTIC_FIELDS, ScoreOptions, VectorCache, build_stages, decontam_options,
                                           dedup_options, heuristic_screen)
from assay.tools.decontam import Decontaminator
from assay.tools.dedup import Dedup, dedup
from assay.tools.heuristics import FILTERS, HeuristicConfig, HeuristicScreen
from tests.conftest import EXAMPLES
from tests.test_cli import assay


def _defaults(function: Any, names: list[str]) -> dict[str, Any]:
    parameters = inspect.signature(function).parameters
    return {name: parameters[name].default for name in names}


def test_the_default_recipe_builds_the_tools_own_default_settings() -> None:
    screen = ScreenSettings()
    heuristics = heuristic_screen(screen.heuristics)
    assert heuristics.config == HeuristicConfig()
    assert [name for name, _ in heuristics.filters] == [name for name, _ in HeuristicScreen().filters] == list(FILTERS)
    options = dedup_options(screen)
    assert options == _defaults(dedup, list(options))
    options = decontam_options(screen.decontam, vectors=None)
    assert options == _defaults(Decontaminator.__init__, list(options))


def test_every_heuristic_threshold_and_filter_is_in_the_recipe() -> None:
    assert set(HEURISTIC_FIELDS.values()) == {f.name for f in fields(HeuristicConfig)}
    assert list(ScreenSettings().heuristics.enabled()) == list(FILTERS)


def _leaves(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in data.items():
        found.update(_leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value})
    return found


def _changed(value: Any, key: str) -> Any:
    """A valid value other than the default, for every kind of screen setting."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return round(value / 2 + 0.05, 4)
    if key == "minhash.bands":
        return 3  # unset by default; 3 divides the changed permutations (129)
    if key == "dedup.methods":
        return ["minhash", "exact"]  # unset by default: each command's own
    if key == "code.languages":
        return ["sql", "python"]  # every checked language by default
    assert key.endswith("embed_side"), key
    return "text"


def _changed_screen() -> dict[str, Any]:
    data = ScreenSettings().model_dump(mode="json")

    def walk(node: dict[str, Any], path: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{path}{key}.")
            else:
                node[key] = _changed(value, path + key)

    walk(data, "")
    # Filters switched off are not built: keep two on, so their thresholds can be checked at the tool.
    data["heuristics"]["repetition"]["enabled"] = data["heuristics"]["wrong_language"]["enabled"] = True
    data["code"]["enabled"] = True
    return data


def test_a_recipe_changing_every_threshold_round_trips_through_show_and_reaches_the_tools(tmp_path: Path) -> None:
    changed = Config.model_validate({"screen": _changed_screen(), "models": {"judge": "openai/gpt-4o-mini"},
                                     "plugins": {"settings": {"my-filter": {"words": 3, "names": ["a", "b"]}}}})
    default_leaves, changed_leaves = _leaves(ScreenSettings().model_dump()), _leaves(changed.screen.model_dump())
    same = [key for key, value in changed_leaves.items() if value == default_leaves[key] and not key.endswith("enabled")]
    assert not same, same  # every threshold differs from its default
    text = recipe_toml(changed)
    path = tmp_path / "changed.toml"
    path.write_text(text)
    loaded = load_config(path)
    assert loaded == changed and recipe_toml(loaded) == text
    shown = assay("recipe", "show", "--recipe", str(path), home=tmp_path / "home").stdout
    assert shown == text

    screen = loaded.screen
    vectors = VectorCache([], np.zeros((0, 0), dtype=np.float32), lambda texts: np.zeros((len(texts), 4)))
    stages = {stage.name: stage.run for stage in build_stages(ScoreOptions(
        dedup=("exact", "minhash", "semantic"), decontam=(EXAMPLES / "benchmark.jsonl",), screen=screen), vectors)}
    heuristics = stages["heuristics"]
    assert isinstance(heuristics, HeuristicScreen)
    assert [name for name, _ in heuristics.filters] == ["repetition", "wrong_language"]
    for (check, key), name in HEURISTIC_FIELDS.items():
        assert getattr(heuristics.config, name) == getattr(getattr(screen.heuristics, check), key), name
    found = stages["dedup"]
    assert isinstance(found, Dedup)
    assert found.options["minhash_threshold"] == screen.minhash.threshold == 0.45
    assert (found.options["num_perm"], found.options["shingle_size"], found.options["bands"]) == (129, 4, 3)
    assert found.options["edited"] is found.options["task"] is found.options["semantic_task"] is None  # switched off
    assert (found.options["semantic_threshold"], found.options["neighbours"]) == (0.525, 11)
    decontam = stages["decontam"]
    assert isinstance(decontam, Decontaminator)
    assert (decontam.index.n, decontam.min_shared, decontam.min_coverage) == (14, 2, 0.05)
    assert (decontam.cosine_threshold, decontam.embed_side) == (0.5, "text")
    code = stages["code"]
    assert isinstance(code, CodeScreen)
    assert code.config == CodeConfig(languages=frozenset({"sql", "python"}), execute=True, timeout=2.55, memory_mb=513)


def test_the_dedup_rules_take_the_recipe_thresholds() -> None:
    screen = ScreenSettings.model_validate({"minhash": {"instruction_threshold": 0.7, "context_words": 30,
                                                        "edited_floor": 0.65},
                                            "semantic": {"response_threshold": 0.85}})
    options = dedup_options(screen)
    assert (options["task"].instruction_threshold, options["task"].context_words) == (0.7, 30)
    assert options["edited"].edited_floor == 0.65 and options["semantic_task"].response_threshold == 0.85


def test_the_expansion_screen_uses_the_recipe_too() -> None:
    screen = ScreenSettings.model_validate(_changed_screen())
    candidates = CandidateScreen(screen=screen, decontam=[EXAMPLES / "benchmark.jsonl"])
    assert candidates.dedup_options == dedup_options(screen)
    stages = {stage.name: stage.run for stage in candidates.stages}
    assert stages["heuristics"].config.repetition_max_ratio == screen.heuristics.repetition.max_ratio
    assert stages["decontam"].index.n == screen.decontam.ngram


def _tables(model: type[BaseModel], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found += _tables(field.annotation, (*path, name))
    return found


@pytest.mark.parametrize("table", _tables(Config), ids=lambda t: ".".join(t) or "top")
def test_an_unknown_key_in_any_table_names_the_key_and_the_file(tmp_path: Path, table: tuple[str, ...]) -> None:
    path = tmp_path / "typo.toml"
    path.write_text((f"[{'.'.join(table)}]\n" if table else "") + "not_a_key = 1\n")
    key = ".".join((*table, "not_a_key"))
    with pytest.raises(ConfigError, match=rf"recipe {path}: {key}: .*unknown key"):
        load_config(path)


def test_an_unknown_environment_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"ASSAY_SCREEN__MINHASH__TRESHOLD.*unknown key; \[screen.minhash\] has: threshold"):
        load_config(env={"ASSAY_SCREEN__MINHASH__TRESHOLD": "0.9"})


def test_deep_settings_are_given_key_by_key() -> None:
    config = load_config(env={"ASSAY_SCREEN__HEURISTICS__REPETITION__MAX_RATIO": "0.5"})
    assert config.screen.heuristics.repetition.max_ratio == 0.5
    # A command with its own threshold overrides that key of a session's recipe, not the whole section.
    assert given_settings(config) == {"screen.heuristics.repetition.max_ratio": 0.5}


def test_decontam_without_any_method_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"screen.decontam.ngram = 0 .*--no-embed"):
        build_stages(ScoreOptions(decontam=(EXAMPLES / "benchmark.jsonl",),
                                  screen=ScreenSettings.model_validate({"decontam": {"ngram": 0}})), None)


def _verdicts(out: Path) -> dict[str, tuple[str, str | None]]:
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return {r["instruction"]: (r["_assay"]["status"], r["_assay"]["reason"]) for r in rows}


def test_init_then_an_edited_threshold_changes_the_drops_of_assay_score(tmp_path: Path) -> None:
    home = tmp_path / "home"
    recipe = tmp_path / "r.toml"
    assay("recipe", "init", str(recipe), home=home)
    assert load_config(recipe) == Config()  # the starter file is the defaults, written out
    assert "max_ratio = 0.6  # share of duplicate 3-grams" in recipe.read_text()
    refused = assay("recipe", "init", str(recipe), home=home, check=False)
    assert refused.returncode == 2 and "exists; pass --force" in refused.stderr
    text = recipe.read_text().replace("max_ratio = 0.6", "max_ratio = 0.02")
    text = text.replace("[screen.heuristics.refusal]\nenabled = true", "[screen.heuristics.refusal]\nenabled = false")
    recipe.write_text(text)
    common = ("score", str(EXAMPLES / "quickstart.jsonl"), "--no-embed", "--dedup", "none")
    assay(*common, "--out", str(tmp_path / "default.jsonl"), home=home)
    assay(*common, "--out", str(tmp_path / "tuned.jsonl"), "--recipe", str(recipe), home=home)
    before, after = _verdicts(tmp_path / "default.jsonl"), _verdicts(tmp_path / "tuned.jsonl")
    chicken = "What is the safe internal temperature for cooked chicken?"  # 2.6 % of its word 3-grams repeat
    banana = "Give me a recipe for banana bread."  # a refusal
    assert before[chicken] == ("active", None) and after[chicken] == ("dropped", "repetition")
    assert before[banana] == ("dropped", "refusal") and after[banana] == ("active", None)
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {chicken, banana}
    assay("recipe", "init", str(recipe), "--force", home=home)
    assert load_config(recipe) == Config()


def test_show_applies_the_environment_and_set_flags(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "ASSAY_HOME": str(tmp_path), "ASSAY_SCREEN__MINHASH__THRESHOLD": "0.85"}
    shown = subprocess.run([sys.executable, "-m", "assay", "recipe", "show", "--set", "screen.semantic.threshold=0.9",
                            "--set", "models.judge=openai/gpt-4o"], capture_output=True, text=True, env=env, check=True)
    assert "[screen.minhash]\nthreshold = 0.85\n" in shown.stdout
    assert "[screen.semantic]\nthreshold = 0.9\n" in shown.stdout and 'judge = "openai/gpt-4o"' in shown.stdout
    bad = assay("recipe", "show", "--set", "screen.minhash.buckets=4", home=tmp_path, check=False)
    assert bad.returncode == 2 and "command-line flags: screen.minhash.buckets" in bad.stderr


def test_the_run_screens_its_pool_with_the_session_recipe(tmp_path: Path, runtime: Any) -> None:
    from types import SimpleNamespace

    from assay.core.records import Status
    from assay.pipeline.deps import RunOptions
    from assay.pipeline.engine.session_screen import screen_round
    from assay.pipeline.screen.pool import ingest_inputs
    from assay.session.session import Session

    config = Config.model_validate({"screen": {"heuristics": {"repetition": {"max_ratio": 0.02},
                                                              "refusal": {"enabled": False}}}})
    session = Session.open(tmp_path / "session", runtime, config, create=True)
    try:
        deps = SimpleNamespace(session=session, options=RunOptions(inputs=[str(EXAMPLES / "quickstart.jsonl")]),
                               emit=lambda kind, data: None)
        ingest_inputs(deps)
        screen_round(deps, 0, [])
        verdicts = {s.instruction: (s.status, s.reason) for s in session.samples.iter()}
    finally:
        session.close()
    assert verdicts["What is the safe internal temperature for cooked chicken?"] == (Status.DROPPED, "repetition")
    assert verdicts["Give me a recipe for banana bread."][0] == Status.ACTIVE
