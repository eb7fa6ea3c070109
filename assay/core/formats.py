"""Record shapes: Alpaca, ShareGPT and OpenAI messages, read into Samples.

A record read from a file keeps its original dict in `Sample.origin`, so writing it back
(`sample_to_record`, in assay.core.record_writing) reproduces it exactly, extra fields included.
Alpaca records may carry earlier turns in `history` ([[user, assistant], ...]) and a
`system` prompt, the LLaMA-Factory convention, so a conversation survives as Alpaca.
ShareGPT records may carry a top-level `system` prompt.
"""

from __future__ import annotations

from typing import Any

from assay.core.record_writing import ConversionError, sample_to_record  # writing lives there; re-exported
from assay.core.records import CONTENT_KEYS, FormatName, Message, Origin, Sample

SHAREGPT_ROLES = {
    "human": "user", "user": "user",
    "gpt": "assistant", "assistant": "assistant", "chatgpt": "assistant",
    "bard": "assistant", "bing": "assistant", "model": "assistant",
    "system": "system",
}  # fmt: skip
OPENAI_ROLES = ("system", "user", "assistant")


class FieldProblem(ValueError):
    """A record's field is missing or malformed; the reader adds file and line."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def detect_format(record: Any) -> FormatName:
    """Tell a record's shape from its keys."""
    if not isinstance(record, dict):
        raise FieldProblem("(record)", f"expected a JSON object, got {_type_name(record)}")
    # A Parquet row has every column of the file, null where unused: non-null keys decide first,
    # then any key, so a null `instruction` is reported as such rather than as an unknown shape.
    for given in ({key for key, value in record.items() if value is not None}, set(record)):
        for key, fmt in (("messages", "openai"), ("conversations", "sharegpt"), ("instruction", "alpaca")):
            if key in given:
                return fmt  # type: ignore[return-value]
    keys = ", ".join(sorted(record)) or "none"
    raise FieldProblem(
        "(record)",
        "unknown record shape: expected 'instruction'/'output' (Alpaca), 'conversations' "
        f"(ShareGPT) or 'messages' (OpenAI); found keys: {keys}; to read other names, map them with --field, "
        "e.g. --field instruction=question --field output=answer",
    )


def record_to_sample(record: Any, fmt: FormatName, source: str) -> Sample:
    """Convert one parsed record to a Sample; raises FieldProblem naming the bad field."""
    if not isinstance(record, dict):
        raise FieldProblem("(record)", f"expected a JSON object, got {_type_name(record)}")
    convert = {"alpaca": _alpaca_messages, "sharegpt": _sharegpt_messages, "openai": _openai_messages}
    messages = convert[fmt](record)
    return Sample.create(messages, source=source, origin=Origin(format=fmt, record=record))


def _alpaca_messages(record: dict[str, Any]) -> list[Message]:
    instruction = _required_str(record, "instruction")
    output = _required_str(record, "output")
    given_input = _optional_str(record, "input")
    system = _optional_str(record, "system")
    user = f"{instruction}\n\n{given_input}" if given_input.strip() else instruction
    messages = [Message(role="system", content=system)] if system else []
    messages += _alpaca_history(record.get("history"))
    return [*messages, Message(role="user", content=user), Message(role="assistant", content=output)]


def _alpaca_history(history: Any) -> list[Message]:
    """Earlier turns of an Alpaca record: [[user, assistant], ...]."""
    if history is None:
        return []
    if not isinstance(history, list):
        raise FieldProblem("history", f"expected a list of [user, assistant] pairs, got {_describe(history)}")
    messages = []
    for i, pair in enumerate(history):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise FieldProblem(f"history[{i}]", f"expected a [user, assistant] pair, got {_describe(pair)}")
        for j, (role, text) in enumerate(zip(("user", "assistant"), pair, strict=True)):
            if not isinstance(text, str):
                raise FieldProblem(f"history[{i}][{j}]", f"expected a string, got {_describe(text)}")
            messages.append(Message(role=role, content=text))
    return messages


def _sharegpt_messages(record: dict[str, Any]) -> list[Message]:
    turns = record["conversations"]
    if not isinstance(turns, list) or not turns:
        raise FieldProblem("conversations", f"expected a non-empty list of turns, got {_describe(turns)}")
    system = _optional_str(record, "system")
    messages = [Message(role="system", content=system)] if system else []
    for i, turn in enumerate(turns):
        where = f"conversations[{i}]"
        if not isinstance(turn, dict):
            raise FieldProblem(where, f"expected an object with 'from' and 'value', got {_type_name(turn)}")
        speaker = turn.get("from", turn.get("role"))
        if not isinstance(speaker, str) or speaker.lower() not in SHAREGPT_ROLES:
            known = ", ".join(sorted(SHAREGPT_ROLES))
            raise FieldProblem(f"{where}.from", f"unknown speaker {speaker!r}; expected one of {known}")
        value = turn.get("value", turn.get("content"))
        if not isinstance(value, str):
            raise FieldProblem(f"{where}.value", f"expected a string, got {_describe(value)}")
        messages.append(Message(role=SHAREGPT_ROLES[speaker.lower()], content=value))
    _require_exchange(messages, "conversations")
    return messages


def _openai_messages(record: dict[str, Any]) -> list[Message]:
    turns = record["messages"]
    if not isinstance(turns, list) or not turns:
        raise FieldProblem("messages", f"expected a non-empty list of messages, got {_describe(turns)}")
    messages = []
    for i, turn in enumerate(turns):
        where = f"messages[{i}]"
        if not isinstance(turn, dict):
            raise FieldProblem(where, f"expected an object with 'role' and 'content', got {_type_name(turn)}")
        role = turn.get("role")
        if role not in OPENAI_ROLES:
            raise FieldProblem(f"{where}.role", f"unsupported role {role!r}; expected one of {', '.join(OPENAI_ROLES)}")
        messages.append(Message(role=role, content=_openai_content(turn.get("content"), f"{where}.content")))
    _require_exchange(messages, "messages")
    return messages


def _openai_content(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text parts carry training data here
        texts = []
        for j, part in enumerate(content):
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise FieldProblem(f"{where}[{j}]", "only text content parts are supported")
            texts.append(part["text"])
        return "".join(texts)
    raise FieldProblem(where, f"expected a string, got {_describe(content)}")


def _require_exchange(messages: list[Message], field: str) -> None:
    roles = {m.role for m in messages}
    if "user" not in roles or "assistant" not in roles:
        raise FieldProblem(field, "needs at least one user turn and one assistant turn")


def _required_str(record: dict[str, Any], key: str) -> str:
    if key not in record:
        raise FieldProblem(key, "missing")
    value = record[key]
    if not isinstance(value, str):
        raise FieldProblem(key, f"expected a string, got {_describe(value)}")
    return value


def _optional_str(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldProblem(key, f"expected a string, got {_describe(value)}")
    return value


def _type_name(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    shown = repr(value)
    return f"{_type_name(value)} {shown[:40]}{'…' if len(shown) > 40 else ''}"


__all__ = ["CONTENT_KEYS", "ConversionError", "FieldProblem", "detect_format", "record_to_sample", "sample_to_record"]
