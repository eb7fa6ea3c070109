"""A local HTTP server that speaks the OpenAI chat-completions wire format.

Tests and benchmarks point litellm (or any OpenAI client) at ``server.base_url``
to exercise the real client -> httpx -> HTTP path without network access::

    with OpenAIWireServer(latency_s=0.05) as server:
        server.enqueue(Reply.text("hi"), Reply.error(429, retry_after=1))
        ...  # litellm.acompletion(model="openai/x", api_base=server.base_url, ...)
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web

# (type, code, message) as api.openai.com sends them; litellm maps exceptions partly by
# matching these strings, e.g. a 401 only becomes AuthenticationError with this message.
_ERROR_KINDS = {
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer to a chat-completions request."""

    content: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    delay_s: float = 0.0
    prompt_tokens: int = 10
    completion_tokens: int = 5

    @classmethod
    def text(cls, content: str, **kw: Any) -> Reply:
        """A 200 answer whose assistant message is ``content``."""
        return cls(content=content, **kw)

    @classmethod
    def error(cls, status: int, retry_after: float | None = None, message: str | None = None, **kw: Any) -> Reply:
        """An error answer with an OpenAI-style error body and optional ``Retry-After`` header."""
        headers = dict(kw.pop("headers", {}))
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}" if isinstance(retry_after, float) else str(retry_after)
        return cls(status=status, headers=headers, body={"error": _error_obj(status, message)} if message else None, **kw)

    @classmethod
    def hang(cls, seconds: float, **kw: Any) -> Reply:
        """A 200 answer sent only after ``seconds``, to provoke client timeouts."""
        return cls(content=kw.pop("content", ""), delay_s=seconds, **kw)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received; ``received_at`` is ``time.monotonic()``."""

    path: str
    headers: dict[str, str]
    json: Any
    received_at: float


def _error_obj(status: int, message: str | None) -> dict:
    fallback = ("server_error" if status >= 500 else "invalid_request_error", None, f"Scripted error {status}.")
    etype, code, default_message = _ERROR_KINDS.get(status, fallback)
    return {"message": message or default_message, "type": etype, "param": None, "code": code}


class OpenAIWireServer:
    """OpenAI-compatible fake served by aiohttp on 127.0.0.1 in a background thread.

    Replies come from a FIFO script (:meth:`enqueue`), then from ``default``
    (a :class:`Reply` or a callable taking the parsed request body). With
    neither, requests get a 500 saying the script is empty.
    """

    def __init__(self, *, latency_s: float = 0.0, default: Callable[[dict], Reply] | Reply | None = None) -> None:
        self.latency_s = latency_s
        self.default = default
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """Root URL to pass as ``api_base``/``base_url``, e.g. ``http://127.0.0.1:PORT/v1``."""
        if self._port is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._port}/v1"

    def enqueue(self, *replies: Reply) -> None:
        """Append replies to the script; each request consumes one, in order."""
        with self._lock:
            self._script.extend(replies)

    def _next_reply(self, body: Any) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        if isinstance(self.default, Reply):
            return self.default
        if self.default is not None:
            return self.default(body)
        return Reply.error(500, message="OpenAIWireServer: script is empty and no default reply is set")

    def _record(self, request: web.Request, body: Any) -> None:
        rec = RecordedRequest(request.path, dict(request.headers), body, time.monotonic())
        with self._lock:
            self.requests.append(rec)

    async def _chat(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        self._record(request, body)
        reply = self._next_reply(body)
        delay = self.latency_s + reply.delay_s
        if delay > 0:
            await asyncio.sleep(delay)
        if reply.status != 200:
            payload = reply.body if reply.body is not None else {"error": _error_obj(reply.status, None)}
            return web.json_response(payload, status=reply.status, headers=reply.headers)
        model = body.get("model", "fake-model") if isinstance(body, dict) else "fake-model"
        usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                 "total_tokens": reply.prompt_tokens + reply.completion_tokens}
        return web.json_response({
            "id": f"chatcmpl-fake-{next(self._ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "usage": usage,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": reply.content}}],
        }, headers=reply.headers)

    async def _models(self, request: web.Request) -> web.Response:
        self._record(request, None)
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "assay"} for m in ("fake-model", "fake-model-large")]
        return web.json_response({"object": "list", "data": data})

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        # access_log=None: per-request logging would dominate the cost of a tiny handler.
        # handler_cancellation: a client that times out should not leave a hung handler behind.
        # Short shutdown_timeout so stop() does not wait out Reply.hang() sleeps.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, backlog=1024).start()

    def start(self) -> OpenAIWireServer:
        """Start serving; returns once the port is accepting connections."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        # Bind before starting the thread so the port is known and listening when start() returns.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self._port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="openai-wire-server", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._serve(sock), self._loop).result(timeout=30)
        except BaseException:
            sock.close()
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Shut the server down cleanly and join its thread; idempotent."""
        if self._thread is None or self._loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._thread = self._loop = self._runner = None

    def __enter__(self) -> OpenAIWireServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
