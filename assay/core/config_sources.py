"""A Config from its layered sources, with pydantic-settings: defaults < TOML recipe < environment < flags.

pydantic-settings reads the recipe (TOML) and the environment (`ASSAY_` prefix, `__` between a
section and its key: ASSAY_BUDGET__MAX_USD=5, ASSAY_JUDGE__MAX_ATTEMPTS=2), takes the flags as
init values, and deep-merges them, later winning. Two things it does not do are added here:
`ASSAY_MODEL`, the shorthand users rely on for `models.default`, and an error for an
`ASSAY_<SECTION>__<KEY>` whose section does not exist (pydantic-settings would skip it). The
environment is the one given (the Runtime's), never `os.environ` read behind the caller's back.

Each source is also validated on its own, so an error names where the bad setting came from:
the recipe file, the environment variable, or the flags, and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from assay.core.config import Config
from assay.core.errors import ConfigError

ENV_PREFIX = "ASSAY_"
NESTED_DELIMITER = "__"
MODEL_VARIABLE = "ASSAY_MODEL"  # sets models.default; ASSAY_MODELS__DEFAULT wins over it


class LayeredConfig(Config, BaseSettings):
    """The Config fields, read from settings sources (built per call by `load_config`)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED_DELIMITER,
                                      extra="forbid", validate_assignment=True)


class Environment(EnvSettingsSource):
    """The ASSAY_ variables of the given environment, plus ASSAY_MODEL and unknown sections."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self.given = dict(env)
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Only ASSAY_MODEL and ASSAY_<SECTION>__<KEY>, the prefix in capitals: a stray ASSAY_DRY_RUN
        # or ASSAY_LLM must neither change nor break every command. pydantic-settings matches
        # field names case-insensitively, hence the lower-cased keys.
        return {name.lower(): value for name, value in self.given.items()
                if name == MODEL_VARIABLE or (name.startswith(ENV_PREFIX) and NESTED_DELIMITER in name)}

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        model = self.env_vars.get(MODEL_VARIABLE.lower())
        if model and isinstance(data.setdefault("models", {}), dict):
            data["models"].setdefault("default", model)
        prefix = ENV_PREFIX.lower()
        for name, value in self.env_vars.items():
            section, nested, key = name.removeprefix(prefix).partition(NESTED_DELIMITER)
            if name.startswith(prefix) and nested and section not in Config.model_fields:
                # Kept, so validation rejects it as an unknown key rather than it being ignored.
                data.setdefault(section, {})[key] = value
        return data

    def prepare_field_value(self, field_name: str, field: Any, value: Any, value_is_complex: bool) -> Any:
        """The field's value; a JSON one that does not parse names its variables (pydantic-settings names the field)."""
        try:
            return super().prepare_field_value(field_name, field, value, value_is_complex)
        except ValueError as err:
            own = (ENV_PREFIX + field_name).lower()
            names = [self._spelled(n) for n in self.env_vars if n == own or n.startswith(own + NESTED_DELIMITER)]
            raise ValueError(f"{', '.join(names)}: not valid JSON ({err})") from None

    def _spelled(self, name: str) -> str:
        """A variable's name as the user spelled it (they compare case-insensitively)."""
        return next((given for given in self.given if given.lower() == name.lower()), name)

    def variable_for(self, loc: tuple[str | int, ...]) -> str:
        """The variable that set the value at `loc` (the longest name that exists), as the user spelled it."""
        names = [ENV_PREFIX + NESTED_DELIMITER.join(str(part) for part in loc[:end]).upper()
                 for end in range(len(loc), 0, -1)]
        if loc[:2] == ("models", "default"):
            names.insert(1, MODEL_VARIABLE)
        exact = next((name for name in names if name.lower() in self.env_vars), None)
        if exact is not None:
            return self._spelled(exact)
        # An unknown section is named whole (loc `foo` for ASSAY_FOO__BAR): the variables under it.
        under = sorted(n for n in self.env_vars if n.startswith(names[0].lower() + NESTED_DELIMITER))
        return ", ".join(self._spelled(name) for name in under) or "ASSAY_…"


def load_config(
    recipe: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Merge defaults, recipe, environment and flag overrides (dotted keys, None = not given)."""
    flags = _nest({key: value for key, value in (overrides or {}).items() if value is not None})
    # Highest precedence first, as pydantic-settings orders its sources.
    sources: list[tuple[PydanticBaseSettingsSource, str]] = [
        (InitSettingsSource(LayeredConfig, init_kwargs=flags), "command-line flags"),
        (Environment(LayeredConfig, env or {}), "environment"),
    ]
    if recipe is not None:
        sources.append((_recipe(Path(recipe)), f"recipe {recipe}"))
    problems = [p for source, origin in reversed(sources) for p in _problems(source, origin)]
    if problems:
        raise ConfigError("; ".join(problems))
    try:
        layered = LayeredConfig(_build_sources=(tuple(source for source, _ in sources), flags))
    except ValidationError as err:  # each source is valid alone; only a rule across settings is left
        raise ConfigError("the settings together: " + "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in err.errors())) from None
    # A plain Config, carrying only the keys some source gave (the recipe logic tells them from defaults).
    return Config.model_validate(layered.model_dump(exclude_unset=True))


def _recipe(path: Path) -> TomlConfigSettingsSource:
    if not path.is_file():  # pydantic-settings skips a missing file: a recipe asked for must exist
        raise ConfigError(f"{path}: recipe file not found")
    try:
        return TomlConfigSettingsSource(LayeredConfig, toml_file=path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def _problems(source: PydanticBaseSettingsSource, origin: str) -> list[str]:
    """What is wrong with one source's settings on their own, each naming the source and the key."""
    try:
        Config.model_validate(source())
    except SettingsError as err:  # a JSON value that does not parse, e.g. ASSAY_TARGETS={size
        return [f"{origin}: {err}: {err.__cause__}"]
    except ValidationError as err:
        found = []
        for error in err.errors():
            key = ".".join(str(part) for part in error["loc"])
            where = f"{origin} ({source.variable_for(error['loc'])})" if isinstance(source, Environment) else origin
            found.append(f"{where}: {key}: {error['msg']}{_known_keys(error)}")
        return found
    return []


def _known_keys(error: Any) -> str:
    """For an unknown key, the keys its table does have (a misspelt threshold is then plain to see)."""
    if error["type"] != "extra_forbidden":
        return ""
    model: Any = Config
    for part in error["loc"][:-1]:
        annotation = model.model_fields[part].annotation if part in getattr(model, "model_fields", {}) else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    table = ".".join(str(part) for part in error["loc"][:-1])
    return f" (unknown key; {f'[{table}]' if table else 'the recipe'} has: {', '.join(model.model_fields)})"


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted flag keys (`budget.max_usd`) as the nested mapping a settings source holds."""
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested
