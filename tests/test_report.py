"""The session report: sections and numbers from a built session, escaping, self-containment, edge cases."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from assay.session.judgements import Judgement, record_judgements
from assay.core.records import Message, Origin, Sample, Status
from assay.report.data import collect
from assay.report.charts import bin_counts
from assay.report.pool_map import pca_2d
from assay.report.write import write_report
from assay.session.session import Session
from assay.graphs.state import CurationState, RoundRecord, TargetStatus
from assay.trace.log import CallRecord

EVIL = "<script>alert('x')</script>"
VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "wbr", "source", "track", "embed", "param"}
SVG_LEAVES = {"rect", "circle", "line", "path"}  # may be written self-closing


def sample(question: str, answer: str, **fields: object) -> Sample:
    messages = [Message(role="user", content=question), Message(role="assistant", content=answer)]
    return Sample.create(messages, source="pool.json", origin=Origin(format="alpaca"), **fields)


SEEDS = [
    sample("How do I reverse a list in Python?", "Use my_list.reverse() or my_list[::-1]."),
    sample("Write a SQL query counting rows per country.", "SELECT country, COUNT(*) FROM t GROUP BY country;"),
    sample("What is the boiling point of water at sea level?", "100 degrees Celsius."),
    sample("Give me a recipe for pancakes.", "Mix flour, eggs, milk; fry in a pan."),
    sample(f"Summarise this page: {EVIL}", "It shows an alert."),
    sample("Name three primary colours.", "Red, yellow and blue."),
    sample("Translate 'good morning' to French.", "Bonjour."),
    sample("What is 17 times 3?", "51"),
]
REWRITE = sample("What is 17 times 3?", "17 × 3 = 51.", parent_ids=(SEEDS[7].id,), op="rewrite")


def call(agent: str, round: int | None, outcome: str, cost: float, tokens: tuple[int, int]) -> CallRecord:
    return CallRecord(agent=agent, model="openai/gpt-test", prompt_version="v1", messages=[], params={},
                      outcome=outcome, attempt=1, latency_ms=10.0, prompt_tokens=tokens[0],
                      completion_tokens=tokens[1], cost_usd=cost, round=round)


@pytest.fixture(scope="module")
def minilm() -> np.ndarray:
    """Real all-MiniLM-L6-v2 vectors of SEEDS + [REWRITE], encoded once for the module (the model load is the cost)."""
    from assay.session.embeddings import Embedder

    return Embedder().encode([s.text() for s in [*SEEDS, REWRITE]])


def upsert_vectors(session: Session, samples: list[Sample], vectors: np.ndarray, round: int | None = None) -> None:
    """Store samples with given vectors, as `Store.add` does but without running the embedding model again."""
    session.store.collection.upsert(ids=[s.id for s in samples], embeddings=vectors)
    session.samples.insert(samples, round=round)


@pytest.fixture
def built(session: Session, minilm: np.ndarray) -> tuple[Session, CurationState]:
    """Eight seeds and one rewrite, judged, dropped and selected as a finished session would have them."""
    store = session.store
    upsert_vectors(session, SEEDS, minilm[:-1], round=0)
    upsert_vectors(session, [REWRITE], minilm[-1:], round=1)
    session.trace.event("ingest", "ingested", {"files": [{"path": f"/data/{EVIL}.json"}]})
    firsts = [4.5, 4.0, 3.0, 2.0, 1.0, 5.0, 4.0, 2.5]  # first verdicts of the seeds, in order
    clock = session.runtime.clock
    record_judgements(session.conn, clock, [Judgement(s.id, "llm", q, round=0) for s, q in zip(SEEDS, firsts)])
    record_judgements(session.conn, clock, [
        Judgement(SEEDS[0].id, "llm", 3.5, round=1),  # a later verdict: "after" uses it, "before" does not
        Judgement(SEEDS[1].id, "llm", None, error="timeout", round=1),  # a failed verdict counts for neither
        Judgement(REWRITE.id, "classifier", 5.0, round=1),
    ])
    store.set_status([SEEDS[0].id, SEEDS[1].id, SEEDS[5].id, REWRITE.id], Status.SELECTED)
    store.set_status([SEEDS[7].id], Status.DROPPED, f"replaced_by:{REWRITE.id}")
    store.set_status([SEEDS[3].id, SEEDS[4].id], Status.DROPPED, f"below_quality_floor:{EVIL}")
    session.trace.decision(SEEDS[3].id, "select", "drop", reason="below_quality_floor:2.00")
    session.trace.decision(SEEDS[6].id, "dedup", "drop", reason="duplicate_of:x", round=0)  # dropped, then restored
    session.trace.decision(REWRITE.id, "rewriter", "rewrite_accepted", round=1)
    session.trace.decision(SEEDS[2].id, "rewriter", "rewrite_rejected", round=1)
    session.trace.event("select", "selected 4", {"method": "deita", "size": 4, "qualifying": 5})
    with session.conn:
        session.conn.execute(
            "INSERT INTO rounds (round, action, rationale, planner, metrics, started_at) VALUES (?, ?, ?, ?, ?, ?)",
            (1, "repair", f"fix the worst {EVIL}", "policy",
             json.dumps({"active": 8.0, "judged": 8.0, "export_mean_quality": 3.25, "pool_mean_quality": None}), "t"))
    for record in (call("judge", 0, "ok", 0.01, (100, 20)), call("judge", 0, "ok", 0.02, (200, 30)),
                   call("judge", 0, "cached", 0.0, (0, 0)), call("rewriter", 1, "invalid", 0.005, (50, 10))):
        session.trace.llm_call(record)
    state = CurationState(
        round=1, stop_reason="max_rounds", stop_message=f"stopped after 1 rounds {EVIL}",
        targets=[TargetStatus(name="size", target=4, achieved=4, met=True, detail="4 samples qualify for 4"),
                 TargetStatus(name="mean_quality", target=4.5, achieved=4.125, met=False),
                 TargetStatus(name="duplicate_rate", target=0.05, achieved=0.0, met=True)],
        history=[RoundRecord(round=1, action="repair", rationale="r", metrics={}, outcome={"accepted": 1})],
    )
    return session, state


class Checker(HTMLParser):
    """Tracks open elements; records tags closed out of order and remote resource references."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.remote: list[str] = []
        self.svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "srcset") and value and not value.startswith("#"):
                self.remote.append(f"{tag} {name}={value}")
        if tag == "svg":
            self.svgs += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def checked(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == [], (checker.errors, checker.stack)
    assert checker.remote == []
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert "url(" not in page  # no CSS resource either
    return checker


def test_report_shows_targets_rounds_scores_drops_map_and_cost(built: tuple[Session, CurationState],
                                                              tmp_path: Path) -> None:
    session, state = built
    path = write_report(session, state, tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    checker = checked(page)
    assert checker.svgs == 4  # two histograms, the drop bars, the map
    for anchor in ("targets", "rounds", "scores", "drops", "map", "cost"):
        assert f'id="{anchor}"' in page
    assert "test0001" in page and "2026-01-01 00:00:00 UTC" in page  # session id and creation time
    assert "Stopped: max_rounds" in page and "2 of 3 targets met." in page
    assert re.search(r"<td>size</td><td[^>]*>≥ 4</td><td[^>]*>4</td><td><span class=\"ok\">✓", page)
    assert re.search(r"<td>mean_quality</td><td[^>]*>≥ 4.50</td><td[^>]*>4.12</td><td><span class=\"no\">✗", page)
    assert re.search(r"<td>duplicate_rate</td><td[^>]*>≤ 0.05</td>", page)
    # round 1: its metrics at start, the state's outcome and the rewrite it added (now selected)
    assert "active 8<br>judged 8<br>export_mean_quality 3.25" in page and "pool_mean_quality" not in page
    assert "accepted: 1<br>rewriter rewrite_accepted: 1<br>rewriter rewrite_rejected: 1<br>+rewrite selected: 1" in page
    # round 0, the first pass; the selection is the last round's outcome
    assert '<span class="kv">ingest · screen · judge</span>' in page
    assert "+seed: 8<br>dropped by screening: 1<br>judged: 8" in page
    assert "selected: 4 of 5 qualifying (deita)" in page
    # before: the 8 seeds' first verdicts; after: the 4 selected samples' latest good ones (3.5, 4.0, 5.0, 5.0)
    assert "n = 8 · mean 3.25 · median 3.50 · 50% score ≥ 4" in page
    assert "n = 4 · mean 4.38 · median 4.50 · 75% score ≥ 4" in page
    assert "4.5–5: 2 samples (25.0%)" in page and "4.5–5: 2 samples (50.0%)" in page
    # drops: two families, largest first, with the stage that dropped them
    assert page.index("below_quality_floor</text>") < page.index("replaced_by</text>")
    assert re.search(r"<td>below_quality_floor</td><td class=\"n\">2</td><td class=\"n\">66.7%</td><td>select</td>",
                     page)
    # the map: one point per sample (9) plus one legend dot per status (3)
    assert page.count("<circle") == 9 + 3 and "selected (4)" in page and "dropped (3)" in page
    # cost: 3 calls sent (the cached one apart), one failed, tokens and dollars by agent and by round
    assert "3 calls sent (plus 1 answered from the cache), 410 tokens, $0.0350" in page
    assert re.search(r"<td>judge</td><td class=\"n\">2</td><td class=\"n\">1</td><td class=\"n\">0</td>"
                     r"<td class=\"n\">300</td><td class=\"n\">50</td><td class=\"n\">\$0.0300</td>", page)
    assert re.search(r"<td>1</td><td class=\"n\">1</td><td class=\"n\">0</td><td class=\"n\">1</td>", page)
    assert "Dry run" not in page


def test_every_piece_of_session_text_is_escaped(built: tuple[Session, CurationState], tmp_path: Path) -> None:
    session, state = built
    page = write_report(session, state, tmp_path / "report.html").read_text(encoding="utf-8")
    assert EVIL not in page and "<script" not in page
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"  # markupsafe's escape (Jinja2 autoescape)
    # in the input file name, the stop message, the round rationale and the drop reason
    assert page.count(escaped) >= 4
    checked(page)


def test_score_views_use_first_verdicts_before_and_latest_after(built: tuple[Session, CurationState]) -> None:
    session, state = built
    data = collect(session, state)
    assert sorted(data.before) == sorted([4.5, 4.0, 3.0, 2.0, 1.0, 5.0, 4.0, 2.5])
    # selected: SEEDS[0] (latest 3.5), SEEDS[1] (latest ok 4.0; the failed verdict after it is skipped),
    # SEEDS[5] (5.0), the rewrite (5.0, from the classifier)
    assert sorted(data.after) == [3.5, 4.0, 5.0, 5.0] and data.after_label == "selected"


def test_histogram_bins_close_the_last_edge() -> None:
    assert bin_counts([1.0, 1.49, 1.5, 4.5, 5.0], (1.0, 1.5, 2.0, 4.5, 5.0)) == [2, 1, 0, 2]
    assert bin_counts([], (1.0, 2.0)) == [0]


def test_dry_run_sessions_carry_the_banner(session: Session, tmp_path: Path) -> None:
    session.set_meta("dry_run", True)
    page = write_report(session, CurationState(), tmp_path / "r.html").read_text(encoding="utf-8")
    assert "placeholder model: scores mean nothing" in page


def test_an_empty_session_reports_without_crashing(session: Session, tmp_path: Path) -> None:
    page = write_report(session, CurationState(), tmp_path / "r.html").read_text(encoding="utf-8")
    checked(page)
    for note in ("No targets were set.", "Nothing was done yet", "No sample has a judge verdict yet.",
                 "No sample was dropped.", "No map: the session holds no samples.", "No LLM calls were made.",
                 "The session has not stopped yet."):
        assert note in page


def test_samples_without_stored_embeddings_get_no_map(session: Session, tmp_path: Path) -> None:
    session.samples.insert(SEEDS[:3])
    # Opening the store rebuilds Chroma from SQLite; then Chroma loses them (a wiped server, say),
    # and so do the session's vector files (session/vectors.py), where they are kept too.
    session.store.collection.delete(ids=[s.id for s in SEEDS[:3]])
    with session.conn:
        session.conn.executemany("DELETE FROM vector_rows WHERE id = ?", [(s.id,) for s in SEEDS[:3]])
    page = write_report(session, CurationState(), tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No map: no stored embeddings." in page
    checked(page)


def test_one_sample_maps_to_one_point(session: Session, tmp_path: Path) -> None:
    upsert_vectors(session, SEEDS[:1], np.ones((1, 8), dtype=np.float32))
    page = write_report(session, CurationState(), tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count("<circle") == 1 + 3 and "all 1 samples" in page
    checked(page)


def test_a_large_pool_is_subsampled_deterministically(session: Session, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("assay.report.pool_map.MAP_LIMIT", 40)
    pool = [sample(f"question {i}", f"answer {i}") for i in range(70)]
    upsert_vectors(session, pool, np.random.default_rng(0).normal(size=(len(pool), 16)).astype(np.float32))
    session.store.set_status([s.id for s in pool[:20]], Status.DROPPED, "duplicate_of:x")
    first = write_report(session, CurationState(), tmp_path / "a.html").read_text(encoding="utf-8")
    second = write_report(session, CurationState(), tmp_path / "b.html").read_text(encoding="utf-8")
    assert first == second
    assert first.count("<circle") == 40 + 3 and "a seeded random 40 of 70 samples" in first
    assert len(first.encode()) < 40_000  # about 200 bytes a point, with its hover text


def test_drop_families_past_the_top_few_share_one_row(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("assay.report.data.DROP_FAMILIES", 1)
    reasons = ["duplicate_of:a", "duplicate_of:b", "truncated", "refusal"]
    session.samples.insert([sample(f"q{i}", "a", status=Status.DROPPED, reason=r) for i, r in enumerate(reasons)])
    drops = collect(session, CurationState()).drops
    assert [(d.family, d.count) for d in drops] == [("duplicate_of", 2), ("other (2 families)", 2)]
    assert drops[1].example in ("truncated, refusal", "refusal, truncated")


def test_pca_2d_projects_onto_the_directions_of_most_variance() -> None:
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(200, 3)) * [10.0, 3.0, 0.0]  # variance 100 : 9 : 0 along the axes
    xy, explained = pca_2d(spread + [5.0, -2.0, 7.0])
    assert xy.shape == (200, 2)
    assert np.allclose(xy.mean(axis=0), 0.0)  # centred
    for axis in (0, 1):  # the first component follows the widest axis, the second the next
        assert abs(np.corrcoef(xy[:, axis], spread[:, axis])[0, 1]) > 0.99
    assert explained[0] > 0.85 and 0.05 < explained[1] < 0.15 and sum(explained) == pytest.approx(1.0)
    # fewer dimensions than two, or no spread at all: zero-padded, nothing explained past what exists
    line, share = pca_2d(np.array([[0.0], [1.0], [3.0]]))
    assert np.allclose(line[:, 1], 0.0) and share == (pytest.approx(1.0), 0.0)
    point, none = pca_2d(np.ones((1, 8)))
    assert np.allclose(point, 0.0) and none == (0.0, 0.0)
