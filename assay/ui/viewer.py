"""The viewer's shared state and rendering: the session's read-only connection, the templates,
and JSON answers with every control character escaped. Used by the pages and the API alike.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from assay.core.readable import shown
from assay.core.safe_text import json_text, visible
from assay.session.session import DB_NAME, Runtime
from assay.trace.log import Redactor
from assay.ui.diff import message_diffs
from assay.ui.queries import link_target, pending_count


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

    async def cached_in_thread(self, name: str, compute: Callable[[], Any]) -> Any:
        """As `cached`, for an aggregate that takes seconds (the comparison embeds): computed in a worker
        thread, so the other pages stay served meanwhile. `compute` must not use `conn` (it is not thread-safe)."""
        from starlette.concurrency import run_in_threadpool

        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        hit = self._cache.get(name)
        if hit is None or hit[0] != version:
            hit = self._cache[name] = (version, await run_in_threadpool(compute))
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


def page_templates(redactor: Redactor, conn: sqlite3.Connection | None = None) -> Environment:
    """The page templates: autoescaped, every value redacted and its control characters made visible.
    `conn`: where sample ids in texts link to (see `link_ids`); without it every id links to its page."""

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
    target = (lambda i: link_target(conn, i)) if conn is not None else (lambda i: f"/samples/{i}")
    env.filters["link_ids"] = lambda text: link_ids(redact(text), target)
    env.filters["pretty"] = lambda text: redact(pretty_json(redact(text)))
    env.filters["as_json"] = lambda value: redact(json.dumps(value, ensure_ascii=False, default=str))
    env.filters["num"] = shown  # scores and metrics as the CLI shows them: 0.558, not 0.557703
    return env


SAMPLE_ID = re.compile(r"\b[0-9a-f]{16}\b")


def link_ids(text: str | None, target: Callable[[str], str | None] = lambda i: f"/samples/{i}") -> Markup:
    """The text, escaped, with every sample id in it made a link to where `target` says (the sample,
    or the review item proposing it); an id that leads nowhere (a rewrite the judge turned down) stays text."""
    escaped = escape(text or "")

    def link(m: re.Match[str]) -> str:
        href = target(m.group(0))
        if href is None:
            return f'<span class="mono" title="not in this session\'s pool">{m.group(0)}</span>'
        return f'<a class="mono" href="{href}">{m.group(0)}</a>'

    return Markup(SAMPLE_ID.sub(link, str(escaped)))


def pretty_json(text: str | None) -> str | None:
    """A JSON answer indented for reading; any other text as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False) if text else text
    except (ValueError, TypeError):
        return text
