"""Tests for assay.testing.openai_server, including the real litellm -> httpx -> HTTP path."""

from __future__ import annotations

import asyncio
import os
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no network

import aiohttp
import httpx
import litellm
import openai
import pytest

from assay.testing.openai_server import OpenAIWireServer, Reply

litellm.suppress_debug_info = True
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def server():
    with OpenAIWireServer() as srv:
        yield srv


def _post(srv: OpenAIWireServer, **body) -> httpx.Response:
    return httpx.post(f"{srv.base_url}/chat/completions", json={"model": "m", "messages": MESSAGES, **body})


def _acompletion(srv: OpenAIWireServer, **kw):
    async def call():
        try:
            return await litellm.acompletion(
                model="openai/fake-model", api_base=srv.base_url, api_key="sk-test",
                messages=MESSAGES, max_retries=0, **kw)
        finally:
            # litellm caches clients bound to this loop; asyncio.run closes the loop after.
            await litellm.close_litellm_async_clients()
            litellm.in_memory_llm_clients_cache.flush_cache()

    return asyncio.run(call())


def _litellm_error(srv: OpenAIWireServer, reply: Reply, **kw) -> Exception:
    srv.enqueue(reply)
    with pytest.raises(Exception) as info:
        _acompletion(srv, **kw)
    return info.value


def test_script_in_order_then_default_and_requests_recorded():
    with OpenAIWireServer(default=Reply.text("fallback")) as srv:
        srv.enqueue(Reply.text("one"), Reply.text("two", prompt_tokens=3, completion_tokens=4))
        answers = [_post(srv, n=i).json() for i in range(3)]
        assert [a["choices"][0]["message"]["content"] for a in answers] == ["one", "two", "fallback"]
        first = answers[0]
        assert first["object"] == "chat.completion" and first["model"] == "m" and first["id"]
        assert first["choices"][0]["finish_reason"] == "stop"
        assert first["choices"][0]["message"]["role"] == "assistant"
        assert answers[1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        assert [r.json["n"] for r in srv.requests] == [0, 1, 2]
        assert srv.requests[0].path == "/v1/chat/completions"
        assert srv.requests[0].json["messages"] == MESSAGES
        assert srv.requests[0].received_at <= srv.requests[2].received_at


def test_callable_default_sees_request_body():
    with OpenAIWireServer(default=lambda body: Reply.text(body["messages"][-1]["content"].upper())) as srv:
        assert _post(srv).json()["choices"][0]["message"]["content"] == "HI"


def test_empty_script_without_default_is_500(server):
    resp = _post(server)
    assert resp.status_code == 500
    assert "script is empty" in resp.json()["error"]["message"]


def test_429_carries_retry_after_and_openai_error_json(server):
    server.enqueue(Reply.error(429, retry_after=2))
    resp = _post(server)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "2"
    error = resp.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["message"] and "type" in error


def test_models_endpoint(server):
    resp = httpx.get(f"{server.base_url}/models")
    assert resp.status_code == 200
    assert {"fake-model"} <= {m["id"] for m in resp.json()["data"]}


def test_openai_sdk_parses_reply(server):
    server.enqueue(Reply.text("from sdk"))
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    result = client.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert result.choices[0].message.content == "from sdk"
    assert result.usage.total_tokens == 15


def test_litellm_returns_content_and_usage(server):
    server.enqueue(Reply.text("hello", prompt_tokens=7, completion_tokens=3))
    result = _acompletion(server)
    assert result.choices[0].message.content == "hello"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (7, 3, 10)
    assert server.requests[0].headers["Authorization"] == "Bearer sk-test"
    assert server.requests[0].json["model"] == "fake-model"


def test_litellm_429_is_rate_limit_error_with_retry_after(server):
    exc = _litellm_error(server, Reply.error(429, retry_after=7))
    assert isinstance(exc, litellm.RateLimitError)
    assert exc.status_code == 429
    # litellm copies the real response headers onto the exception; exc.response is a
    # synthetic httpx.Response whose headers are empty, so it cannot be used for this.
    assert exc.litellm_response_headers["Retry-After"] == "7"


def test_litellm_timeout_on_hanging_reply(server):
    started = time.monotonic()
    exc = _litellm_error(server, Reply.hang(5), timeout=0.5)
    assert isinstance(exc, litellm.Timeout)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(("status", "exc_type"), [
    (500, litellm.InternalServerError),
    (503, litellm.ServiceUnavailableError),
    (401, litellm.AuthenticationError),
    (404, litellm.NotFoundError),
])
def test_litellm_maps_error_statuses(server, status, exc_type):
    exc = _litellm_error(server, Reply.error(status))
    assert type(exc) is exc_type
    assert exc.status_code == status


def test_stop_is_prompt_with_hung_request():
    srv = OpenAIWireServer(default=Reply.hang(30)).start()
    with pytest.raises(httpx.TimeoutException):
        httpx.post(f"{srv.base_url}/chat/completions", json={"model": "m"}, timeout=0.2)
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 3
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{srv.base_url.rsplit('/', 1)[0]}/v1/models", timeout=1)


def test_concurrent_requests_overlap():
    # aiohttp as the client: httpx's pool reuses only ~15 of 64 warm connections on this
    # kind of burst (seen against uvicorn too), which would measure httpx, not the server.
    async def burst(srv: OpenAIWireServer) -> float:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:
            async def one() -> int:
                async with session.post(f"{srv.base_url}/chat/completions", json={"model": "m"}) as resp:
                    await resp.read()
                    return resp.status

            started = time.monotonic()
            statuses = await asyncio.gather(*[one() for _ in range(200)])
            elapsed = time.monotonic() - started
        assert statuses == [200] * 200
        return elapsed

    with OpenAIWireServer(latency_s=0.1, default=Reply.text("ok")) as srv:
        elapsed = asyncio.run(burst(srv))
    assert len(srv.requests) == 200
    # Serial would take 20 s; overlapping takes ~0.5 s idle. Half of serial leaves room for a
    # loaded CI machine (3.4 s seen with other jobs running) and still fails a serial server.
    assert elapsed < 10.0
