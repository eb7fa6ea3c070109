"""The session report (`report.html`): what the session aimed for, did, spent and produced.

`collect` reads the session DB (plus one fetch of stored embeddings for the pool map) into
a `ReportData`, and renders nothing; `assay.report.html.render` turns it into one
self-contained HTML page, and `assay.report.write.write_report` writes that page.
Everything is read with a handful of grouped queries, so a 5,000-sample session reports in
about a second.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from assay.report.code_checks import code_summary
from assay.report.pool_map import PoolMap, pool_map_of
from assay.pipeline.compare_view import session_comparison
from assay.report.preference import preference_counts
from assay.report.tokens import token_summary
from assay.report.cues import cue_summary
from assay.report.rubric import rubric_summary

DROP_FAMILIES = 20


@dataclass(frozen=True)
class RoundRow:
    """One round of the loop, with what it found at its start and what it produced."""

    round: int
    action: str
    rationale: str
    planner: str
    metrics: dict[str, Any]
    outcome: dict[str, Any]


@dataclass(frozen=True)
class CostRow:
    """LLM spend of one agent or round."""

    key: str
    calls: int  # attempts sent to a model (cache hits excluded)
    cached: int
    failed: int
    prompt_tokens: int
    completion_tokens: int
    usd: float


@dataclass(frozen=True)
class DropRow:
    """Dropped samples of one reason family (the part of the reason before the first colon)."""

    family: str
    count: int
    example: str
    stage: str


@dataclass
class ReportData:
    """Everything the report shows, gathered from the session."""

    session_id: str
    created_at: str
    version: str
    inputs: list[str]
    dry_run: bool
    models: list[str]
    stop_reason: str | None
    stop_message: str
    targets: list[Any]
    status_counts: dict[str, int]
    op_counts: dict[str, int]
    rounds: list[RoundRow]
    before: list[float]
    after: list[float]
    after_label: str
    drops: list[DropRow]
    pool_map: PoolMap | None
    map_note: str
    cost_by_agent: list[CostRow]
    cost_by_round: list[CostRow]
    budget: dict[str, Any] = field(default_factory=dict)
    code: dict[str, Any] | None = None  # samples with code, code drops, code_correctness (report/code_checks.py)
    preference: dict[str, Any] | None = None  # pair counts by source (assay/report/preference.py)
    comparison: dict[str, Any] | None = None  # seeds against synthetic samples (assay/pipeline/compare_view.py)
    tokens: dict[str, Any] | None = None  # masked tokens overall and by cluster (assay/report/tokens.py)
    cues: dict[str, Any] | None = None  # significant bias cues, prevalence before and after (assay/report/cues.py)
    rubric: dict[str, Any] | None = None  # rubric refinement runs and the review order (assay/report/rubric.py)


def collect(session: Any, state: Any) -> ReportData:
    """Read everything the report shows from the session DB, the store and the loop state."""
    conn = session.conn
    rows = conn.execute("SELECT id, status, reason, op FROM samples ORDER BY rowid").fetchall()
    latest = _verdicts(conn, first=False)
    selected = [r["id"] for r in rows if r["status"] == "selected"]
    after_ids, after_label = (selected, "selected") if selected else (
        [r["id"] for r in rows if r["status"] == "active"], "active pool (nothing selected yet)")
    first = _verdicts(conn, first=True)
    seeds = [r["id"] for r in rows if r["op"] == "seed"]
    pool_map, map_note = pool_map_of(session, rows, latest)
    return ReportData(
        session_id=str(session.meta("session_id", "")), created_at=str(session.meta("created_at", "")),
        version=str(session.meta("assay_version", "")), inputs=_inputs(conn),
        dry_run=bool(session.meta("dry_run", False) or getattr(session.config, "dry_run", False)),
        models=[r[0] for r in conn.execute("SELECT DISTINCT model FROM llm_calls ORDER BY model")],
        stop_reason=getattr(state, "stop_reason", None), stop_message=getattr(state, "stop_message", "") or "",
        targets=list(getattr(state, "targets", []) or []),
        status_counts=dict(Counter(r["status"] for r in rows)), op_counts=dict(Counter(r["op"] for r in rows)),
        rounds=_rounds(conn, state),
        before=[first[i] for i in seeds if i in first], after=[latest[i] for i in after_ids if i in latest],
        after_label=after_label, drops=_drops(conn), pool_map=pool_map, map_note=map_note,
        cost_by_agent=_costs(conn, "agent"), cost_by_round=_costs(conn, "round"),
        budget=session.config.budget.model_dump(exclude_none=True), preference=preference_counts(session),
        comparison=session_comparison(session), code=code_summary(conn), tokens=token_summary(conn),
        cues=cue_summary(session), rubric=rubric_summary(session),
    )


def _verdicts(conn: Any, *, first: bool) -> dict[str, float]:
    """Each sample's first (or latest) successful overall score."""
    pick = "MIN" if first else "MAX"
    query = (f"SELECT j.sample_id, j.overall FROM judgements j JOIN (SELECT {pick}(id) AS chosen FROM judgements"
             " WHERE overall IS NOT NULL AND error IS NULL GROUP BY sample_id) c ON j.id = c.chosen")
    return {r[0]: float(r[1]) for r in conn.execute(query)}


