"""The report's token-mask section: the share of response tokens masked, overall and by cluster.

Present only when the session stored masks (`assay tokens DIR`, or `[tokens] enabled = true`
in `assay run`): a session without the table (from before masks) or with no mask has none.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from assay.report.charts import hbars
from assay.session.token_masks import masked_share_by_cluster
from assay.trace.view import has_table

TOKEN_COLOUR = "#CC79A7"  # Okabe-Ito reddish purple: not used by the other sections
CLUSTER_ROWS = 20  # the largest clusters by tokens; the rest as one "other" row


def token_summary(conn: Any) -> dict[str, Any] | None:
    """Masked tokens overall and per cluster (largest first), or None when the session has no mask."""
    if not has_table(conn, "token_masks"):
        return None
    rows = sorted(masked_share_by_cluster(conn), key=lambda r: (-r[1], r[0]))
    total = sum(tokens for _, tokens, _ in rows)
    if not total:
        return None
    samples = conn.execute("SELECT COUNT(*) FROM token_masks").fetchone()[0]
    scorers = [r[0] for r in conn.execute("SELECT DISTINCT scorer FROM token_masks ORDER BY scorer")]
    clusters = [{"cluster": c, "tokens": t, "masked": m} for c, t, m in rows[:CLUSTER_ROWS]]
    rest = rows[CLUSTER_ROWS:]
    if rest:
        clusters.append({"cluster": f"other ({len(rest)} clusters)", "tokens": sum(r[1] for r in rest),
                         "masked": sum(r[2] for r in rest)})
    return {"samples": int(samples), "tokens": total, "masked": sum(m for _, _, m in rows),
            "scorers": scorers, "clusters": clusters}


def token_section(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """The section as the template shows it: the overall share, one bar per cluster, the table rows."""
    if summary is None:
        return None
    rows = [{**c, "share": _share(c["masked"], c["tokens"])} for c in summary["clusters"]]
    chart: Markup = hbars([(r["cluster"], round(100 * r["masked"] / r["tokens"], 1) if r["tokens"] else 0.0)
                           for r in rows], colour=TOKEN_COLOUR, title="masked share of response tokens (%) by cluster")
    return {**summary, "share": _share(summary["masked"], summary["tokens"]), "rows": rows, "chart": chart}


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "—"
