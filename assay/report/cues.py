"""The report's bias-cue section: each significant cue of the latest detection, its prevalence at detection and now.

Before is the share of the tested responses carrying the cue when it was detected; after is
the share of the current pool carrying it (the selected samples once selection ran, else the
active ones; after any repair, `assay cues repair`), decided by the same `Cue.present`. Present
only when the session has findings (`assay cues detect DIR`, or `[cues] detect = true` in `assay run`).
"""

from __future__ import annotations

# The numbers live below both interface layers, so the viewer's "Bias cues" page shows the same ones.
from assay.pipeline.repair.cue_summary import cue_summary

__all__ = ["cue_summary"]
