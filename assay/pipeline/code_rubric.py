"""The judge's code criterion: a sample whose response holds code is also scored on `code_correctness`.

The parsers (the code screen) catch code that does not parse; only a model can tell code that
parses but is wrong. The criterion is added only where there is code, so prose samples keep
the rubric as configured and their scores stay comparable. The verdict then carries the extra
score, stored like every criterion (`judge_code_correctness`). `[judge] code_criterion = false`
turns it off; a rubric that already names the criterion is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assay.core.config import CODE_CRITERION, Criterion
from assay.core.records import Sample
from assay.tools.code_blocks import find_code, named_languages


def holds_code(sample: Sample) -> bool:
    """Whether an assistant turn holds a program: a fenced block, or unfenced code in a known language or in braces."""
    hints = named_languages(sample.instruction)
    for message in sample.messages:
        if message.role != "assistant":
            continue
        for block in find_code(message.content, hints):
            if block.fenced or block.language is not None or ("{" in block.code and "}" in block.code):
                return True
    return False


def rubric_for(sample: Sample, rubric: Sequence[Criterion], enabled: bool = True) -> tuple[Criterion, ...]:
    """The rubric the sample is judged on: `rubric`, plus the code criterion when it holds code."""
    rubric = tuple(rubric)
    if not enabled or any(c.name == CODE_CRITERION.name for c in rubric) or not holds_code(sample):
        return rubric
    return (*rubric, CODE_CRITERION)


def with_code_criterion(judge: Any, enabled: bool = True) -> Any:
    """A judge function (`await judge(ctx, sample, rubric)`) that adds the code criterion where a sample holds code."""
    if not enabled:
        return judge

    async def judge_with_code(ctx: Any, sample: Sample, rubric: Sequence[Criterion]) -> Any:
        return await judge(ctx, sample, rubric_for(sample, rubric))

    judge_with_code.__wrapped__ = judge  # type: ignore[attr-defined]
    return judge_with_code
