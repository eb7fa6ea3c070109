"""`assay expand`: the orchestration on a scripted model, and the command as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.agents.synthesizer import SynthOptions
from assay.llm.budget import BudgetLedger
from assay.graphs.expansion import expand
from assay.pipeline.expand.steps import CandidateScreen, ExpandOptions, ExpansionAgents, ExpansionReport, request_source
from assay.llm.transport import CompletionRequest
from assay.core.records import Message, Sample
from assay.session.session import Session
from assay.testing.scripted import scripted_context
from tests.conftest import EXAMPLES
from tests.test_cli import assay

REQUEST = "hard multi-step SQL debugging questions"
PLAN = {"topic": "SQL debugging", "attributes": ["null handling", "joins"], "personas": ["a hospital data analyst"],
        "example_instruction": "Why does my LEFT JOIN lose the customers without orders?"}
ATTRIBUTES = {"topic": "SQL debugging",
              "triplets": [{"topic": "SQL debugging", "relation": "uses", "attribute": "WHERE clause"}],
              "proposed": [{"topic": "SQL debugging", "relation": "involves", "attribute": "indexes"}]}
# Distinct instruction/response pairs the fake writes, in turn: different enough not to be near-duplicates.
PAIRS = [
    ("Why does SELECT * FROM orders WHERE shipped = NULL return nothing, and how do I fix it?",
     "Comparing with NULL using the equals sign yields unknown, so no row matches. Write shipped IS NULL instead."),
    ("My LEFT JOIN between customers and orders drops customers who never ordered. What went wrong?",
     "A condition on the orders table in the WHERE clause turns the outer join into an inner one. Move it into ON."),
    ("A GROUP BY query on sales counts every row twice after I joined the refunds table. Explain the cause.",
     "Each sale matches several refund rows, which multiplies it. Aggregate refunds in a subquery before joining."),
    ("An index on email exists, yet lookups with LOWER(email) are slow. Why is the index ignored?",
     "The function hides the column from the plain index. Create an expression index on LOWER(email) instead."),
    ("My window function ranks ties differently on each run. How can the ordering be made stable?",
     "ROW_NUMBER picks any order among equal keys. Add a unique tiebreaker column, such as the primary key."),
    ("Why does NOT IN with a subquery return zero rows when the subquery holds one NULL value?",
     "NOT IN against a list that contains NULL is never true. Use NOT EXISTS, which treats missing matches correctly."),
    ("Dates filtered with BETWEEN '2024-01-01' AND '2024-01-31' miss the last day's evening orders. Why?",
     "The upper bound means midnight at the start of January 31st. Compare with less than February 1st instead."),
    ("Averages of integer columns come back truncated in PostgreSQL. What causes that and what is the remedy?",
     "Integer division discards fractions before averaging finishes. Cast one operand to numeric to keep decimals."),
]
JUDGE_SCORES = {"accuracy": 4, "helpfulness": 4, "instruction_following": 4, "clarity": 4, "safety": 5}


class FakeModel:
    """Answers each agent by the output model the request asks for."""

    def __init__(self, overall: tuple[float, ...] = (4.5,), relevance: int = 9, plan: dict | None = PLAN) -> None:
        self.overall, self.relevance, self.plan = overall, relevance, plan
        self.written = self.judged = 0

    def __call__(self, request: CompletionRequest) -> str:
        name = request.schema_name
        if name == "RequestPlan":
            return json.dumps(self.plan) if self.plan else "no plan today"
        if name == "AttributeSet":
            return json.dumps(ATTRIBUTES)
        if name in ("EvolvedInstruction", "PersonaInstruction", "ImprovedInstruction"):
            self.written += 1
            return json.dumps({"instruction": PAIRS[(self.written - 1) % len(PAIRS)][0]})
        if name == "Relevance":
            return json.dumps({"reason": "Same kind of SQL question.", "score": self.relevance})
        if name == "WrittenResponse":
            asked = request.messages[-1]["content"]
            return json.dumps({"response": next(r for q, r in PAIRS if q in asked)})
        if name == "JudgeVerdict":
            self.judged += 1
            overall = self.overall[(self.judged - 1) % len(self.overall)]
            return json.dumps({"issues": [], "scores": JUDGE_SCORES, "overall": overall, "rationale": "Fine."})
        raise AssertionError(f"unexpected request for {name}")


def seed(instruction: str, response: str) -> Sample:
    return Sample.create([Message(role="user", content=instruction), Message(role="assistant", content=response)])


SEEDS = [seed("Why does my WHERE clause return no rows when I compare with NULL?", "Use IS NULL; = NULL is unknown."),
         seed("How do I find customers without orders?", "LEFT JOIN orders and keep rows where the order id IS NULL.")]


async def run(session: Session, fake: FakeModel, seeds: list[Sample] = SEEDS, reference: list[Sample] | None = None,
              budget: BudgetLedger | None = None, **options: object) -> ExpansionReport:
    ctx, _ = scripted_context(session, default=fake, budget=budget)
    screen = CandidateScreen(reference if reference is not None else seeds)
    synth = options.pop("synth", SynthOptions())
    return await expand(ExpansionAgents(ctx, ctx, ctx), REQUEST, seeds, screen, session.trace,
                        ExpandOptions(synth=synth, **options))


def decisions(session: Session) -> list[tuple[str | None, str, str | None]]:
    rows = session.conn.execute("SELECT sample_id, action, reason FROM decisions WHERE agent = 'synthesizer' ORDER BY id")
    return [tuple(row) for row in rows]


async def test_keeps_n_judged_samples_and_traces_every_candidate(session: Session) -> None:
    pool_copy = seed(*PAIRS[0])  # the first candidate repeats a pool sample exactly
    report = await run(session, FakeModel(overall=(4.5, 2.0)), reference=[*SEEDS, pool_copy], n=3)
    assert len(report.kept) == 3 and report.stopped == "3 samples kept"
    assert all(k.judge_overall >= 3.5 and k.hop == 1 and k.sample.parent_ids == (k.seed_id,) for k in report.kept)
    assert {k.seed_id for k in report.kept} | {r.seed_id for r in report.rejected} == {s.id for s in SEEDS}  # in turn
    reasons = [r.reason for r in report.rejected]
    assert reasons[0] == f"duplicate_of:{pool_copy.id}" and "low_quality:2" in reasons
    logged = decisions(session)
    assert [a for _, a, _ in logged].count("synth_kept") == 3 and len(logged) == report.generated
    assert all(sample_id for sample_id, _, _ in logged)
    event = session.conn.execute("SELECT message, data FROM events WHERE kind = 'expand'").fetchone()
    assert json.loads(event[1])["kept"] == 3 and "kept 3 of" in event[0]
    assert report.calls > 0 and report.by_reason()["low_quality"] >= 1


async def test_second_hops_evolve_kept_candidates_with_the_seed_alongside(session: Session) -> None:
    fake = FakeModel()
    synth = SynthOptions(depth=2, persona_depth=0, breadth=1, ops=("reasoning",))
    report = await run(session, fake, seeds=SEEDS[:1], n=5, synth=synth)
    assert report.stopped.startswith("nothing left to expand") and [k.hop for k in report.kept] == [1, 2]
    first, second = report.kept
    assert second.sample.parent_ids == (first.sample.id,) and second.seed_id == SEEDS[0].id


async def test_a_spent_budget_stops_cleanly_with_what_passed(session: Session) -> None:
    report = await run(session, FakeModel(), budget=BudgetLedger(max_calls=9), n=5)
    assert report.stopped.startswith("budget spent") and report.calls == 9
    assert len(report.kept) < 5
    assert session.conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'expand'").fetchone()[0] == 1


async def test_without_seeds_the_request_is_the_seed(session: Session) -> None:
    report = await run(session, FakeModel(), seeds=[], reference=[], n=2)
    assert report.seedless and len(report.kept) == 2
    pseudo_seed = report.seed_ids[0]
    assert all(k.sample.source == request_source(REQUEST) and k.sample.parent_ids == (pseudo_seed,) for k in report.kept)
    assert {k.seed_id for k in report.kept} == {pseudo_seed}


async def test_an_unplannable_request_without_seeds_produces_nothing(session: Session) -> None:
    report = await run(session, FakeModel(plan=None), seeds=[], reference=[], n=2)
    assert report.kept == [] and report.generated == 0 and report.problems[0].startswith("failed:request:")
    assert "could not be planned" in report.stopped


async def test_irrelevant_candidates_are_repaired_once_then_dropped(session: Session) -> None:
    report = await run(session, FakeModel(relevance=3), n=2, max_candidates=4)
    assert report.kept == [] and report.stopped == "candidate limit reached (4)"
    assert report.by_reason() == {"irrelevant": 4}


# --- the command ------------------------------------------------------------------------------

def test_dry_run_writes_what_passed_and_explains_the_rejections(tmp_path: Path) -> None:
    out = tmp_path / "grown.jsonl"
    done = assay("expand", REQUEST, "--pool", str(EXAMPLES / "pool.jsonl"), "--n", "2", "--depth", "1", "--no-embed",
                 "--out", str(out), "--dry-run", home=tmp_path)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert 1 <= len(rows) <= 2
    for row in rows:
        assert set(row) == {"instruction", "input", "output", "_assay"}
        assert {"id", "parent_ids", "op", "topic", "attributes", "judge_overall"} <= set(row["_assay"])
        assert row["_assay"]["judge_overall"] >= 3.5
    assert "candidates generated" in done.stdout and "dry run: every answer is a placeholder" in done.stdout
    (session,) = (tmp_path / "sessions").glob("expand-grown.jsonl-*")  # under $ASSAY_HOME, not beside the output
    assert (session / "session.db").is_file() and not (tmp_path / "grown.jsonl.session").exists()
    assert f"session: {session}" in done.stderr


def test_pool_and_session_together_or_an_empty_request_are_user_errors(tmp_path: Path) -> None:
    both = assay("expand", REQUEST, "--pool", "p.jsonl", "--session", str(tmp_path), "--out", str(tmp_path / "o.jsonl"),
                 "--dry-run", home=tmp_path, check=False)
    assert both.returncode == 2 and "give --pool or --session, not both" in both.stderr
    empty = assay("expand", " ", "--out", str(tmp_path / "o.jsonl"), "--dry-run", home=tmp_path, check=False)
    assert empty.returncode == 2 and "the request is empty" in empty.stderr


@pytest.mark.slow
def test_session_seeds_come_from_its_store_and_new_samples_join_it(tmp_path: Path) -> None:
    session_dir = tmp_path / "session"
    assay("ingest", str(EXAMPLES / "pool.jsonl"), "--session", str(session_dir), home=tmp_path)
    out = tmp_path / "grown.jsonl"
    assay("expand", REQUEST, "--session", str(session_dir), "--n", "2", "--depth", "1", "--out", str(out), "--dry-run",
          home=tmp_path)
    kept = [json.loads(line)["_assay"] for line in out.read_text().splitlines()]
    assert kept
    history = json.loads(assay("trace", str(session_dir), "--sample", kept[0]["id"], "--json", home=tmp_path).stdout)
    node = history["sample"]
    assert (node["op"], node["status"], node["parent_ids"]) == ("synth", "active", kept[0]["parent_ids"])
    assert [d["action"] for d in node["decisions"]] == ["synth_kept"]
    assert history["ancestors"] and history["ancestors"][0]["id"] == kept[0]["parent_ids"][0]  # the seed, in the store


class RecordingStore:
    """Stands in for the session's Chroma store: remembers what was added and which statuses changed."""

    def __init__(self, known: set[str]) -> None:
        self.known, self.statuses, self.scores = set(known), {}, {}

    def add(self, samples: list[Sample]) -> list[str]:
        new = [s.id for s in samples if s.id not in self.known]
        self.known |= set(new)
        return new

    def set_status(self, ids: list[str], status: object, reason: str | None = None) -> None:
        self.statuses.update({i: (str(status), reason) for i in ids})

    def set_scores(self, scores: dict[str, dict[str, float]]) -> None:
        self.scores.update(scores)

    def close(self) -> None:
        """The session closes its store; this one holds nothing to release."""


async def test_recording_in_a_session_never_drops_a_sample_it_did_not_add(session: Session) -> None:
    from assay.pipeline.expand.request import _record_in_session

    pool_copy = seed(*PAIRS[0])
    report = await run(session, FakeModel(overall=(4.5, 2.0)), reference=[*SEEDS, pool_copy], n=3)
    store = RecordingStore({s.id for s in [*SEEDS, pool_copy]})
    session.__dict__["store"] = store  # the cached property, without loading Chroma and the embedder
    _record_in_session(session, report)
    assert pool_copy.id not in store.statuses
    low = [r.sample.id for r in report.rejected if r.reason.startswith("low_quality")]
    assert low and all(store.statuses[i] == ("dropped", r) for i, r in
                       ((r.sample.id, r.reason) for r in report.rejected if r.sample.id in low))
    assert set(store.scores) == {k.sample.id for k in report.kept}
    assert all(store.scores[k.sample.id]["judge_overall"] == 4.5 for k in report.kept)
