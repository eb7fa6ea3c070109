"""The recipe's `[cues]` section: bias-cue detection and repair (issue 16, RAZOR-style).

Detection (`assay cues detect`, pipeline/cues/) finds surface cues of a response that are
associated with the outcome beyond cluster and length; the repair (`assay cues repair`,
pipeline/repair/cues.py) asks the rewriter to remove them and keeps a rewrite only when the cue
is gone, the pairwise judge finds it at least as good in both orders, and the meaning is kept
(embedding cosine and the claim check). In `assay run`, `repair = true` runs detection once
after the pool is judged and the repair as its own round. Core imports nothing of assay.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CueSettings(BaseModel):
    """`[cues]`: whether `assay run` detects and repairs bias cues, and the thresholds both use."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    detect: bool = Field(False, description="assay run: detect bias cues once the pool is judged")
    repair: bool = Field(False, description="assay run: detect (implies detect) and then repair the cues found")
    outcome: Literal["score", "kept"] = Field("score", description="what a cue must predict: the judge's overall "
                                              "score, or kept (1) / dropped (0)")
    alpha: float = Field(0.05, gt=0, lt=1, description="a cue is significant at this adjusted p-value")
    min_support: float = Field(0.01, gt=0, lt=1, description="share of samples a candidate cue needs (and >= 20)")
    min_cosine: float = Field(0.9, ge=-1, le=1, description="repair: embedding cosine(original, rewrite) at least")
    min_claims_kept: float = Field(0.9, ge=0, le=1, description="repair: share of the original's claims the "
                                   "rewrite still supports, at least")
    max_repairs: int = Field(50, ge=0, description="repair: samples rewritten at most per run")
