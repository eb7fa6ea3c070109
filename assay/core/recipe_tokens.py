"""The recipe's `[tokens]` section: token-level cleaning (issue 16, IGTC).

`assay tokens` (pipeline/tokens/) scores every response token by loss(base) - loss(reference)
and masks the lowest-scoring share from the training loss. In `assay run`, `enabled = true`
scores the curated samples once the session is done. Core imports nothing of assay.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenSettings(BaseModel):
    """`[tokens]`: the models that score tokens and how many tokens are masked."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(False, description="assay run: score the curated samples' tokens and store the masks")
    reference: str | None = Field(None, description="reference causal LM (HF name or folder, or a .gguf); "
                                  "default: the embedded SmolLM2")
    base: str | None = Field(None, description="base causal LM; default: the reference model with the "
                             "instruction removed from the context (template and system prompt kept)")
    tokenizer: str | None = Field(None, description="tokenizer of the written input_ids/labels; default: the "
                                  "reference model's")
    mask_share: float = Field(0.2, ge=0, lt=1, description="share of response tokens masked (lowest scores)")
    scope: Literal["global", "sample"] = Field("global", description="one cut over the pool, or one per sample")
    max_length: int = Field(1024, ge=16, description="tokens per scored row (context + turn); a longer turn is "
                            "scored up to this length and its tail left unmasked")
    batch_tokens: int = Field(4096, ge=64, description="padded tokens per forward pass (raise it on a GPU)")
    batch_size: int = Field(64, ge=1, description="rows per forward pass at most")
    device: str | None = Field(None, description="torch device; default cuda when available, else cpu")
    dtype: str | None = Field(None, description="torch dtype name (bfloat16 on a GPU); default float32")
