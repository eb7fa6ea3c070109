"""The recipe's `[rubric]` section: refining the judge's rubric inside `assay run` (issue 16, part 2).

`assay rubric refine DIR` (pipeline/rubric/) edits the judge's rubric where people's review
decisions disagree with it. A run in review mode pauses for a person at each review gate; with
`refine = true`, the run refines its rubric there, once the person's decisions are in, before it
judges its next round (pipeline/rubric/in_run.py). Core imports nothing of assay.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RubricSettings(BaseModel):
    """`[rubric]`: whether and how `assay run --review` refines its judge's rubric after each review."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    refine: bool = Field(False, description="assay run --review: after each review that decided new items, refine "
                                            "the judge's rubric; a kept proposal judges the rest of the run")
    holdout: float = Field(0.3, gt=0, lt=1, description="share of decided items held out to measure each proposal")
    rounds: int = Field(1, ge=1, le=20, description="proposals tried per refinement, each from the best so far")
    seed: int = Field(0, description="seed of the train / held-out split")
