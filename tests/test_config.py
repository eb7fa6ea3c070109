"""Config: recipe file, environment and flags, flags winning; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.core.config import load_config
from assay.core.errors import ConfigError

RECIPE = """
[targets]
size = 2000
min_mean_quality = 4.0
topics = ["sql", "python"]

[budget]
max_usd = 10
max_calls = 500

[models]
default = "openai/gpt-4o-mini"
judge = "anthropic/claude-sonnet-4-5"
"""


def recipe(tmp_path: Path, text: str = RECIPE) -> Path:
    path = tmp_path / "assay.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    config = load_config()
    assert config.targets.size is None and config.budget.max_rounds == 5 and config.models.default is None
    assert config.targets.zero_contamination and config.llm.concurrency == 8


def test_recipe_values_and_role_models(tmp_path: Path) -> None:
    config = load_config(recipe(tmp_path))
    assert config.targets.size == 2000 and config.targets.topics == ["sql", "python"]
    assert config.models.for_role("judge") == "anthropic/claude-sonnet-4-5"
    assert config.models.for_role("rewriter") == "openai/gpt-4o-mini"


def test_env_beats_recipe_and_flags_beat_env(tmp_path: Path) -> None:
    env = {"ASSAY_MODEL": "ollama/llama3", "ASSAY_BUDGET__MAX_USD": "3.5", "ASSAY_TARGETS__SIZE": "100"}
    config = load_config(recipe(tmp_path), env=env, overrides={"targets.size": 50, "budget.max_calls": None})
    assert config.models.default == "ollama/llama3" and config.budget.max_usd == 3.5
    assert config.targets.size == 50 and config.budget.max_calls == 500  # None flags are "not given"


def test_unknown_key_in_recipe_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"assay.toml: targets.sise: Extra inputs are not permitted"):
        load_config(recipe(tmp_path, "[targets]\nsise = 3\n"))


def test_bad_value_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"environment .*budget.max_usd"):
        load_config(env={"ASSAY_BUDGET__MAX_USD": "lots"})
    with pytest.raises(ConfigError, match=r"flags: targets.min_mean_quality"):
        load_config(overrides={"targets.min_mean_quality": 9})


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(recipe(tmp_path, "[targets\nsize=1"))
    with pytest.raises(ConfigError, match="recipe file not found"):
        load_config(tmp_path / "nope.toml")
