"""Budgets are caps under concurrency; unpriced models are refused; calls lost at a kill are counted.

Issue 11, defects 3, 11 (budget tests ran only sequential calls; the cache-restore test ran only
with the cache off) and 15 (calls in flight at a kill were paid twice and never counted).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from assay.llm.budget import BudgetLedger
from assay.core.concurrency import run_chunked
from assay.core.errors import BudgetExhausted, ConfigError
from assay.llm.gateway import Gateway
from assay.llm.pricing import Price
from assay.session.session import Session
from assay.testing.scripted import ScriptedTransport, scripted_gateway

GOOD = '{"score": 4, "reason": "fine"}'
# 10 prompt and 5 completion tokens a scripted answer: 10 * 0.4 / 1000 + 5 * 1.2 / 1000 = $0.01 a call.
CENT_A_CALL = Price(input_per_1k=0.4, output_per_1k=1.2)


class Verdict(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str


async def ask(gateway: Gateway, content: str, model: str = "fake/model"):
    return await gateway.complete(agent="judge", model=model, messages=[{"role": "user", "content": content}],
                                  output_type=Verdict, prompt_version="judge/1")


def paid(session: Session) -> tuple[int, float]:
    row = session.conn.execute("SELECT COUNT(*), COALESCE(SUM(cost_usd), 0) FROM llm_calls WHERE outcome != 'cached'").fetchone()
    return int(row[0]), float(row[1])


async def test_the_issue_case_one_slot_one_cent_makes_one_call(session: Session) -> None:
    """--budget-usd 0.01, $0.01 a call, concurrency 1, one chunk of 32: one call, not 32."""
    fake = ScriptedTransport(default=GOOD, delay_s=0.001)
    gateway = scripted_gateway(session, fake, budget=BudgetLedger(max_usd=0.01), cache=False, concurrency=1, price=CENT_A_CALL)
    results, stopped = await run_chunked([f"q{i}" for i in range(32)], lambda q: ask(gateway, q), 32, lambda: None)
    assert len(fake.requests) == 1 and sum(r is not None for r in results) == 1
    assert stopped is not None and "$0.0100 of $0.0100" in stopped and "1 call" in stopped
    assert paid(session) == (1, pytest.approx(0.01))


@pytest.mark.parametrize("concurrency", [2, 4, 8])
async def test_concurrent_calls_overshoot_at_most_the_calls_in_flight(session: Session, concurrency: int) -> None:
    fake = ScriptedTransport(default=GOOD, delay_s=0.005)
    cap = 0.05
    gateway = scripted_gateway(session, fake, budget=BudgetLedger(max_usd=cap), cache=False, concurrency=concurrency,
                               price=CENT_A_CALL)
    results, stopped = await run_chunked([f"q{i}" for i in range(64)], lambda q: ask(gateway, q), 4 * concurrency,
                                         lambda: None)
    calls, usd = paid(session)
    assert stopped and calls == len(fake.requests) == gateway.budget.calls
    assert usd <= cap + concurrency * 0.01 + 1e-9, f"{calls} calls, ${usd:.4f} against a cap of ${cap}"
    assert usd >= cap - 1e-9  # the cap is used, not left idle
    assert gateway.budget.usd == pytest.approx(usd) and gateway.budget.in_flight == 0


async def test_call_and_token_caps_hold_under_concurrency(session: Session) -> None:
    fake = ScriptedTransport(default=GOOD, delay_s=0.005)
    gateway = scripted_gateway(session, fake, budget=BudgetLedger(max_calls=5), cache=False, concurrency=8)
    await run_chunked([f"q{i}" for i in range(40)], lambda q: ask(gateway, q), 40, lambda: None)
    assert len(fake.requests) == 5  # a call cap is claimed at the send: never overshoots
    tokens = scripted_gateway(session, ScriptedTransport(default=GOOD, delay_s=0.005),
                              budget=BudgetLedger(max_tokens=60), cache=False, concurrency=4)
    await run_chunked([f"t{i}" for i in range(40)], lambda q: ask(tokens, q), 40, lambda: None)
    assert tokens.budget.tokens <= 60 + 4 * 15


async def test_a_usd_budget_on_an_unpriced_model_is_refused_before_any_call(session: Session) -> None:
    fake = ScriptedTransport(default=GOOD)
    gateway = scripted_gateway(session, fake, budget=BudgetLedger(max_usd=1.0), cache=False)
    with pytest.raises(ConfigError, match=r"fake/model has no known price.*--price-usd-per-1k-tokens"):
        await ask(gateway, "q")
    assert fake.requests == [] and paid(session) == (0, 0.0)
    # Without a USD cap an unpriced model is fine; with the user's price it is charged.
    assert (await ask(scripted_gateway(session, fake, cache=False), "q")).ok
    priced = scripted_gateway(session, fake, budget=BudgetLedger(max_usd=1.0), cache=False, price=CENT_A_CALL)
    assert (await ask(priced, "q2")).cost_usd == pytest.approx(0.01) and priced.budget.usd == pytest.approx(0.01)


def test_build_gateway_refuses_an_unpriced_model_in_the_recipe(session: Session) -> None:
    from assay.core.config import Config
    from assay.llm.factory import build_gateway

    config = Config.model_validate({"models": {"judge": "openai/no-such-model-xyz"}, "budget": {"max_usd": 1},
                                    "llm": {"api_base": "http://127.0.0.1:9"}})
    with pytest.raises(ConfigError, match="openai/no-such-model-xyz has no known price"):
        build_gateway(config, session.trace, session.conn)
    priced = config.model_copy(update={"llm": config.llm.model_copy(update={"price_per_1k_input": 0.5,
                                                                            "price_per_1k_output": 1.5})})
    assert build_gateway(priced, session.trace, session.conn).settings.price == Price(0.5, 1.5)
    free = Config.model_validate({"budget": {"max_usd": 1}, "dry_run": True})
    build_gateway(free, session.trace, session.conn)  # the dry-run model is known to cost nothing


async def test_each_call_is_recorded_before_it_is_sent(session: Session) -> None:
    seen: list[tuple[str, float]] = []

    def answer(request):
        seen.extend(session.conn.execute("SELECT outcome, cost_usd FROM llm_calls").fetchall())
        return GOOD

    gateway = scripted_gateway(session, ScriptedTransport(default=answer), cache=False, price=CENT_A_CALL)
    await ask(gateway, "q")
    assert len(seen) == 1 and seen[0][0] == "in_flight" and seen[0][1] > 0  # the estimate, counted if we die now
    assert [tuple(r) for r in session.conn.execute("SELECT outcome, cost_usd FROM llm_calls")] == [("ok", pytest.approx(0.01))]


async def test_a_cancelled_call_keeps_its_estimated_cost(session: Session) -> None:
    fake = ScriptedTransport(default=GOOD, delay_s=30)
    gateway = scripted_gateway(session, fake, cache=False, price=CENT_A_CALL)
    task = asyncio.create_task(ask(gateway, "q"))
    while not fake.requests:
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (outcome, cost), = session.conn.execute("SELECT outcome, cost_usd FROM llm_calls").fetchall()
    assert outcome == "cancelled" and cost > 0 and gateway.budget.in_flight == 0
    assert gateway.budget.usd == pytest.approx(cost)


KILLED_RUN = textwrap.dedent("""
    import asyncio, sys, time
    from pathlib import Path
    from assay.core.config import Config
    from assay.llm.pricing import Price
    from assay.session.session import Session
    from tests.conftest import fixed_runtime
    from assay.testing.scripted import ScriptedTransport, scripted_gateway
    from tests.test_trust_llm_budget import GOOD, CENT_A_CALL, ask

    folder, marker = Path(sys.argv[1]), Path(sys.argv[2])

    def hang(request):
        marker.write_text("sent")
        time.sleep(120)  # the kill lands here, with the request sent and unanswered

    session = Session.open(folder, fixed_runtime({"ASSAY_HOME": sys.argv[3]}), Config(), create=True)
    gateway = scripted_gateway(session, ScriptedTransport([GOOD, GOOD, hang]), cache=True, price=CENT_A_CALL)
    async def main():
        await ask(gateway, "first")
        await ask(gateway, "second")
        await ask(gateway, "third")
    asyncio.run(main())
