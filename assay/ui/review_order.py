"""The Review page's order: "most informative first" (guideline effectiveness as active learning),
or the order the items were created in.

`assay.pipeline.rubric.priority.review_priority` ranks the pending expand and repair items: the
ones on which the base rubric and the refined one (`assay rubric refine`) disagree first, then by
the judge's uncertainty. The page shows that order, each item with its score and the reason, by
default whenever there is a ranking; `?order=created` gives the old order. Items the ranking does
not cover (an export item, decided items) follow in their usual order.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

ORDERS = ("informative", "created")


@dataclass(frozen=True)
class ReadOnlySession:
    """What `review_priority` reads of a session, over the viewer's read-only connection."""

    conn: sqlite3.Connection

    def meta(self, key: str, default: Any = None) -> Any:
        """A stored session fact, as `Session.meta` reads it."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default


def priorities(conn: sqlite3.Connection) -> dict[int, Any]:
    """The pending items' priorities (`ItemPriority`) by item id, in ranked order; empty without pending items."""
    from assay.pipeline.rubric.priority import review_priority
    from assay.trace.view import has_table

    if not has_table(conn, "review_items"):
        return {}
    return {p.item_id: p for p in review_priority(ReadOnlySession(conn))}


def ordered(items: list[dict[str, Any]], ranked: dict[int, Any], order: str | None) -> tuple[list[dict[str, Any]], str]:
    """The items in the asked order (default: informative when anything is ranked, else created), and that order.

    In the informative order every ranked item comes first, highest score first, carrying its
    `priority` (score and reason); the rest keep their places after it."""
    chosen = order if order in ORDERS else ("informative" if ranked else "created")
    if chosen == "created" or not ranked:
        return items, chosen
    rank = {item_id: i for i, item_id in enumerate(ranked)}
    first = sorted((i for i in items if i["id"] in rank), key=lambda i: rank[i["id"]])
    rest = [i for i in items if i["id"] not in rank]
    return [*({**i, "priority": ranked[i["id"]]} for i in first), *rest], chosen
