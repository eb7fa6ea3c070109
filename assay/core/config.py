"""Configuration: targets, budgets, models per agent role, LLM and store settings.

Sources, later winning: defaults, a TOML recipe file, the environment (ASSAY_MODEL, and
ASSAY_<SECTION>__<KEY> such as ASSAY_BUDGET__MAX_USD=5), then command-line flags.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.dataclasses import dataclass as checked_dataclass

from assay.core.errors import ConfigError

AgentRole = Literal["judge", "decomposer", "rewriter", "synthesizer", "planner"]
ENV_PREFIX = "ASSAY_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Targets(_Section):
    """What a curated dataset must reach."""

    size: int | None = Field(None, ge=1, description="samples in the final dataset")
    min_mean_quality: float | None = Field(None, ge=1, le=5, description="mean judge score (1-5)")
    quality_floor: float | None = Field(None, ge=1, le=5, description="no selected sample scores below this")
    coverage: float | None = Field(None, ge=0, le=1, description="share of clusters or named topics covered")
    topics: list[str] = Field(default_factory=list, description="topics the data must cover")
    max_duplicate_rate: float | None = Field(None, ge=0, le=1)
    zero_contamination: bool = True


class Budget(_Section):
    """Limits on what a session may spend."""

    max_calls: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=0)
    max_usd: float | None = Field(None, ge=0)
    max_rounds: int = Field(5, ge=1)


class Models(_Section):
    """Which model each agent role uses; unset roles use `default` (None = the embedded model)."""

    default: str | None = None
    judge: str | None = None
    decomposer: str | None = None
    rewriter: str | None = None
    synthesizer: str | None = None
    planner: str | None = None

    def for_role(self, role: AgentRole) -> str | None:
        """The configured model name for an agent role."""
        return getattr(self, role) or self.default


class LLMSettings(_Section):
    """How models are called."""

    concurrency: int = Field(8, ge=1, le=1024)
    timeout_s: float = Field(120.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    cache: bool = True
    api_base: str | None = None
    structured_output: Literal["auto", "json_schema", "json_object", "prompt"] = "auto"
    temperature: float = Field(0.0, ge=0, le=2)
    seed: int = 0
    # US dollars per 1,000 tokens, for every model: needed for a USD budget on a model litellm
    # cannot price (self-hosted, new), and overrides litellm's price when given.
    price_per_1k_input: float | None = Field(None, ge=0)
    price_per_1k_output: float | None = Field(None, ge=0)


class StoreSettings(_Section):
    """Where samples and vectors live."""

    chroma_url: str | None = None
    embedding_model: str | None = Field(None, description="path or name; default: the bundled all-MiniLM-L6-v2")
    embedding_batch_size: int = Field(256, ge=1)
    device: str | None = None
    max_record_mb: float = Field(16.0, gt=0)


CRITERION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@checked_dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Criterion:
    """One rubric criterion the judge scores from 1 to 5; the name is snake_case."""

    name: str
    description: str

    def __post_init__(self) -> None:
        if not CRITERION_NAME.match(self.name):
            raise ValueError(f"criterion name {self.name!r} must be snake_case (a-z, 0-9, _)")
        if not self.description.strip():
            raise ValueError(f"criterion {self.name!r} needs a description")


DEFAULT_CRITERIA = (
    Criterion("accuracy", "Facts, numbers, code and reasoning in the response are correct."),
    Criterion("helpfulness", "The response gives the user what they need: complete, specific and useful, without padding."),
    Criterion("instruction_following", "The response does what the instruction asks and respects every constraint it sets "
              "(format, length, audience, language)."),
    Criterion("clarity", "The response is well organised, easy to read and free of language errors."),
    Criterion("safety", "The response avoids harmful or dangerous content, and does not refuse a harmless request."),
)


class JudgeSettings(_Section):
    """The judge's rubric: `[[judge.rubric]]` tables with a name and a description each."""

    rubric: tuple[Criterion, ...] = Field(DEFAULT_CRITERIA, min_length=1, max_length=12)
    # A judge or rewrite call that still fails after the gateway's retries (llm.max_attempts)
    # is tried again in a later pass; after this many failed passes the sample is left unjudged.
    max_attempts: int = Field(3, ge=1, description="failed judging (or repair) passes a sample gets")

    @field_validator("rubric")
    @classmethod
    def _distinct_names(cls, rubric: tuple[Criterion, ...]) -> tuple[Criterion, ...]:
        names = [c.name for c in rubric]
        if len(set(names)) != len(names):
            raise ValueError(f"criterion names repeat: {', '.join(names)}")
        return rubric


class Config(_Section):
    """Everything a session is configured with."""

    targets: Targets = Field(default_factory=Targets)
    budget: Budget = Field(default_factory=Budget)
    models: Models = Field(default_factory=Models)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    dry_run: bool = False


def load_config(
    recipe: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Merge defaults, recipe, environment and flag overrides (dotted keys, None = not given)."""
    merged: dict[str, Any] = {}
    if recipe is not None:
        _merge(merged, _read_recipe(Path(recipe)), origin=str(recipe))
        _validate(merged, f"recipe {recipe}")
    env_values = _from_env(env or {})
    _merge(merged, env_values, origin="environment")
    _validate(merged, "environment (ASSAY_…)")
    flags = {key: value for key, value in (overrides or {}).items() if value is not None}
    _merge(merged, _nest(flags), origin="flags")
    return _validate(merged, "command-line flags")


def _read_recipe(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: recipe file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if env.get("ASSAY_MODEL"):
        values["models.default"] = env["ASSAY_MODEL"]
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
            values[f"{section}.{key}"] = value
    return _nest(values)


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def _merge(into: dict[str, Any], new: Mapping[str, Any], *, origin: str) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value, origin=origin)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def _validate(data: Mapping[str, Any], origin: str) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise ConfigError(f"{origin}: {problems}") from None
