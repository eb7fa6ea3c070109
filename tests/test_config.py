"""Config: recipe file, environment and flags, flags winning; clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.core.config_sources import load_config
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


def test_nested_env_values_reach_every_section(tmp_path: Path) -> None:
    env = {"ASSAY_JUDGE__MAX_ATTEMPTS": "2", "ASSAY_LLM__STRUCTURED_OUTPUT": "prompt", "ASSAY_STORE__DEVICE": "cpu",
           "ASSAY_TARGETS__TOPICS": '["sql", "go"]', "ASSAY_HOME": str(tmp_path), "PATH": "/bin"}
    config = load_config(env=env)
    assert config.judge.max_attempts == 2 and config.llm.structured_output == "prompt"
    assert config.store.device == "cpu" and config.targets.topics == ["sql", "go"]
    assert config.model_fields_set == {"judge", "llm", "store", "targets"}  # ASSAY_HOME is not a setting


def test_each_layer_beats_the_one_below_key_by_key(tmp_path: Path) -> None:
    path = recipe(tmp_path, "[judge]\nmax_attempts = 4\n[llm]\nconcurrency = 2\ntimeout_s = 9\nseed = 7\n")
    env = {"ASSAY_LLM__CONCURRENCY": "3", "ASSAY_LLM__TIMEOUT_S": "30"}
    config = load_config(path, env=env, overrides={"llm.timeout_s": 60.0})
    assert config.llm.seed == 7 and config.judge.max_attempts == 4  # recipe over defaults
    assert config.llm.concurrency == 3  # environment over recipe
    assert config.llm.timeout_s == 60.0  # flag over environment
    assert config.llm.max_attempts == 5 and "max_attempts" not in config.llm.model_fields_set  # still a default


def test_assay_model_is_a_shorthand_the_full_name_and_flags_beat() -> None:
    assert load_config(env={"ASSAY_MODEL": "a/one"}).models.default == "a/one"
    assert load_config(env={"ASSAY_MODEL": "a/one", "ASSAY_MODELS__DEFAULT": "a/two"}).models.default == "a/two"
    assert load_config(env={"ASSAY_MODEL": "a/one"}, overrides={"models.default": "a/three"}).models.default == "a/three"


def test_only_the_given_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_BUDGET__MAX_USD", "7")
    assert load_config(env={}).budget.max_usd is None


def test_env_errors_name_the_variable_and_the_key() -> None:
    with pytest.raises(ConfigError, match=r"environment \(ASSAY_JUDGE__MAX_ATTEMPTS\): judge.max_attempts: .*greater"):
        load_config(env={"ASSAY_JUDGE__MAX_ATTEMPTS": "0"})
    with pytest.raises(ConfigError, match=r"environment \(ASSAY_LLM__CONCURENCY\): llm.concurency: Extra inputs"):
        load_config(env={"ASSAY_LLM__CONCURENCY": "4"})
    with pytest.raises(ConfigError, match=r"environment \(ASSAY_BUGDET__MAX_USD\): bugdet: Extra inputs"):
        load_config(env={"ASSAY_BUGDET__MAX_USD": "4"})  # an unknown section is an error too, not ignored
    with pytest.raises(ConfigError, match=r"environment: .*\"targets\".*ASSAY_TARGETS__TOPICS: not valid JSON"):
        load_config(env={"ASSAY_TARGETS__TOPICS": "sql"})  # a list is given as JSON


def test_errors_from_several_sources_name_each(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(recipe(tmp_path, "[budget]\nmax_rounds = 0\n"), env={"ASSAY_LLM__SEED": "x"},
                    overrides={"targets.size": 0})
    assert str(caught.value).split("; ") == [
        f"recipe {tmp_path / 'assay.toml'}: budget.max_rounds: Input should be greater than or equal to 1",
        "environment (ASSAY_LLM__SEED): llm.seed: Input should be a valid integer, unable to parse string as an integer",
        "command-line flags: targets.size: Input should be greater than or equal to 1"]


def test_only_assay_model_and_section_key_variables_are_settings() -> None:
    # A stray variable named like a section or a top-level field neither changes nor breaks a
    # command (before pydantic-settings only these two forms were read, and only in capitals).
    env = {"ASSAY_DRY_RUN": "1", "ASSAY_LLM": "not json", "ASSAY_TARGETS": "x", "assay_budget__max_usd": "3"}
    config = load_config(env=env)
    assert config.dry_run is False
    assert config.budget.max_usd is None
    assert load_config(env={"ASSAY_BUDGET__MAX_USD": "3"}).budget.max_usd == 3
