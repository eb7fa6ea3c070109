"""The decomposer agent: claims for verification, attributes for expansion, tags for selection.

Each task lives in its own module; this one gathers their public names.
"""

from __future__ import annotations

from assay.agents.decompose_attributes import AttributeSet, Triplet, extract_attributes
from assay.agents.decompose_claims import SENTENCE_KINDS, ClaimSet, Sentence, SentenceKind, extract_claims
from assay.agents.decompose_tags import SampleTags, normalise_tag, normalise_tags, tag_sample

__all__ = [
    "SENTENCE_KINDS", "AttributeSet", "ClaimSet", "SampleTags", "Sentence", "SentenceKind", "Triplet",
    "extract_attributes", "extract_claims", "normalise_tag", "normalise_tags", "tag_sample",
]