def _inputs(conn: Any) -> list[str]:
    """The files the session ingested, from its ingest events."""
    found: list[str] = []
    for (data,) in conn.execute("SELECT data FROM events WHERE kind = 'ingest' ORDER BY id"):
        for item in json.loads(data).get("files", []):
            if item.get("path") and item["path"] not in found:
                found.append(str(item["path"]))
    return found


# What each round did, as (round, label, count) rows: decisions it made (judging and selection
# are shown on their own), samples it added (by op and where they ended up), verdicts it gave.
ROUND_FACTS = (
    "SELECT round, agent || ' ' || action, COUNT(*) FROM decisions WHERE round IS NOT NULL"
    " AND agent NOT IN ('judge', 'select') GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT round, '+' || op || ' ' || status, COUNT(*) FROM samples WHERE op != 'seed' AND round IS NOT NULL"
    " GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT round, 'judged', COUNT(*) FROM judgements WHERE round IS NOT NULL GROUP BY 1",
)


def _rounds(conn: Any, state: Any) -> list[RoundRow]:
    """Round 0 (the first pass), then the rounds table with the state's outcomes and what each round did.

    The selection (the `select` event) is the outcome of the last round, the one that finished.
    """
    recorded = {r.round: r.outcome for r in getattr(state, "history", []) or []}
    facts: dict[int, dict[str, int]] = {}
    for query in ROUND_FACTS:
        for round_, label, n in conn.execute(query):
            facts.setdefault(round_, {})[label] = n
    found = [_first_pass(conn, facts.get(0, {}).get("judged", 0))] if conn.execute(
        "SELECT 1 FROM samples LIMIT 1").fetchone() else []
    for row in conn.execute("SELECT round, action, rationale, planner, metrics, outcome FROM rounds ORDER BY round"):
        number = row["round"]
        outcome = {**json.loads(row["outcome"] or "{}"), **recorded.get(number, {}), **facts.get(number, {})}
        found.append(RoundRow(row["round"], row["action"], row["rationale"], row["planner"],
                              json.loads(row["metrics"] or "{}"), outcome))
    selection = conn.execute("SELECT data FROM events WHERE kind = 'select' ORDER BY id DESC LIMIT 1").fetchone()
    if selection is not None and found:
        picked = json.loads(selection[0])
        found[-1].outcome["selected"] = (f"{picked.get('size', 0):,} of {picked.get('qualifying', 0):,} qualifying"
                                         f" ({picked.get('method', '?')})")
    return found


def _first_pass(conn: Any, judged: int) -> RoundRow:
    """Round 0: what ingest, screening and the first judging did to the input pool."""
    seeds = conn.execute("SELECT COUNT(*) FROM samples WHERE op = 'seed'").fetchone()[0]
    screened = conn.execute(
        "SELECT COUNT(*) FROM decisions WHERE action = 'drop' AND round = 0 AND agent != 'select'").fetchone()[0]
    outcome = {"+seed": seeds, "dropped by screening": screened}
    if judged:
        outcome["judged"] = judged
    return RoundRow(0, "ingest · screen · judge", "the first pass over the input pool", "—", {}, outcome)


def _drops(conn: Any) -> list[DropRow]:
    """Dropped samples by reason family, largest first; past the top families, one 'other' row."""
    families: Counter[str] = Counter()
    examples: dict[str, Counter[str]] = {}
    for reason, n in conn.execute("SELECT reason, COUNT(*) FROM samples WHERE status = 'dropped' GROUP BY reason"):
        family = (reason or "(no reason)").split(":", 1)[0]
        families[family] += n
        examples.setdefault(family, Counter())[reason or "(no reason)"] += n
    stages: dict[str, Counter[str]] = {}
    for agent, reason, n in conn.execute(
            "SELECT agent, reason, COUNT(*) FROM decisions WHERE action = 'drop' GROUP BY agent, reason"):
        stages.setdefault((reason or "(no reason)").split(":", 1)[0], Counter())[agent] += n
    ranked = families.most_common()
    rows = [DropRow(f, n, examples[f].most_common(1)[0][0], _top(stages.get(f))) for f, n in ranked[:DROP_FAMILIES]]
    rest = ranked[DROP_FAMILIES:]
    if rest:
        names = ", ".join(f for f, _ in rest[:5]) + (" …" if len(rest) > 5 else "")
        rows.append(DropRow(f"other ({len(rest)} families)", sum(n for _, n in rest), names, ""))
    return rows


def _top(counter: Counter[str] | None) -> str:
    return counter.most_common(1)[0][0] if counter else ""


def _costs(conn: Any, key: str) -> list[CostRow]:
    """LLM spend grouped by agent or round (rounds in order, agents by cost)."""
    order = "round IS NULL, round" if key == "round" else "SUM(cost_usd) DESC, agent"
    query = (f"SELECT {key}, SUM(outcome != 'cached'), SUM(outcome = 'cached'), SUM(outcome IN ('error', 'invalid')),"
             f" SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_usd) FROM llm_calls"
             f" GROUP BY {key} ORDER BY {order}")
    return [CostRow("—" if r[0] is None else str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]),
                    float(r[6])) for r in conn.execute(query)]
