"""The model names assay answers itself, without a provider: the dry-run model and the local aliases.

Pricing (the dry-run model is free) and the transports (which model to route where) both
need them, so they sit below both.
"""

from __future__ import annotations

DRY_RUN_MODEL = "dry-run"
# Names a user may give for the embedded SmolLM2 model (assay.llm.local_model).
LOCAL_MODEL_ALIASES = {"local", "embedded", "smollm2"}
