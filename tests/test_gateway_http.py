"""The gateway over the real litellm → HTTP path, against a local OpenAI-wire server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from pydantic import BaseModel, Field

from assay.core.config import Config
from assay.core.errors import BudgetExhausted
from assay.llm.factory import build_gateway
from assay.llm.gateway import GatewaySettings
from assay.session.session import Session
from assay.testing.scripted import RecordedSleeps
from assay.testing.openai_server import OpenAIWireServer, Reply

GOOD = '{"score": 4, "reason": "correct"}'
SECRET = "sk-proj-http-secret-987654321"


class Verdict(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str


@pytest.fixture
def server() -> Iterator[OpenAIWireServer]:
    with OpenAIWireServer() as running:
        yield running


def gateway_for(session: Session, server: OpenAIWireServer, sleeps: RecordedSleeps | None = None, **budget: object):
    config = Config.model_validate({"llm": {"api_base": server.base_url, "timeout_s": 0.5, "max_attempts": 3},
                                    "budget": budget})
    gateway = build_gateway(config, session.trace, session.conn)
    gateway.sleep = sleeps or RecordedSleeps()
    gateway.transport.api_key = SECRET
    return gateway


async def ask(gateway, content: str = "Rate: 2+2 -> 4"):
    return await gateway.complete(agent="judge", model="openai/fake-model", messages=[{"role": "user", "content": content}],
                                  output_type=Verdict, prompt_version="judge/1", params={"temperature": 0})


async def test_structured_answer_over_http(session: Session, server: OpenAIWireServer) -> None:
    server.enqueue(Reply.text(GOOD, prompt_tokens=21, completion_tokens=9))
    result = await ask(gateway_for(session, server))
    assert result.ok and result.value.score == 4 and (result.prompt_tokens, result.completion_tokens) == (21, 9)
    body = server.requests[0].json
    assert body["model"] == "fake-model" and body["messages"][0]["role"] == "system"


async def test_invalid_then_repaired_over_http(session: Session, server: OpenAIWireServer) -> None:
    server.enqueue(Reply.text("the score is four"), Reply.text(GOOD))
    result = await ask(gateway_for(session, server))
    assert result.ok and len(server.requests) == 2
    assert server.requests[1].json["messages"][-2]["content"] == "the score is four"


async def test_still_invalid_is_recorded_over_http(session: Session, server: OpenAIWireServer) -> None:
    server.enqueue(Reply.text("nope"), Reply.text("still nope"))
    result = await ask(gateway_for(session, server))
    assert not result.ok and result.raw == "still nope"


async def test_429_retry_after_is_honoured(session: Session, server: OpenAIWireServer) -> None:
    sleeps = RecordedSleeps()
    server.enqueue(Reply.error(429, retry_after=3), Reply.text(GOOD))
    result = await ask(gateway_for(session, server, sleeps))
    assert result.ok and sleeps.waits == [3.0] and len(server.requests) == 2


async def test_timeout_is_retried(session: Session, server: OpenAIWireServer) -> None:
    sleeps = RecordedSleeps()
    server.enqueue(Reply.hang(3), Reply.text(GOOD))
    result = await ask(gateway_for(session, server, sleeps))
    assert result.ok and len(sleeps.waits) == 1
    errors = session.conn.execute("SELECT error FROM llm_calls WHERE outcome = 'error'").fetchall()
    assert len(errors) == 1 and "Timeout" in errors[0][0]


async def test_server_errors_are_retried_and_auth_errors_are_not(session: Session, server: OpenAIWireServer) -> None:
    server.enqueue(Reply.error(500), Reply.error(503), Reply.text(GOOD))
    assert (await ask(gateway_for(session, server))).ok
    server.enqueue(Reply.error(401))
    failed = await ask(gateway_for(session, server), "another question")
    assert not failed.ok and "AuthenticationError" in failed.error
    assert len(server.requests) == 4


async def test_budget_and_cache_over_http(session: Session, server: OpenAIWireServer) -> None:
    server.enqueue(Reply.text(GOOD))
    assert (await ask(gateway_for(session, server, max_calls=1))).ok
    # Same request again: answered from the cache, even with no budget left.
    again = await ask(gateway_for(session, server, max_calls=1))
    assert again.ok and again.cached and len(server.requests) == 1
    with pytest.raises(BudgetExhausted):
        await ask(gateway_for(session, server, max_calls=1), "a new question")


async def test_api_key_is_sent_but_never_stored(tmp_path, runtime, server: OpenAIWireServer) -> None:
    session = Session.open(tmp_path / "s", replace(runtime, env={**runtime.env, "OPENAI_API_KEY": SECRET}), Config(), create=True)
    server.enqueue(Reply.error(401, message=f"Incorrect API key provided: {SECRET}"), Reply.text(GOOD))
    await ask(gateway_for(session, server))
    await ask(gateway_for(session, server), "second")
    assert server.requests[0].headers["Authorization"] == f"Bearer {SECRET}"
    session.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "s").glob("session.db*"))
    assert SECRET.encode() not in raw


async def test_usd_budget_over_http_needs_a_price_and_charges_it(session: Session, server: OpenAIWireServer) -> None:
    """Issue 11 #3: litellm cannot price this self-hosted model, so a USD budget is refused unless priced."""
    from assay.core.errors import ConfigError
    from assay.llm.pricing import Price
    from assay.llm.transport import LiteLLMTransport

    unpriced = {"models": {"default": "openai/fake-model"}, "budget": {"max_usd": 0.02},
                "llm": {"api_base": server.base_url, "max_attempts": 1}}
    with pytest.raises(ConfigError, match="openai/fake-model has no known price"):
        build_gateway(Config.model_validate(unpriced), session.trace, session.conn)
    priced = Config.model_validate({**unpriced, "llm": {**unpriced["llm"], "price_per_1k_input": 0.4,
                                                         "price_per_1k_output": 1.2}})
    gateway = build_gateway(priced, session.trace, session.conn)
    gateway.transport.api_key = SECRET
    server.enqueue(Reply.text(GOOD, prompt_tokens=10, completion_tokens=5), Reply.text(GOOD, prompt_tokens=10, completion_tokens=5))
    assert (await ask(gateway)).cost_usd == pytest.approx(0.01)
    assert (await ask(gateway, "second")).ok
    with pytest.raises(BudgetExhausted, match=r"\$0.0200 of \$0.0200, 2 calls"):
        await ask(gateway, "third")
    assert len(server.requests) == 2
    known = LiteLLMTransport().price_of("openai/gpt-4o-mini")  # litellm's bundled price list
    assert isinstance(known, Price) and known.input_per_1k > 0 and known.output_per_1k > 0
