"""The LLM gateway against the scripted fake model."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel, Field

from assay.llm.budget import BudgetLedger
from assay.core.errors import BudgetExhausted
from assay.llm.gateway import Gateway, GatewaySettings, parse_structured
from assay.llm.cache import ResponseCache
from assay.llm.transport import FatalError, TransientError
from assay.session.session import Session
from assay.testing.scripted import RecordedSleeps, ScriptedTransport, scripted_gateway
from assay.trace.log import REDACTED

GOOD = '{"score": 4, "reason": "correct and clear"}'
MESSAGES = [{"role": "user", "content": "Rate: What is 2+2? -> 4"}]


class Verdict(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str


make_gateway = scripted_gateway


async def ask(gateway: Gateway, messages: list[dict] | None = None, **kw: object):
    return await gateway.complete(agent="judge", model="fake/model", messages=messages or MESSAGES,
                                  output_type=Verdict, prompt_version="judge/1", sample_ids=["s1"], **kw)


def calls(session: Session) -> list[dict]:
    return [dict(r) for r in session.conn.execute("SELECT * FROM llm_calls ORDER BY id")]


async def test_valid_answer_is_parsed_and_traced(session: Session) -> None:
    fake = ScriptedTransport([GOOD])
    result = await ask(make_gateway(session, fake))
    assert result.ok and result.value == Verdict(score=4, reason="correct and clear")
    assert not result.cached and len(result.call_ids) == 1
    (row,) = calls(session)
    assert row["outcome"] == "ok" and row["agent"] == "judge" and row["response"] == GOOD
    assert row["prompt_tokens"] == 10 and row["completion_tokens"] == 5
    linked = session.conn.execute("SELECT sample_id FROM llm_call_samples WHERE call_id = ?", (row["id"],)).fetchall()
    assert [r[0] for r in linked] == ["s1"]
    # The schema travels both as an instruction and as the request's schema.
    request = fake.requests[0]
    assert request.schema == Verdict.model_json_schema()
    assert request.messages[0]["role"] == "system" and '"score"' in request.messages[0]["content"]


async def test_invalid_json_is_repaired_with_the_validation_error(session: Session) -> None:
    fake = ScriptedTransport(['{"score": 9, "reason": "great"}', GOOD])
    result = await ask(make_gateway(session, fake))
    assert result.ok and result.value.score == 4
    repair = fake.requests[1].messages
    assert repair[-2] == {"role": "assistant", "content": '{"score": 9, "reason": "great"}'}
    assert "score" in repair[-1]["content"] and "less than or equal to 5" in repair[-1]["content"]
    assert [r["outcome"] for r in calls(session)] == ["invalid", "ok"]


async def test_still_invalid_after_repair_is_a_recorded_failure_not_data(session: Session) -> None:
    fake = ScriptedTransport(["I think it is fine!", "Still no JSON, sorry."])
    result = await ask(make_gateway(session, fake))
    assert not result.ok and result.value is None
    assert result.raw == "Still no JSON, sorry." and result.error
    rows = calls(session)
    assert [r["outcome"] for r in rows] == ["invalid", "invalid"]
    assert rows[-1]["response"] == "Still no JSON, sorry." and rows[-1]["error"]


@pytest.mark.parametrize("noisy", [
    f"Here is my verdict:\n```json\n{GOOD}\n```",
    f"Sure! {GOOD} Hope that helps.",
    f"  {GOOD}\n",
])
def test_noisy_answers_around_valid_json_parse(noisy: str) -> None:
    value, error = parse_structured(noisy, Verdict)
    assert value == Verdict(score=4, reason="correct and clear") and error is None


def test_broken_answers_report_what_is_wrong() -> None:
    value, error = parse_structured('{"score": "high"}', Verdict)
    assert value is None and "score" in error and "reason" in error
    assert parse_structured("", Verdict)[0] is None


async def test_rate_limit_waits_for_retry_after_then_succeeds(session: Session) -> None:
    sleeps = RecordedSleeps()
    fake = ScriptedTransport([TransientError("429 Too Many Requests", retry_after=7.0), GOOD])
    result = await ask(make_gateway(session, fake, sleeps=sleeps))
    assert result.ok
    assert sleeps.waits == [7.0]
    assert [(r["outcome"], r["attempt"]) for r in calls(session)] == [("error", 1), ("ok", 2)]


async def test_timeouts_are_retried_with_growing_backoff(session: Session) -> None:
    sleeps = RecordedSleeps()
    fake = ScriptedTransport([TransientError("Timeout"), TransientError("Timeout"), GOOD])
    result = await ask(make_gateway(session, fake, sleeps=sleeps, backoff_base_s=1.0))
    assert result.ok and len(sleeps.waits) == 2
    assert 0.5 <= sleeps.waits[0] <= 1.0 and 1.0 <= sleeps.waits[1] <= 2.0


async def test_retries_stop_after_max_attempts_with_a_recorded_failure(session: Session) -> None:
    fake = ScriptedTransport(default=TransientError("503 unavailable"))
    result = await ask(make_gateway(session, fake, max_attempts=3))
    assert not result.ok and "503" in result.error and "3 attempts" in result.error
    assert len(fake.requests) == 3


async def test_fatal_errors_are_not_retried(session: Session) -> None:
    fake = ScriptedTransport([FatalError("AuthenticationError: bad key")])
    result = await ask(make_gateway(session, fake))
    assert not result.ok and "bad key" in result.error and len(fake.requests) == 1


async def test_budget_exhausted_stops_cleanly_under_concurrency(session: Session) -> None:
    fake = ScriptedTransport(default=GOOD, delay_s=0.005)
    gateway = make_gateway(session, fake, budget=BudgetLedger(max_calls=2), cache=False, concurrency=4)
    asked = [ask(gateway, [{"role": "user", "content": f"q{i}"}]) for i in range(6)]
    outcomes = await asyncio.gather(*asked, return_exceptions=True)
    assert sum(isinstance(o, BudgetExhausted) for o in outcomes) == 4 and len(fake.requests) == 2
    assert "2 of 2 calls" in str(next(o for o in outcomes if isinstance(o, BudgetExhausted)))


async def test_token_budget_counts_what_was_spent_under_concurrency(session: Session) -> None:
    fake = ScriptedTransport(default=GOOD, delay_s=0.005)
    gateway = make_gateway(session, fake, budget=BudgetLedger(max_tokens=20), cache=False, concurrency=4)
    asked = [ask(gateway, [{"role": "user", "content": f"q{i}"}]) for i in range(6)]
    outcomes = await asyncio.gather(*asked, return_exceptions=True)
    assert any(isinstance(o, BudgetExhausted) and "token budget" in str(o) for o in outcomes)
    # Each call is 15 tokens: the limit is overshot by at most the 4 calls that can be in flight.
    assert 20 <= gateway.budget.tokens <= 20 + 4 * 15 and gateway.budget.tokens == 15 * len(fake.requests)


async def test_rerun_hits_the_cache_and_makes_zero_calls(session: Session) -> None:
    first = ScriptedTransport(['not json', GOOD])
    assert (await ask(make_gateway(session, first))).ok
    # A resumed session: new gateway, same DB, a model that must not be asked anything.
    again = ScriptedTransport()
    result = await ask(make_gateway(session, again, budget=BudgetLedger(max_calls=0)))
    assert result.ok and result.cached and again.requests == []
    assert [r["outcome"] for r in calls(session)][-2:] == ["cached", "cached"]


async def test_budget_is_restored_from_the_trace_with_the_cache_on(session: Session) -> None:
    gateway = make_gateway(session, ScriptedTransport([GOOD, "not json", GOOD]), cache=True)
    await ask(gateway)
    await ask(gateway)  # from the cache: free
    await ask(gateway, [{"role": "user", "content": "another"}])  # invalid, then repaired: two paid calls
    ledger = BudgetLedger(max_calls=5)
    ledger.restore(session.conn)
    assert (ledger.calls, ledger.tokens) == (3, 45)
    assert [r["outcome"] for r in calls(session)] == ["ok", "cached", "invalid", "ok"]
    # (A call in flight at a kill counts too: tests/test_trust_llm_budget.py kills a real process.)


async def test_concurrency_is_bounded(session: Session) -> None:
    fake = ScriptedTransport(default=GOOD, delay_s=0.01)
    gateway = make_gateway(session, fake, concurrency=3, cache=False)
    results = await asyncio.gather(*(ask(gateway, [{"role": "user", "content": f"q{i}"}]) for i in range(12)))
    assert all(r.ok for r in results) and fake.max_in_flight == 3


async def test_api_keys_never_reach_the_trace(tmp_path, runtime) -> None:
    from dataclasses import replace

    from assay.core.config import Config

    secret = "sk-live-0123456789abcdef"
    session = Session.open(tmp_path / "s", replace(runtime, env={**runtime.env, "OPENAI_API_KEY": secret}), Config(), create=True)
    fake = ScriptedTransport([FatalError(f"401 invalid key {secret}"), f'{{"score": 3, "reason": "{secret}"}}'])
    gateway = make_gateway(session, fake)
    leaky = [{"role": "user", "content": f"my key is {secret}"}]
    await ask(gateway, leaky, params={"api_key": secret, "temperature": 0})
    await ask(gateway, [{"role": "user", "content": "again"}], params={"api_key": secret})
    session.trace.event("note", f"key {secret}")
    session.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "s").glob("session.db*"))
    assert secret.encode() not in raw
    reopened = Session.open(tmp_path / "s", runtime, Config(), create=False)
    dumped = json.dumps([dict(r) for r in reopened.conn.execute("SELECT * FROM llm_calls")])
    assert REDACTED in dumped and "api_key" not in dumped
