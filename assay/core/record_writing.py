"""Samples written back as records: each in its own format, never losing a turn.

An original comes back exactly as read. A sample built from messages (a rewrite, a
synthesis, a conversion to another format) is written from its turns, with the extra fields
(id, source, category...) of the record it stands for. A conversation a format cannot hold
(two user turns in a row, say, as Alpaca) raises ConversionError naming the sample: a lossy
conversion is never done silently.
"""

from __future__ import annotations

from typing import Any

from assay.core.errors import AssayError
from assay.core.records import CONTENT_KEYS, FormatName, Message, Origin, Sample

_SHAREGPT_SPEAKER = {"user": "human", "assistant": "gpt", "system": "system"}
_NAMES = {"alpaca": "Alpaca", "sharegpt": "ShareGPT", "openai": "OpenAI messages"}


class ConversionError(AssayError):
    """A sample that a record format cannot hold without losing turns."""


def sample_to_record(sample: Sample, fmt: FormatName | None = None, *, inherit: Origin | None = None) -> dict[str, Any]:
    """The sample as a record of `fmt` (default: its own source format).

    `inherit` is the origin of the record this sample replaces (a rewrite's parent): its
    extra fields are kept. Without it, a sample read from a file keeps its own.
    """
    origin = sample.origin
    fmt = fmt or (origin.format if origin is not None else "alpaca")
    if origin is not None and origin.record is not None and origin.format == fmt and inherit is None:
        return origin.record
    content = messages_to_record(sample.messages, fmt, who=f"sample {sample.id} ({sample.source or sample.op})")
    template = inherit if inherit is not None and inherit.record is not None else origin
    if template is None or template.record is None:
        return content
    return _with_extras(content, template, fmt)


def extra_fields(origin: Origin) -> dict[str, Any]:
    """The user's own fields of a record: everything but the keys holding the conversation."""
    keys = CONTENT_KEYS[origin.format]
    return {k: v for k, v in (origin.record or {}).items() if k not in keys}


def messages_to_record(messages: tuple[Message, ...] | list[Message], fmt: FormatName, *, who: str) -> dict[str, Any]:
    """Build a record of `fmt` holding every turn; raises ConversionError where it cannot."""
    if fmt == "sharegpt":
        return {"conversations": [{"from": _SHAREGPT_SPEAKER[m.role], "value": m.content} for m in messages]}
    if fmt == "openai":
        return {"messages": [{"role": m.role, "content": m.content} for m in messages]}
    return _alpaca(list(messages), who)


def _alpaca(messages: list[Message], who: str) -> dict[str, Any]:
    """Alpaca: one leading system prompt, then user/assistant pairs (all but the last in `history`)."""
    system = messages[0].content if messages and messages[0].role == "system" else None
    turns = messages[1:] if system is not None else messages
    roles = [m.role for m in turns]
    if not turns or len(turns) % 2 or roles != ["user", "assistant"] * (len(turns) // 2):
        raise ConversionError(
            f"{who} cannot be written as Alpaca without losing turns: its turns are "
            f"{' → '.join(m.role for m in messages)}, and Alpaca holds one system prompt and then "
            f"alternating user/assistant pairs; write it as {_NAMES['sharegpt']} or {_NAMES['openai']}")
    pairs = [[turns[i].content, turns[i + 1].content] for i in range(0, len(turns), 2)]
    record: dict[str, Any] = {"instruction": pairs[-1][0], "input": "", "output": pairs[-1][1]}
    if system is not None:
        record["system"] = system
    if len(pairs) > 1:
        record["history"] = pairs[:-1]
    return record


def _with_extras(content: dict[str, Any], template: Origin, fmt: FormatName) -> dict[str, Any]:
    """The new content in the template record's key order, with its extra fields."""
    extras = extra_fields(template)
    if template.format != fmt:
        return {**content, **extras}
    old = template.record or {}
    given = old.get("input")
    if fmt == "alpaca" and isinstance(given, str) and given.strip() and isinstance(old.get("instruction"), str) \
            and content["instruction"] == f"{old['instruction']}\n\n{given}":
        # The user turn is unchanged: keep it split into instruction and input, as the user wrote it.
        content = {**content, "instruction": old["instruction"], "input": given}
    record: dict[str, Any] = {}
    for key in template.record or {}:
        if key in content:
            record[key] = content[key]
        elif key in extras:
            record[key] = extras[key]
    return {**record, **{k: v for k, v in content.items() if k not in record}}
