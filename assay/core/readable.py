"""One way to show a value to a person, in every view (CLI, viewer): numbers rounded, None as a
dash, dicts as words.

Views otherwise print what Python's str gives (`2.979124124124123`, `None`,
`{'attempted': 20, 'accepted': 1}`) or `%g` gives (`0.557703`), which reads as a debugging
dump, not an answer. It lives in core so the CLI and the viewer share it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MISSING = "–"


def shown(value: Any) -> str:
    """`value` for a person: floats to 3 significant digits (2 decimals at most from 1 up), whole
    numbers plain, None as "–", a dict as "key value, key value", a list comma-separated."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{key} {_nested(item)}" for key, item in value.items()) or MISSING
    if isinstance(value, (list, tuple)):
        return ", ".join(shown(item) for item in value) or MISSING
    return str(value)


def shown_pairs(values: Mapping[str, Any], sep: str = "=") -> str:
    """`name=value, …` with each value `shown`."""
    return ", ".join(f"{key}{sep}{_nested(value)}" for key, value in values.items())


def _nested(value: Any) -> str:
    """A dict inside a list of pairs, in parentheses: its commas would otherwise run into the outer ones."""
    return f"({shown(value)})" if isinstance(value, Mapping) and value else shown(value)


def _number(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value.is_integer():
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"
