"""The text fields of agents' output models: stripped, and (most of them) never blank.

Models pad their answers with spaces and newlines, so every free-text field is stripped
before it is checked; a required text that is blank once stripped makes the answer invalid
(the gateway then asks the model to repair it).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints


def _strip(value: Any) -> Any:
    """A string without its surrounding whitespace; anything else is left for pydantic to reject."""
    return value.strip() if isinstance(value, str) else value


StrippedStr = Annotated[str, BeforeValidator(_strip)]
"""Text, stripped; may be empty."""

# The constraint comes first so it is part of the string check, which the stripping runs before.
NonBlankStr = Annotated[str, StringConstraints(min_length=1), BeforeValidator(_strip)]
"""Text, stripped, with at least one character left."""
