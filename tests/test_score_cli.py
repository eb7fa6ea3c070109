"""`assay score` as a user runs it, on the example pool with its answer key."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.test_cli import assay

HEURISTIC_KINDS = {"empty_output", "truncated", "merged_instructions", "url_only_input", "refusal", "repetition"}


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> tuple[list[dict], Path, Path]:
    home = tmp_path_factory.mktemp("home")
    work = tmp_path_factory.mktemp("score")
    out = work / "pool.scored.jsonl"
    assay("score", str(EXAMPLES / "pool.jsonl"), "--out", str(out), "--decontam", str(EXAMPLES / "benchmark.jsonl"),
          "--dedup", "exact,minhash,semantic", "--session", str(work / "session"), home=home)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return rows, work / "session", home


def test_every_record_comes_back_in_its_format_with_a_verdict(scored) -> None:
    rows, _, _ = scored
    pool = [json.loads(line) for line in (EXAMPLES / "pool.jsonl").read_text().splitlines()]
    assert len(rows) == len(pool)
    assert [{k: v for k, v in r.items() if k != "_assay"} for r in rows] == pool
    assert all(r["_assay"]["status"] in ("active", "dropped") for r in rows)
    kept = [r for r in rows if r["_assay"]["status"] == "active"]
    assert all(r["_assay"]["cluster"] is not None and "novelty" in r["_assay"]["scores"] for r in kept)


def test_planted_defects_are_dropped_with_their_reason(scored) -> None:
    rows, _, _ = scored
    key = json.loads((EXAMPLES / "defects.json").read_text())["defects"]
    duplicates_caught = []
    for defect in key:
        verdict = rows[defect["line"] - 1]["_assay"]
        if defect["kind"] in HEURISTIC_KINDS:
            assert verdict["reason"] == defect["kind"], defect
        elif defect["kind"] == "contaminated":
            assert verdict["reason"] == f"contaminated:benchmark:{defect['benchmark_id']}", defect
        elif defect["kind"] in ("exact_duplicate", "near_duplicate"):
            duplicates_caught.append((verdict["reason"] or "").startswith("duplicate_of:"))
    # One planted near-duplicate paraphrases its answer (cosine 0.91, under the 0.95 default): 9 of 10.
    assert sum(duplicates_caught) >= len(duplicates_caught) - 1, duplicates_caught
    listed = {d["line"] for d in key}
    good_dropped = [i + 1 for i, r in enumerate(rows) if i + 1 not in listed and r["_assay"]["status"] == "dropped"]
    assert len(good_dropped) <= 3, good_dropped


def test_the_session_holds_the_verdicts_and_the_trace_explains_them(scored) -> None:
    rows, session, home = scored
    conn = sqlite3.connect(session / "session.db")
    dropped = conn.execute("SELECT COUNT(*) FROM samples WHERE status = 'dropped'").fetchone()[0]
    distinct_dropped = len({r["_assay"]["id"] for r in rows if r["_assay"]["status"] == "dropped"
                            and r["_assay"]["dropped_by"] != "exact_repeat"})
    assert dropped == distinct_dropped
    agents = dict(conn.execute("SELECT agent, COUNT(*) FROM decisions WHERE action = 'drop' GROUP BY agent").fetchall())
    assert set(agents) <= {"heuristics", "decontam", "dedup"} and sum(agents.values()) == dropped
    a_drop = next(r["_assay"] for r in rows if r["_assay"]["dropped_by"] == "heuristics")
    history = json.loads(assay("trace", str(session), "--sample", a_drop["id"], "--json", home=home).stdout)
    assert history["sample"]["reason"] == a_drop["reason"]
    assert [(d["agent"], d["action"], d["reason"]) for d in history["sample"]["decisions"]] == [("heuristics", "drop", a_drop["reason"])]
