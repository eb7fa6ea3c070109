"""A recipe (any settings model) written as TOML: every key, optionally with its description.

`assay recipe show` prints the effective settings with `recipe_toml(config)`; `assay recipe
init` writes `recipe_toml(Config(), comments=True)`, a starter file whose comments come from
the models' docstrings and field descriptions. Reading the text back with the recipe loader
gives the same settings (tests/test_recipe.py checks show -> load -> show). TOML has no
null, so an unset key is written as a comment (`# size = (unset)`), which reads back unset.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

HEADER = """\
# assay recipe: every setting, at its default. Edit what you need; delete the rest (a missing key keeps its default).
# Use it with `--recipe FILE` (assay run, score, expand, judge, ...). Sources, later winning: defaults < this file
# < the environment (ASSAY_<SECTION>__<KEY>, e.g. ASSAY_SCREEN__MINHASH__THRESHOLD=0.85) < command-line flags.
# `assay recipe show --recipe FILE` prints what a command would use. An unknown key is an error.
"""


def recipe_toml(settings: BaseModel, *, comments: bool = False) -> str:
    """The settings as TOML text, tables in the models' field order; `comments` adds the descriptions."""
    lines: list[str] = [HEADER] if comments else []
    _table(type(settings), settings.model_dump(mode="json"), (), lines, comments)
    return "\n".join(lines).strip("\n") + "\n"


def _table(model: type[BaseModel] | None, data: Mapping[str, Any], path: tuple[str, ...], lines: list[str],
           comments: bool) -> None:
    """One table: its header, its plain keys, then its sub-tables (TOML wants the keys first)."""
    fields = model.model_fields if model is not None else {}
    own: list[str] = []
    nested: list[tuple[str, Any]] = []
    for key, value in data.items():
        field = fields.get(key)
        if isinstance(value, dict) or _is_table_array(value):
            nested.append((key, value))
            continue
        line = f"# {_key(key)} = (unset)" if value is None else f"{_key(key)} = {_value(value)}"
        own.append(f"{line}  # {field.description}" if comments and field is not None and field.description else line)
    doc = _doc(model) if comments and path else ""
    if path and (own or doc):
        lines.append("")
        lines.extend(f"# {line}" for line in doc.splitlines())
        lines.append(f"[{'.'.join(map(_key, path))}]")
    lines.extend(own)
    for key, value in nested:
        sub = _submodel(fields.get(key))
        if isinstance(value, dict):
            _table(sub, value, (*path, key), lines, comments)
            continue
        for item in value:  # an array of tables, e.g. [[judge.rubric]]
            lines.append("")
            lines.append(f"[[{'.'.join(map(_key, (*path, key)))}]]")
            lines.extend(f"{_key(k)} = {_value(v)}" for k, v in item.items() if v is not None)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _submodel(field: Any) -> type[BaseModel] | None:
    """The settings model a field holds, if it holds one (its docstring and descriptions comment the table)."""
    annotation = getattr(field, "annotation", None)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _doc(model: type[BaseModel] | None) -> str:
    doc = (model.__doc__ or "") if model is not None else ""
    return doc.strip().split("\n\n")[0].replace("\n    ", " ").replace("\n", " ")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    """A TOML value; JSON's string escapes are TOML's basic-string escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"a recipe value TOML cannot hold: {value!r}")
