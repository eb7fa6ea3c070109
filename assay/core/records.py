"""The Sample: one instruction-tuning example, its lineage, status, scores and tags.

Samples are immutable: a repair is a new sample whose parent is the old one. Status,
reason and scores change over a session; they live in the store, and a Sample read back
carries the latest values.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]
FormatName = Literal["alpaca", "sharegpt", "openai"]
ID_HEX_CHARS = 16

# The keys that hold a record's conversation; every other key is the user's own (id, category...).
CONTENT_KEYS: dict[str, frozenset[str]] = {
    "alpaca": frozenset({"instruction", "input", "output", "system", "history"}),
    "sharegpt": frozenset({"conversations", "system"}),
    "openai": frozenset({"messages"}),
}


class Status(StrEnum):
    """Where a sample stands: still in play, dropped with a reason, or selected."""

    ACTIVE = "active"
    DROPPED = "dropped"
    SELECTED = "selected"


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(frozen=True)
    role: Role
    content: str


class Origin(BaseModel):
    """Where a sample came from, so it is written back in the user's own format.

    `record` is the user's record exactly as read (extra fields included) for samples
    read from a file; derived samples (rewrites, syntheses) have none.
    """

    model_config = ConfigDict(frozen=True)
    format: FormatName
    record: dict[str, Any] | None = None


class Sample(BaseModel):
    """An instruction/response example with its lineage and assessment."""

    model_config = ConfigDict(frozen=True)
    id: str
    messages: tuple[Message, ...]
    source: str = ""
    parent_ids: tuple[str, ...] = ()
    op: str = "seed"
    status: Status = Status.ACTIVE
    reason: str | None = None
    scores: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, list[str]] = Field(default_factory=dict)
    origin: Origin | None = None

    @classmethod
    def create(cls, messages: list[Message] | tuple[Message, ...], **fields: Any) -> Sample:
        """Build a sample whose id is the content hash of its messages."""
        messages = tuple(messages)
        return cls(id=content_id(messages), messages=messages, **fields)

    @property
    def instruction(self) -> str:
        """The first user turn."""
        return next((m.content for m in self.messages if m.role == "user"), "")

    @property
    def response(self) -> str:
        """The last assistant turn."""
        return next((m.content for m in reversed(self.messages) if m.role == "assistant"), "")

    def text(self) -> str:
        """The conversation as one text, for embeddings and the store's document."""
        return "\n\n".join(m.content for m in self.messages if m.role != "system")


def content_id(messages: tuple[Message, ...] | list[Message]) -> str:
    """Stable id: a hash of the roles and contents, independent of format and extra fields."""
    canonical = json.dumps(
        [[m.role, m.content] for m in messages], ensure_ascii=False, separators=(",", ":")
    )
    # surrogatepass: the hash is defined for any Python text, so a stray lone surrogate (which
    # readers refuse, but a model may still emit) can never crash it.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:ID_HEX_CHARS]
