"""Structured answers: the schema instruction a request carries, and validating what comes back."""

from __future__ import annotations

import functools
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)
FENCED_JSON = re.compile(r"```(?:json)?\s*(\{.*?\}|\[.*?\])\s*```", re.DOTALL)
SCHEMA_INSTRUCTION = (
    "Answer with one JSON object and nothing else. It must be valid against this JSON Schema:\n{schema}"
)
REPAIR_INSTRUCTION = (
    "Your answer could not be used: {error}\nReply again with only the corrected JSON object, "
    "valid against the schema."
)


def parse_structured(text: str, output_type: type[T]) -> tuple[T | None, str | None]:
    """Validate a model's answer, tolerating prose or a code fence around the JSON."""
    candidates = [text.strip()]
    fenced = FENCED_JSON.search(text)
    if fenced:
        candidates.append(fenced.group(1))
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    first_error: str | None = None
    for candidate in candidates:
        try:
            return output_type.model_validate_json(candidate), None
        except ValidationError as err:
            first_error = first_error or _describe_validation(err)
    return None, first_error or "empty answer"


def _describe_validation(err: ValidationError) -> str:
    parts = []
    for problem in err.errors()[:5]:
        where = ".".join(str(p) for p in problem["loc"]) or "(answer)"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


@functools.lru_cache(maxsize=256)
def schema_of(output_type: type[BaseModel]) -> tuple[dict[str, Any], str]:
    """The JSON schema of an output model and the instruction quoting it (built once: it is slow)."""
    schema = output_type.model_json_schema()
    return schema, SCHEMA_INSTRUCTION.format(schema=json.dumps(schema, separators=(",", ":")))


def with_schema_instruction(messages: list[dict[str, Any]], instruction: str) -> list[dict[str, Any]]:
    """The messages with the schema instruction added to (or as) the system message."""
    if messages and messages[0].get("role") == "system":
        return [{"role": "system", "content": f"{messages[0]['content']}\n\n{instruction}"}, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]
