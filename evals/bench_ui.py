"""Benchmark: the trace viewer and `assay trace` on a session of 100k samples.

    python evals/bench_ui.py [--samples 100000] [--repeat 5] [--keep DIR]

Builds a synthetic session straight into the session DB (samples, two decisions each, LLM
calls with realistic prompt sizes, verdicts, review items, five rounds; no embeddings), then
times the viewer's main pages and API answers (in-process HTTP, warm) and the `assay trace`
reports. The baseline beside each figure is the same request on a copy of the DB without
migration 0003 (its indexes and the lineage table), i.e. what the queries cost unindexed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = ["the", "of", "a", "to", "and", "in", "is", "it", "you", "that", "for", "on", "with", "as", "are", "this", "be",
         "at", "have", "from", "or", "one", "by", "what", "can", "river", "poem", "recipe", "python", "query", "delta",
         "sorting", "table", "index", "garden", "planet", "winter", "summer", "music", "history"]
AGENTS = ("judge", "dedup", "heuristics", "rewriter", "select")
UNINDEX = """
DROP INDEX samples_status_page; DROP INDEX samples_round_op; DROP INDEX samples_cluster; DROP INDEX samples_quality;
DROP INDEX decisions_round; DROP INDEX llm_calls_spend; DROP TRIGGER samples_lineage; DROP TABLE sample_parents;
"""


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build(directory: Path, n: int, seed: int = 0) -> None:
    """Write the synthetic session."""
    from assay.core.config import Config
    from assay.session.session import Runtime, Session

    rng = random.Random(seed)
    session = Session.open(directory, Runtime(env={"ASSAY_HOME": str(directory.parent / "home")}), Config(), create=True)
    conn = session.conn
    n_seeds = int(n * 0.9)
    ids = [f"{i:016x}" for i in range(n)]
    rows = []
    for i, sid in enumerate(ids):
        op = "seed" if i < n_seeds else ("rewrite" if i < n_seeds + (n - n_seeds) // 2 else "synth")
        parent = [] if op == "seed" else [ids[rng.randrange(n_seeds)]]
        status = rng.choice(("active", "active", "active", "dropped", "selected"))
        reason = None if status != "dropped" else rng.choice(
            ("too_short", "empty_output", f"duplicate_of:{ids[rng.randrange(n)]}", f"replaced_by:{ids[rng.randrange(n)]}"))
        messages = [{"role": "user", "content": text(rng, 25)}, {"role": "assistant", "content": text(rng, 90)}]
        rows.append((sid, json.dumps(messages), "pool.jsonl", op, json.dumps(parent), "alpaca", status, reason,
                     json.dumps({"judge_overall": rng.randint(1, 5), "length": rng.random()}),
                     json.dumps({"cluster": [str(rng.randrange(200))]}), 0 if op == "seed" else rng.randint(1, 5),
                     "2026-01-01T00:00:00"))
    with conn:
        conn.executemany("INSERT INTO samples (id, messages, source, op, parent_ids, format, status, reason, scores, tags,"
                         " round, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        calls = [("2026", rng.randint(0, 5), rng.choice(("judge", "rewriter", "synthesizer")), "dry-run", "judge@1",
                  json.dumps({"messages": [{"role": "user", "content": text(rng, 300)}], "params": {}}), text(rng, 60),
                  "ok", 1, 800.0, 400, 60, 0.0002) for _ in range(n // 2)]
        conn.executemany("INSERT INTO llm_calls (ts, round, agent, model, prompt_version, request, response, outcome,"
                         " attempt, latency_ms, prompt_tokens, completion_tokens, cost_usd) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         calls)
        conn.executemany("INSERT INTO llm_call_samples VALUES (?, ?)", [(c + 1, ids[rng.randrange(n)]) for c in range(n // 2)])
        conn.executemany(
            "INSERT INTO decisions (ts, round, sample_id, agent, action, reason, call_ids) VALUES (?,?,?,?,?,?,?)",
            [("2026", rng.randint(0, 5), ids[rng.randrange(n)], rng.choice(AGENTS), rng.choice(("judged", "drop", "keep")),
              text(rng, 8), json.dumps([rng.randrange(1, n // 2)])) for _ in range(2 * n)])
        conn.executemany(
            "INSERT INTO judgements (ts, round, sample_id, source, overall, scores, issues) VALUES (?,?,?,?,?,?,?)",
            [("2026", 0, sid, "llm", rng.randint(1, 5), "{}", "[]") for sid in ids])
        conn.executemany("INSERT INTO rounds (round, action, rationale, planner, started_at, finished_at) VALUES (?,?,?,?,?,?)",
                         [(r, rng.choice(("repair", "expand")), text(rng, 10), "policy", "2026", "2026") for r in range(1, 6)])
        payload = json.dumps({"sample": {"messages": json.loads(rows[0][1]), "source": "s", "parent_ids": [],
                                         "op": "rewrite", "tags": {}, "format": "alpaca"}})
        conn.executemany(
            "INSERT INTO review_items (round, kind, sample_id, parent_id, summary, payload, status, created_at, decided_by)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            [(rng.randint(1, 5), "repair", ids[n_seeds + i], ids[rng.randrange(n_seeds)], "rewrite", payload,
              "pending" if i < 20 else "approved", "2026", None if i < 20 else "auto") for i in range(n // 20)])
    session.close()


def facts_of(directory: Path) -> dict[str, object]:
    """Ids worth requesting: a rewrite, its parent, a rowid near the end."""
    import sqlite3

    conn = sqlite3.connect(directory / "session.db")
    child = conn.execute("SELECT id, parent_ids FROM samples WHERE op = 'rewrite' LIMIT 1").fetchone()
    last = conn.execute("SELECT MAX(rowid) FROM samples").fetchone()[0]
    conn.close()
    return {"rewrite": child[0], "parent": json.loads(child[1])[0], "deep_after": last - 60}


def facts_count(directory: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(directory / "session.db")
    found = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    conn.close()
    return int(found)


def requests(facts: dict[str, object]) -> list[tuple[str, str]]:
    """(label, path) of what a reviewer opens."""
    return [
        ("overview (timeline, counts, spend)", "/"),
        ("samples, first page", "/samples"),
        ("samples, last page (keyset)", f"/samples?after={facts['deep_after']}"),
        ("samples, status=dropped", "/samples?status=dropped"),
        ("samples, dropped + reason", "/samples?status=dropped&reason=duplicate_of"),
        ("samples, cluster", "/samples?cluster=7"),
        ("samples, judge score 4-5", "/samples?score_min=4&score_max=5"),
        ("samples, text search", "/samples?q=river%20poem%20winter"),
        ("sample page (lineage, calls)", f"/samples/{facts['parent']}"),
        ("rewrite diff", f"/samples/{facts['rewrite']}/diff"),
        ("decisions, agent=judge", "/decisions?agent=judge"),
        ("decisions, round=3", "/decisions?round=3"),
        ("decision with its calls", "/decisions/1000"),
        ("LLM call", "/calls/1000"),
        ("review list", "/review"),
        ("API samples, dropped", "/api/samples?status=dropped"),
        ("API summary", "/api/summary"),
    ]


def time_pages(directory: Path, facts: dict[str, object], repeat: int) -> dict[str, float]:
    import asyncio

    import httpx

    from assay.session.session import Runtime
    from assay.ui.app import create_app

    app = create_app(directory, Runtime(env={}))
    viewer = app.app.state.viewer  # type: ignore[attr-defined]

    async def run() -> dict[str, float]:
        found = {}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8484") as client:
            for label, path in requests(facts):
                await client.get(path)  # compiles the template, warms the page cache
                times = []
                for _ in range(repeat):
                    viewer._cache.clear()  # time the aggregates too, not a repeat view's cache hit
                    started = time.perf_counter()
                    response = await client.get(path)
                    times.append(time.perf_counter() - started)
                    assert response.status_code == 200, (path, response.status_code, response.text[:300])
                found[label] = statistics.median(times) * 1000
        return found

    return asyncio.run(run())


def time_cli(directory: Path, facts: dict[str, object], repeat: int) -> dict[str, float]:
    from assay.session.session import Runtime
    from assay.pipeline.trace_report import trace_report

    cases = {"assay trace (summary)": {}, "assay trace --round 3": {"round": 3},
             "assay trace --reason duplicate_of": {"reason": "duplicate_of"},
             "assay trace --grep 'river poem'": {"grep": "river poem"},
             "assay trace --sample": {"sample": facts["parent"]}}
    found = {}
    for label, options in cases.items():
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            trace_report(directory, Runtime(env={}), **options)
            times.append(time.perf_counter() - started)
        found[label] = statistics.median(times) * 1000
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per request (median shown)")
    parser.add_argument("--keep", type=Path,
                        help="build the sessions here and keep them; reused when already there (default: a temporary folder)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_ui_"))
    indexed, bare = root / "indexed", root / "unindexed"
    if not (bare / "session.db").is_file():
        shutil.rmtree(root, ignore_errors=True)
        started = time.perf_counter()
        build(indexed, args.samples)
        print(f"built {args.samples:,} samples, {2 * args.samples:,} decisions, {args.samples // 2:,} LLM calls "
              f"in {time.perf_counter() - started:.0f} s ({(indexed / 'session.db').stat().st_size / 1e6:.0f} MB)")
        shutil.copytree(indexed, bare)
        import sqlite3

        raw = sqlite3.connect(bare / "session.db")
        raw.executescript(UNINDEX)
        raw.close()
    facts = facts_of(indexed)
    print(f"session of {facts_count(indexed):,} samples in {root}")
    rows = []
    for name, fn in (("page", time_pages), ("cli", time_cli)):
        now, before = fn(indexed, facts, args.repeat), fn(bare, facts, args.repeat)
        rows += [(name, label, now[label], before[label]) for label in now]
    print(f"\n| {'request':<40} | {'ms (indexed)':>12} | {'ms without 0003':>15} |")
    print(f"|{'-' * 42}|{'-' * 14}|{'-' * 17}|")
    for _kind, label, now_ms, before_ms in rows:
        print(f"| {label:<40} | {now_ms:>12.1f} | {before_ms:>15.1f} |")
    print(f"\nmedian of {args.repeat} warm runs; in-process HTTP (httpx ASGI transport): query + rendering, no network;\n"
          "aggregate caches cleared before each run (a repeat view of an unchanged session skips the summary and facets)")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
