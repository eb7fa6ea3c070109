"""The report's preference-pair section: how many DPO/KTO pairs the session's evidence yields, by source."""

from __future__ import annotations

from typing import Any


def preference_counts(session: Any) -> dict[str, Any]:
    """The pair counts (kept and dropped, by source) at the default filters, as `assay export` would write them."""
    from assay.pipeline.preference.build import build_pairs
    from assay.pipeline.preference.model import DEFAULT_MIN_MARGIN

    return {**build_pairs(session.conn).summary(), "min_margin": DEFAULT_MIN_MARGIN}
