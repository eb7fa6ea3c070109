"""`assay trace`: the summary by round, decision searches (--round, --agent, --reason, --grep), lineage trees."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from assay.cli.app import app
from assay.session.db import connect, migrations
from assay.core.errors import AssayError
from assay.cli.trace import trace_views
from assay.pipeline.trace_report import trace_report
from assay.trace.view import sample_history
from tests.conftest import fixed_runtime
from tests.session_factory import BuiltSession, build_session

SECRET = "sk-live-0123456789abcdefSECRET"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltSession:
    home = tmp_path_factory.mktemp("home")
    return build_session(tmp_path_factory.mktemp("sessions") / "s", fixed_runtime({"ASSAY_HOME": str(home)}))


def report(built: BuiltSession, **options: object) -> tuple[str, dict]:
    return trace_report(built.dir, fixed_runtime(), **options)  # type: ignore[arg-type]


def shown(kind: str, data: dict, directory: Path) -> str:
    console = Console(width=220, record=True, file=open("/dev/null", "w"))  # noqa: SIM115 - closed with the console
    console.print(trace_views(kind, data, directory))
    return console.export_text()


def test_summary_counts_rounds_reasons_review_and_spend(built: BuiltSession) -> None:
    kind, data = report(built)
    assert kind == "summary"
    plans = [(r["round"], (r["plan"] or {}).get("action"), r["added"], r["review"]) for r in data["rounds"]]
    assert plans == [(0, None, {"seed": 9}, {}), (1, "repair", {"rewrite": 1}, {"approved": 1}),
                     (2, "expand", {"synth": 1}, {"approved": 1}), (3, "repair", {}, {"pending": 2})]
    # Reasons group by their code: duplicate_of:<id> and replaced_by:<id> count once each.
    assert {(r["status"], r["reason"]): r["count"] for r in data["samples"]} == {
        ("active", None): 8, ("dropped", "duplicate_of"): 1, ("dropped", "empty_output"): 1, ("dropped", "replaced_by"): 1}
    assert {(r["status"], r["kind"]): r["count"] for r in data["review"]} == {
        ("approved", "expand"): 1, ("approved", "repair"): 1, ("pending", "repair"): 2}
    assert data["spend"]["calls"] == 19 and data["spend"]["cost_usd"] == pytest.approx(19 * 0.00021)
    text = shown(kind, data, built.dir)
    for expected in ("round 3 · repair (policy) · in progress", "cluster 2 is under-covered", "duplicate_of", "pending",
                     "rewriter", "spend: 19 LLM calls"):
        assert expected in text, expected


def test_round_lists_its_decisions_with_the_plan(built: BuiltSession) -> None:
    kind, data = report(built, round=1)
    assert kind == "decisions"
    assert [(d["agent"], d["action"], d["sample_id"]) for d in data["decisions"]] == [
        ("rewriter", "rewrite_accepted", built.repaired), ("review", "repair_applied", built.rewrite),
        ("judge", "judged", built.rewrite)]
    assert data["decisions"][0]["call_ids"] == built.rewrite_call_ids
    assert data["round"]["plan"]["action"] == "repair" and data["total"] == 3
    text = shown(kind, data, built.dir)
    assert "round 1 · repair (policy)" in text and "3 samples below the quality floor" in text
    assert "rewriter → rewrite_accepted [calls 8,9,10]" in text


def test_agent_and_round_narrow_together(built: BuiltSession) -> None:
    _, every = report(built, agent="rewriter")
    _, late = report(built, agent="rewriter", round=3)
    assert every["total"] == 3 and late["total"] == 2
    assert {d["sample_id"] for d in late["decisions"]} == {built.seeds[5], built.seeds[8]}


def test_reason_matches_the_code_and_counts_samples_carrying_it(built: BuiltSession) -> None:
    _, data = report(built, reason="duplicate_of")
    assert [(d["agent"], d["sample_id"]) for d in data["decisions"]] == [("dedup", built.duplicate)]
    assert data["samples_with_reason"] == {"dropped": 1}
    _, replaced = report(built, reason="replaced_by")
    assert replaced["decisions"] == [] and replaced["samples_with_reason"] == {"dropped": 1}
    _, none = report(built, reason="duplicate")  # a code is matched whole, not as a prefix
    assert none["total"] == 0 and none["samples_with_reason"] == {}


def test_grep_searches_reasons_and_sample_text_literally(built: BuiltSession) -> None:
    _, data = report(built, grep="CANBERRA")
    assert {d["sample_id"] for d in data["decisions"]} == {built.rewrite}
    _, by_reason = report(built, grep="both orders")
    assert {d["action"] for d in by_reason["decisions"]} == {"rewrite_accepted"} and by_reason["total"] == 3
    _, wildcard = report(built, grep="%")  # LIKE wildcards are taken literally
    assert wildcard["total"] == 0


def test_limit_pages_and_says_more_match(built: BuiltSession) -> None:
    kind, data = report(built, agent="judge", limit=2)
    assert len(data["decisions"]) == 2 and data["total"] == 9 and data["next_after"] == data["decisions"][-1]["id"]
    assert "more decisions match: raise --limit" in shown(kind, data, built.dir)


def test_sample_lineage_tree_with_decisions_and_calls(built: BuiltSession) -> None:
    kind, data = report(built, sample=built.rewrite[:7])
    assert kind == "lineage" and data["sample"]["id"] == built.rewrite
    assert data["tree"] == [{"id": built.repaired, "op": "seed", "status": "dropped", "reason": f"replaced_by:{built.rewrite}",
                             "focus": False, "children": [{"id": built.rewrite, "op": "rewrite", "status": "active",
                                                           "reason": None, "focus": True, "children": []}]}]
    (parent,) = data["ancestors"]
    assert [d["action"] for d in parent["decisions"]] == ["judged", "rewrite_accepted"]
    assert [c["id"] for c in parent["llm_calls"]][-3:] == built.rewrite_call_ids
    assert parent["review_items"][0]["status"] == "approved" and parent["review_items"][0]["decided_by"] == "alice"
    assert data["sample"]["judgements"][0]["overall"] == 4.5
    text = shown(kind, data, built.dir)
    for expected in ("lineage", "rewriter → rewrite_accepted", "↳ call 8 rewriter rewrite@0123456789 dry-run ok 1400 ms",
                     "↳ call 9 judge judge_pairwise", "verdict (llm, round 0): 2; wrong_answer",
                     "review item 1 (repair, round 1): approved by alice", "Canberra"):
        assert expected in text, expected


def test_sample_lineage_narrowed_to_one_agent(built: BuiltSession) -> None:
    _, data = report(built, sample=built.repaired, agent="judge")
    assert {d["agent"] for d in data["sample"]["decisions"]} == {"judge"}
    assert {c["agent"] for c in data["sample"]["llm_calls"]} == {"judge"}


def test_bad_combinations_fail_clearly(built: BuiltSession) -> None:
    with pytest.raises(AssayError, match="one or the other"):
        report(built, sample=built.rewrite, reason="x")
    with pytest.raises(AssayError, match="no round 9"):
        report(built, round=9)
    with pytest.raises(AssayError, match="no sample with id 'zz'"):
        report(built, sample="zz")


def test_cli_options_reach_the_report(built: BuiltSession) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["trace", str(built.dir), "--agent", "dedup", "--json"])
    assert done.exit_code == 0, done.output
    assert [d["sample_id"] for d in json.loads(done.output)["decisions"]] == [built.duplicate]
    done = runner.invoke(app, ["trace", str(built.dir), "--sample", built.synth, "--json"])
    assert json.loads(done.output)["ancestors"][0]["id"] == built.seeds[2]
    done = runner.invoke(app, ["trace", str(built.dir), "--round", "3"])
    assert done.exit_code == 0 and "round 3 · repair" in done.output


def test_secrets_are_redacted_from_the_report(tmp_path: Path) -> None:
    built = build_session(tmp_path / "s", fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")}))
    leak_into_trace(built.dir, built.seeds[0])
    runtime = fixed_runtime({"OPENAI_API_KEY": SECRET})
    _, data = trace_report(built.dir, runtime, sample=built.seeds[0])
    dumped = json.dumps(data)
    assert SECRET not in dumped and "[REDACTED]" in dumped


def leak_into_trace(directory: Path, sample_id: str) -> int:
    """A call and a decision holding a key, written past the Trace (as an older assay or another tool might have)."""
    conn = sqlite3.connect(directory / "session.db")
    with conn:
        cur = conn.execute(
            "INSERT INTO llm_calls (ts, round, agent, model, prompt_version, request, response, outcome, attempt,"
            " latency_ms) VALUES ('2026-01-01', 0, 'judge', 'm', 'p@1', ?, ?, 'ok', 1, 5)",
            (json.dumps({"messages": [{"role": "user", "content": f"key {SECRET}"}], "params": {}}), f"echo {SECRET}"))
        conn.execute("INSERT INTO llm_call_samples VALUES (?, ?)", (cur.lastrowid, sample_id))
        conn.execute("INSERT INTO decisions (ts, round, sample_id, agent, action, reason, call_ids) VALUES "
                     "('2026-01-01', 0, ?, 'judge', 'judged', ?, ?)", (sample_id, f"used key {SECRET}", f"[{cur.lastrowid}]"))
    conn.close()
    return int(cur.lastrowid)


def test_lineage_index_is_backfilled_and_kept_current(tmp_path: Path) -> None:
    """Migration 0003 fills sample_parents from existing samples; a trigger adds new ones; old DBs still work."""
    path = tmp_path / "session.db"
    raw = sqlite3.connect(path)
    for number, _name, sql in migrations()[:2]:
        raw.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
    insert = ("INSERT INTO samples (id, messages, source, op, parent_ids, created_at) VALUES (?, '[]', 's', ?, ?, 't')")
    raw.execute(insert, ("p1", "seed", "[]"))
    raw.execute(insert, ("c1", "rewrite", '["p1"]'))
    raw.commit()
    old = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    old.row_factory = sqlite3.Row
    assert [n["id"] for n in sample_history(old, "p1")["descendants"]] == ["c1"]  # the LIKE fallback
    old.close()
    raw.close()
    conn = connect(path)
    assert [tuple(r) for r in conn.execute("SELECT parent_id, child_id FROM sample_parents")] == [("p1", "c1")]
    conn.execute(insert, ("g1", "rewrite", '["c1"]'))
    assert [n["id"] for n in sample_history(conn, "p1")["descendants"]] == ["c1", "g1"]
