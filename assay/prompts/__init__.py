"""Prompt templates (Jinja2, StrictUndefined), versioned, loaded with importlib.resources.

A template file `prompts/<name>.j2` holds one or more chat messages, each opened by a
line `[[system]]`, `[[user]]` or `[[assistant]]`. Its version is the name plus a hash of
the text, so editing a prompt changes every cache key that depends on it and old answers
are never served for a new prompt.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jinja2

ROLE_LINE = re.compile(r"^\[\[(system|user|assistant)\]\]\s*$", re.MULTILINE)
DATA_CLOSE = re.compile(r"</(data)", re.IGNORECASE)


def delimit(text: Any, name: str) -> str:
    """Wrap sample text as inert data: a `<data name=…>` block it cannot close early.

    A sample that contains `</data>` would otherwise end the block and speak as the prompt
    (prompt injection); the closing tag inside the text is defanged instead.
    """
    body = DATA_CLOSE.sub(r"<\\/\1", str(text))
    return f'<data name="{name}">\n{body}\n</data>'


_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["delimit"] = delimit


@dataclass(frozen=True)
class PromptTemplate:
    """A loaded prompt: render it with variables into chat messages."""

    name: str
    source: str

    @property
    def version(self) -> str:
        """`name@hash`: changes whenever the template text changes."""
        return f"{self.name}@{hashlib.sha256(self.source.encode()).hexdigest()[:10]}"

    def render(self, **variables: Any) -> list[dict[str, str]]:
        """The chat messages for these variables; a missing variable raises jinja2.UndefinedError.

        The template is split into its role sections before rendering, so sample text that
        holds a `[[system]]` line stays inside its message and cannot open a new one.
        """
        parts = ROLE_LINE.split(self.source)
        if parts[0].strip():
            raise ValueError(f"prompt {self.name}: text before the first [[role]] line")
        messages = [
            {"role": role, "content": compiled(section).render(**variables).strip()}
            for role, section in zip(parts[1::2], parts[2::2], strict=True)
        ]
        if not messages:
            raise ValueError(f"prompt {self.name}: no [[system]]/[[user]] sections")
        return messages


@cache
def compiled(section: str) -> jinja2.Template:
    """A template section, compiled once: compiling it again for every call cost more than the call's HTTP."""
    return _ENV.from_string(section)


@cache
def load_prompt(name: str) -> PromptTemplate:
    """The template `prompts/<name>.j2` shipped with assay."""
    source = resources.files(__name__).joinpath(f"{name}.j2").read_text(encoding="utf-8")
    return PromptTemplate(name, source)
