"""The report's code section: how much of the pool holds code, what the code checks dropped, how the judge rated it.

Read from the session DB alone: the screen's `code_blocks` score marks a sample with code,
the reasons `code_syntax:<language>` and `code_runtime:python` name the drops, and the judge's
`judge_code_correctness` score (given only where a response holds code) its verdicts.
"""

from __future__ import annotations

from typing import Any


def code_summary(conn: Any) -> dict[str, Any]:
    """Samples with code (by status), drops by code reason, and the judge's code_correctness scores."""
    by_status = {status: n for status, n in conn.execute(
        "SELECT status, COUNT(*) FROM samples WHERE json_extract(scores, '$.code_blocks') > 0 GROUP BY status")}
    drops = {reason: n for reason, n in conn.execute(
        "SELECT reason, COUNT(*) FROM samples WHERE reason LIKE 'code\\_syntax:%' ESCAPE '\\' "
        "OR reason LIKE 'code\\_runtime:%' ESCAPE '\\' GROUP BY reason ORDER BY COUNT(*) DESC, reason")}
    judged, mean, low = conn.execute(
        "SELECT COUNT(s), AVG(s), SUM(s <= 2) FROM (SELECT json_extract(scores, '$.judge_code_correctness') AS s "
        "FROM samples) WHERE s IS NOT NULL").fetchone()
    return {"samples": sum(by_status.values()), "by_status": by_status, "drops": drops,
            "judged": int(judged or 0), "mean": mean, "low": int(low or 0)}
