"""Text from a model or the data as Rich `Text` for the terminal views: never parsed as markup.

Rich reads `[bold]` or `[/INST]` in a plain string as markup and `:smile:` as an emoji code;
data must show as it is, so every view builds its cells here, after
`assay.core.safe_text.visible` made control characters visible.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from assay.core.safe_text import visible


def plain(value: Any, style: str = "") -> Text:
    """A Rich Text of any value shown as it is: no markup, no emoji codes, control characters visible."""
    if isinstance(value, Text):
        return value
    return Text(visible(str(value)), style=style)


def cells(*values: Any) -> list[Text]:
    """Table cells for `Table.add_row`: a plain string cell would be parsed as markup."""
    return [plain(v) for v in values]
