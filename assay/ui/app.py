"""The viewer's web app: server-rendered pages and a JSON API over one session, read-only but for review.

`create_app(DIR, runtime)` returns a Starlette app. It reads the session DB through a read-only
connection; the only write is a review decision, made through `assay.cli.review.review`
(the same path as `assay review`), so the run's review gate sees it.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from assay.core.errors import AssayError
from assay.session.session import DB_NAME, Runtime, is_session
from assay.core.safe_text import json_text, visible
from assay.trace.log import Redactor
from assay.trace.view import has_table
from assay.ui.auth import Guard
from assay.ui.queries import SampleFilter, pending_count


@dataclass
class Viewer:
    """What every request handler needs: the session, its read-only connection, the redactor, the templates."""

    directory: Path
    runtime: Runtime
    conn: sqlite3.Connection
    redactor: Redactor
    reviewer: str
    templates: Environment
    _cache: dict[str, tuple[int, Any]] = field(default_factory=dict)

    def cached(self, name: str, compute: Callable[[], Any]) -> Any:
        """An aggregate (summary, facets) computed once per state of the DB: `PRAGMA data_version` moves
        whenever another connection (the running session, a review decision) commits."""
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        hit = self._cache.get(name)
        if hit is None or hit[0] != version:
            hit = self._cache[name] = (version, compute())
        return hit[1]

    def meta(self) -> dict[str, Any]:
        """Session facts shown in every page header."""
        rows = self.conn.execute("SELECT key, value FROM meta WHERE key IN ('session_id', 'dry_run', 'created_at')")
        return {r[0]: json.loads(r[1]) for r in rows}

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        """A page; every {{ value }} passes through the redactor (the templates' finalize)."""
        page = self.templates.get_template(name).render(
            request=request, meta=self.meta(), pending=pending_count(self.conn), directory=str(self.directory), **context)
        return HTMLResponse(page, status_code=status)


class TextJSONResponse(JSONResponse):
    """JSON whose every control character is a `\\u` escape (json.dumps leaves DEL, the C1 controls and
    bidi overrides raw), so an answer shown in a terminal (curl) cannot drive it. The data is unchanged."""

    def render(self, content: Any) -> bytes:
        """The body: JSON, control characters escaped."""
        return json_text(content, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


def open_read_only(directory: Path) -> sqlite3.Connection:
    """A read-only connection usable from the server's threads (each use is serialised by the event loop)."""
    uri = (directory / DB_NAME).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def _templates(redactor: Redactor) -> Environment:
    from urllib.parse import urlencode

    from assay.ui.diff import message_diffs

    def redact(text: str) -> str:
        # Control characters made visible too: a sample's ANSI sequence or bidi override is shown, not hidden.
        shown = visible(redactor.text(text))
        # Markup (a macro's output) was built from escaped pieces: it stays markup, not escaped again.
        return Markup(shown) if isinstance(text, Markup) else shown

    env = Environment(loader=PackageLoader("assay.ui", "templates"), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, finalize=lambda v: redact(v) if isinstance(v, str) else v)
    env.globals["query"] = lambda params, **changes: "?" + urlencode(
        {k: v for k, v in {**params, **changes}.items() if v is not None and v != ""})
    env.globals["message_diffs"] = message_diffs
    # Filters that reshape text redact it first: a secret split by a link or re-escaped would slip past finalize.
    env.filters["link_ids"] = lambda text: link_ids(redact(text))
    env.filters["pretty"] = lambda text: redact(pretty_json(redact(text)))
    env.filters["as_json"] = lambda value: redact(json.dumps(value, ensure_ascii=False, default=str))
    return env


SAMPLE_ID = re.compile(r"\b[0-9a-f]{16}\b")


def link_ids(text: str | None) -> Markup:
    """The text, escaped, with every sample id in it made a link to that sample."""
    escaped = escape(text or "")
    return Markup(SAMPLE_ID.sub(lambda m: f'<a class="mono" href="/samples/{m.group(0)}">{m.group(0)}</a>', str(escaped)))


def pretty_json(text: str | None) -> str | None:
    """A JSON answer indented for reading; any other text as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False) if text else text
    except (ValueError, TypeError):
        return text


def create_app(directory: str | Path, runtime: Runtime, *, token: str | None = None, check_host: bool = True,
               reviewer: str = "ui") -> Starlette:
    """The viewer for the session in `directory`. `token`: required on every request when set;
    `check_host`: accept only loopback Host headers (the default when bound to 127.0.0.1)."""
    from assay.ui import api, pages

    directory = Path(directory).expanduser().resolve()
    if not is_session(directory):
        raise AssayError(f"{directory}: not an assay session (no {DB_NAME})")
    conn = open_read_only(directory)
    if not has_table(conn, "samples"):
        raise AssayError(f"{directory}: the session DB has no samples table")
    redactor = Redactor(runtime.env)
    viewer = Viewer(directory, runtime, conn, redactor, reviewer, _templates(redactor))
    routes = [*pages.routes(viewer), *api.routes(viewer)]

    async def on_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        message = exc.detail if isinstance(exc, HTTPException) else str(exc)
        if request.url.path.startswith("/api/"):
            return TextJSONResponse({"error": redactor.text(message)}, status_code=status)
        return viewer.render(request, "error.html", status=status, nav="", message=message, status_code=status)

    app = Starlette(routes=routes, exception_handlers={AssayError: on_error, HTTPException: on_error})
    app.state.viewer = viewer
    return Guard(app, token=token, check_host=check_host)  # type: ignore[return-value]


def sample_filter(request: Request) -> SampleFilter:
    """The sample filters of a request's query string; 400 on a malformed number."""
    q = request.query_params
    return SampleFilter(status=_text(q, "status"), reason=_text(q, "reason"), cluster=_text(q, "cluster"),
                        op=_text(q, "op"), round=int_param(request, "round"), score_min=_float(q, "score_min"),
                        score_max=_float(q, "score_max"), q=_text(q, "q"))


def _text(params: Any, name: str) -> str | None:
    value = params.get(name)
    return value.strip() if value and value.strip() else None


# SQLite integers are signed 64-bit: a larger Python int raises OverflowError inside the query.
SQLITE_INT_MAX = 2**63 - 1


def int_param(request: Request, name: str) -> int | None:
    """An optional integer query parameter; 400 when it is not one SQLite can hold."""
    value = _text(request.query_params, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be a whole number, not {value!r}") from None
    if abs(number) > SQLITE_INT_MAX:
        raise HTTPException(400, f"{name} must be a whole number below 2**63, not {value!r}")
    return number


def path_id(request: Request, name: str, what: str) -> int:
    """A row id from the path (the route's `int` convertor took digits); 404, naming it, when no row can have it."""
    value: int = request.path_params[name]
    if value > SQLITE_INT_MAX:
        raise AssayError(f"no {what} {value} in this session")
    return value


def _float(params: Any, name: str) -> float | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):  # NaN compares false with everything: the filter would silently match nothing
        raise HTTPException(400, f"{name} must be a finite number, not {value!r}")
    return number


def route(path: str, endpoint: Any, methods: tuple[str, ...] = ("GET",)) -> Route:
    """A route (shorthand for the page and API modules)."""
    return Route(path, endpoint, methods=list(methods))
