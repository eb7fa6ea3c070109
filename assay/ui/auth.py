"""Who may talk to the viewer: a token when it listens beyond this machine, and same-origin writes.

- With a token, every request must carry it: `Authorization: Bearer TOKEN`, the cookie the
  viewer sets, or `?token=TOKEN` (a page opened that way is redirected to itself without it,
  the cookie set, so the token does not stay in the address bar or the history).
- Without one (loopback only), the Host header must name this machine, which stops a web
  page from reaching the viewer through DNS rebinding: Starlette's TrustedHostMiddleware with
  `LOOPBACK_HOSTS`, composed in `assay.ui.app`.
- A POST whose Origin is another site is refused, so no page can approve review items
  behind the user's back.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "assay_token"
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}
# The same names as a Host header carries them: an IPv6 literal in brackets ([::1]:8000).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def is_loopback(host: str) -> bool:
    """Whether binding this host keeps the viewer on this machine."""
    return host.strip("[]").lower() in LOOPBACK_NAMES


class Guard:
    """ASGI middleware enforcing the token and same-origin POSTs."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            origin = headers.get("origin")
            if origin is not None and (origin == "null" or urlsplit(origin).netloc != host):
                await _plain(send, 403, "cross-site request refused")
                return
        if self.token is not None:
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            given = dict(query).get("token")
            if given is not None and self._matches(given):
                if scope["method"] == "GET" and not scope["path"].startswith("/api/"):
                    await self._redirect_with_cookie(scope, send, [(k, v) for k, v in query if k != "token"])
                    return
            elif not (self._matches(_bearer(headers.get("authorization", ""))) or self._matches(_cookie(headers))):
                await _plain(send, 401, "this viewer needs its token: open the address `assay ui` printed, "
                                        "or send the header Authorization: Bearer TOKEN", www_authenticate=True)
                return
        await self.app(scope, receive, send)

    def _matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())  # type: ignore[union-attr]

    async def _redirect_with_cookie(self, scope: Scope, send: Send, rest: list[tuple[str, str]]) -> None:
        target = scope["path"] + (f"?{urlencode(rest)}" if rest else "")
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", target.encode("latin-1")), (b"set-cookie", cookie.encode("latin-1")),
                                (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


def _bearer(value: str) -> str | None:
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _cookie(headers: dict[str, str]) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # noqa: BLE001 - a malformed cookie header is simply no token
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None


async def _plain(send: Send, status: int, message: str, *, www_authenticate: bool = False) -> None:
    body = (message + "\n").encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if www_authenticate:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
