"""Review decisions from the viewer: the one write it makes, through the same path as `assay review`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException

from assay.core.errors import AssayError

if TYPE_CHECKING:
    from assay.ui.viewer import Viewer


def apply_review(viewer: Viewer, item_id: int, verdict: str, note: str | None) -> int:
    """Approve or reject one pending item (a separate read-write connection, closed at once);
    returns how many items are still pending. 409 when the item is not pending (any more)."""
    from assay.pipeline.repair.review import review

    if verdict not in ("approved", "rejected"):
        raise HTTPException(400, "verdict must be approved or rejected")
    ids = [item_id]
    try:
        left, _ = review(viewer.directory, viewer.runtime, approve=ids if verdict == "approved" else [],
                         reject=ids if verdict == "rejected" else [], approve_all=False, reject_all=False,
                         note=note, by=viewer.reviewer)
    except AssayError as err:
        raise HTTPException(409, str(err)) from None
    return len(left)
