"""A judge plugin: the built-in judge, then `overall` capped for responses under `min_words` words."""

from __future__ import annotations

import dataclasses
from typing import Any

from assay.agents.judge import judge_sample


class StrictJudge:
    """Reuses the built-in prompt and call (`judge_sample`, through `ctx`: trace, cache and budget apply)."""

    def __init__(self, min_words: int = 20, cap: float = 2.0) -> None:
        if int(min_words) < 1:
            raise ValueError("min_words must be at least 1")
        self.min_words, self.cap = int(min_words), float(cap)

    async def judge(self, ctx: Any, sample: Any, rubric: Any) -> Any:
        result = await judge_sample(ctx, sample, rubric)
        words = len(" ".join(m.content for m in sample.messages if m.role == "assistant").split())
        if result.value is None or words >= self.min_words or result.value.overall <= self.cap:
            return result
        capped = result.value.model_copy(update={"overall": self.cap})
        return dataclasses.replace(result, value=capped)
