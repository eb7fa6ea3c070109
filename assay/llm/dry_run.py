"""The dry-run model: instant, deterministic, schema-valid placeholder answers.

It lets a user check a recipe end to end without spending anything; sessions that use
it are marked as dry runs in every report.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from typing import Any

from assay.llm.transport import Completion, CompletionRequest

# Values every report treats as an alarm about the data. A placeholder has not read the data, so it
# never asserts one: a dry run would otherwise show made-up injection or safety flags on clean samples.
# Real flags still appear in a dry run: the deterministic injection detector runs on every verdict.
ALARMS = frozenset({"prompt_injection", "unsafe"})


class DryRunTransport:
    """Answers every request with a placeholder instance of the requested JSON schema."""

    async def __call__(self, request: CompletionRequest) -> Completion:
        """Return a deterministic answer for this request (same request, same answer)."""
        seed_text = json.dumps([request.messages, request.schema], sort_keys=True, default=str)
        rng = random.Random(hashlib.sha256(seed_text.encode()).digest())
        if request.schema is None:
            return Completion(text="[dry run] placeholder answer")
        value = placeholder(request.schema, rng, request.schema.get("$defs", {}))
        return Completion(text=json.dumps(value, ensure_ascii=False))


def placeholder(schema: dict[str, Any], rng: random.Random, defs: dict[str, Any]) -> Any:
    """A value valid for the (pydantic-style) JSON schema, chosen with `rng`."""
    if "$ref" in schema:
        return placeholder(defs[schema["$ref"].rsplit("/", 1)[-1]], rng, defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice([v for v in schema["enum"] if v not in ALARMS] or schema["enum"])
    if "default" in schema and schema.get("type") is None and not any(k in schema for k in ("anyOf", "oneOf", "allOf")):
        return schema["default"]
    inner = narrowed(schema, defs, lambda options: options[0])
    if inner is not None:
        return placeholder(inner, rng, defs)
    return _BY_TYPE[value_type(schema)](schema, rng, defs)


def narrowed(schema: dict[str, Any], defs: dict[str, Any], pick: Callable[[list[Any]], Any]) -> dict[str, Any] | None:
    """The one schema a value of a union (anyOf/oneOf: a non-null option, chosen by `pick`) or of an
    intersection (allOf: its parts merged) must fit; None when `schema` is neither."""
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return pick(options)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(defs[part["$ref"].rsplit("/", 1)[-1]] if "$ref" in part else part)
        return merged
    return None


def value_type(schema: dict[str, Any]) -> str:
    """The JSON type a value of `schema` takes: its declared one (the first non-null of a list), else
    object when it has properties, else string."""
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    return kind


def _object(schema: dict[str, Any], rng: random.Random, defs: dict[str, Any]) -> dict[str, Any]:
    return {name: placeholder(sub, rng, defs) for name, sub in schema.get("properties", {}).items()}


def _array(schema: dict[str, Any], rng: random.Random, defs: dict[str, Any]) -> list[Any]:
    low = schema.get("minItems", 1)
    high = max(low, min(schema.get("maxItems", low + 2), low + 2))
    items = schema.get("items", {"type": "string"})
    return [placeholder(items, rng, defs) for _ in range(rng.randint(low, high))]


def _string(schema: dict[str, Any], rng: random.Random, defs: dict[str, Any]) -> str:
    text = f"[dry run] {rng.choice(['alpha', 'beta', 'gamma', 'delta'])} {rng.randint(1, 999)}"
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    text = text.ljust(low, ".")
    return text[:high] if high is not None else text


def _number(schema: dict[str, Any], rng: random.Random, defs: dict[str, Any]) -> float | int:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    high = schema.get("maximum", schema.get("exclusiveMaximum", low + 10))
    if schema.get("type") == "integer":
        low_i = int(low) + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
        high_i = int(high) - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
        return rng.randint(low_i, max(low_i, high_i))
    return round(rng.uniform(low, high), 3)


_BY_TYPE = {
    "object": _object,
    "array": _array,
    "string": _string,
    "integer": _number,
    "number": _number,
    "boolean": lambda schema, rng, defs: rng.random() < 0.5,
    "null": lambda schema, rng, defs: None,
}
