"""A session's stored recipe versus the settings a command was given.

A session keeps the recipe it was created with; only `assay resume` flags change it. Other
commands that open a session (`judge`, `score`, `ingest`, `expand`, `models check` with
`--session`) run with that recipe, plus the settings they were explicitly given (by a recipe
file, the environment or a flag) for themselves only, and name those that differ.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from assay.core.config import Config
from assay.core.errors import AssayError


def stored_recipe(directory: Any, data: dict[str, Any]) -> Config:
    """A session's stored recipe, or one line naming the key this version of assay cannot read."""
    if "tags" not in data:
        # Written before the run tagged skills (0.1.0): the session goes on as it began, without
        # one new LLM call per candidate it never asked for. `assay resume` cannot turn it on.
        data = {**data, "tags": {"enabled": False}}
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "recipe"
        raise AssayError(f"{directory}: its stored recipe does not fit this version of assay: {key}: {first['msg']} "
                         "(it was written by another version; run it with that one)") from None


def given_settings(config: Config) -> dict[str, Any]:
    """The settings a config was explicitly given, as dotted keys with JSON values.

    `load_config` (assay.core.config_sources) validates only what a recipe, the environment or
    a flag supplied, so pydantic's `model_fields_set` tells given settings from defaults.
    """
    found: dict[str, Any] = {}
    _given(config, config.model_dump(mode="json"), "", found)
    return found


def _given(model: BaseModel, dumped: dict[str, Any], prefix: str, found: dict[str, Any]) -> None:
    """Collect the given keys of `model`, down to the leaves: a deep table such as
    [screen.heuristics.repetition] gives only the keys it names, not its siblings' defaults."""
    for name in model.model_fields_set:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            _given(value, dumped[name], f"{prefix}{name}.", found)
        else:
            found[prefix + name] = dumped[name]


def with_settings(stored: Config, settings: dict[str, Any]) -> Config:
    """The stored recipe with `settings` (dotted keys) laid over it."""
    data = stored.model_dump(mode="json")
    for dotted, value in settings.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    return Config.model_validate(data)


def differing(stored: Config, settings: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Given settings whose value differs from the stored recipe's: key -> (stored, given)."""
    data = stored.model_dump(mode="json")
    found: dict[str, tuple[Any, Any]] = {}
    for dotted, value in settings.items():
        node: Any = data
        for part in dotted.split("."):
            node = node[part]
        if node != value:
            found[dotted] = (node, value)
    return found


def difference_note(directory: Any, changes: dict[str, tuple[Any, Any]]) -> str:
    """One line telling the user which of their settings differ from the session's recipe."""
    def show(value: Any) -> str:
        return "unset" if value is None else repr(value)

    shown = "; ".join(f"{key} {show(given)} (recipe: {show(stored)})" for key, (stored, given) in sorted(changes.items()))
    return (f"note: {directory} keeps its recipe; this command alone uses {shown}. "
            f"Only `assay resume {directory} --…` changes a session's recipe.")