""")


def test_a_resumed_budget_counts_calls_in_flight_at_a_kill_with_the_cache_on(tmp_path: Path) -> None:
    folder, marker = tmp_path / "s", tmp_path / "sent"
    repo = Path(__file__).resolve().parents[1]
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(folder), str(marker), str(tmp_path / "home")],
                             cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline, "the child never sent its third call"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    from assay.core.config import Config
    from tests.conftest import fixed_runtime

    session = Session.open(folder, fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")}), Config(), create=False)
    ledger = BudgetLedger(max_calls=4, max_usd=1.0)
    ledger.restore(session.conn)
    assert ledger.calls == 3, "the call in flight at the kill may have been paid: it must count"
    assert ledger.usd >= 0.02 + 0.005  # two paid cents and the estimate of the lost call
    # Resumed with the cache on: the two answered requests are free, the lost one is paid again.
    fake = ScriptedTransport(default=GOOD)
    gateway = scripted_gateway(session, fake, budget=ledger, cache=True, price=CENT_A_CALL)
    first, second = asyncio.run(ask(gateway, "first")), asyncio.run(ask(gateway, "second"))
    assert first.cached and second.cached and fake.requests == []
    assert asyncio.run(ask(gateway, "third")).ok and len(fake.requests) == 1 and ledger.calls == 4
    with pytest.raises(BudgetExhausted, match="4 of 4 calls"):
        asyncio.run(ask(gateway, "fourth"))
    session.close()


def test_assay_run_refuses_a_usd_budget_on_an_unpriced_model_before_creating_anything(tmp_path: Path) -> None:
    from tests.conftest import EXAMPLES
    from tests.test_cli import assay

    out = tmp_path / "S"
    args = ("run", str(EXAMPLES / "pool.jsonl"), "--out", str(out), "--model", "openai/self-hosted-xyz", "--budget-usd", "0.01")
    refused = assay(*args, home=tmp_path / "home", check=False)
    assert refused.returncode == 2 and not out.exists()
    assert refused.stderr.strip().count("\n") == 0 and "openai/self-hosted-xyz has no known price" in refused.stderr
    assert "--price-usd-per-1k-tokens" in refused.stderr


async def test_identical_requests_in_flight_together_are_paid_once(session: Session) -> None:
    fake = ScriptedTransport(default=GOOD, delay_s=0.01)
    gateway = scripted_gateway(session, fake, cache=True, concurrency=4)
    results = await asyncio.gather(*(ask(gateway, "same question") for _ in range(3)))
    assert all(r.ok for r in results) and len(fake.requests) == 1
    assert sorted(r[0] for r in session.conn.execute("SELECT outcome FROM llm_calls")) == ["cached", "cached", "ok"]


async def test_an_answer_is_cached_before_its_call_is_marked_ok(session: Session) -> None:
    """A kill between the two writes must leave the answer in the cache, so a resume never pays twice."""
    gateway = scripted_gateway(session, ScriptedTransport(default=GOOD), cache=True)
    seen: list[int] = []
    real_end = gateway.trace.call_ended

    def call_ended(call_id, call):  # noqa: ANN001, ANN202
        seen.append(session.conn.execute("SELECT COUNT(*) FROM llm_cache").fetchone()[0])
        real_end(call_id, call)

    gateway.trace.call_ended = call_ended
    assert (await ask(gateway, "q")).ok and seen == [1]


def test_assay_judge_refuses_an_unpriced_usd_budget_before_the_session_exists(tmp_path: Path) -> None:
    import json

    from assay.core.config_sources import load_config
    from assay.pipeline.judge.files import run_judge
    from tests.conftest import fixed_runtime

    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"instruction": "Say hi", "output": "hi"}) + "\n")
    fake = ScriptedTransport(default=GOOD)
    run = dict(runtime=fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")}), session_dir=None, pairwise=False, limit=None,
               transport=fake)
    config = load_config(overrides={"models.default": "openai/self-hosted-xyz", "budget.max_usd": 0.5})
    with pytest.raises(ConfigError, match="no known price"):
        run_judge(data, tmp_path / "out.jsonl", config=config, **run)
    assert fake.requests == [] and not (tmp_path / "home" / "sessions").exists()
    priced = load_config(overrides={"models.default": "openai/self-hosted-xyz", "budget.max_usd": 0.5,
                                    "llm.price_per_1k_input": 0.4, "llm.price_per_1k_output": 1.2})
    report = run_judge(data, tmp_path / "out.jsonl", config=priced, **run)
    # The scripted answer is no judge verdict, so it is repaired once: two calls at the user's price.
    assert report["calls"] == len(fake.requests) == 2 and report["cost_usd"] == pytest.approx(0.02)
