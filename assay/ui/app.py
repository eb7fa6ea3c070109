"""The viewer's web app, composed: the page and API routes, the error pages, the guards.

`create_app(DIR, runtime)` returns a Starlette app over one session. It reads the session DB
through a read-only connection (`assay.ui.viewer`); the only write is a review decision, made
through the same path as `assay review` (`assay.ui.review`), so the run's review gate sees it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response

from assay.core.errors import AssayError
from assay.session.session import DB_NAME, Runtime, is_session
from assay.trace.log import Redactor
from assay.trace.view import has_table
from assay.ui import api, cues_view, pages
from assay.ui.auth import LOOPBACK_HOSTS, Guard
from assay.ui.viewer import TextJSONResponse, Viewer, open_read_only, page_templates


def create_app(directory: str | Path, runtime: Runtime, *, token: str | None = None, check_host: bool = True,
               reviewer: str = "ui") -> Starlette:
    """The viewer for the session in `directory`. `token`: required on every request when set;
    `check_host`: accept only loopback Host headers (the default when bound to 127.0.0.1), which
    stops a web page from reaching the viewer through DNS rebinding."""
    directory = Path(directory).expanduser().resolve()
    if not is_session(directory):
        raise AssayError(f"{directory}: not an assay session (no {DB_NAME})")
    conn = open_read_only(directory)
    if not has_table(conn, "samples"):
        raise AssayError(f"{directory}: the session DB has no samples table")
    redactor = Redactor(runtime.env)
    viewer = Viewer(directory, runtime, conn, redactor, reviewer, page_templates(redactor, conn))

    async def on_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        message = exc.detail if isinstance(exc, HTTPException) else str(exc)
        if request.url.path.startswith("/api/"):
            return TextJSONResponse({"error": redactor.text(message)}, status_code=status)
        return viewer.render(request, "error.html", status=status, nav="", message=message, status_code=status)

    # Outermost first: the Host check (case-insensitive; 400 otherwise), then the token and same-origin writes.
    hosts = [Middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_HOSTS), www_redirect=False)]
    app = Starlette(routes=[*pages.routes(viewer), *cues_view.routes(viewer), *api.routes(viewer)],
                    middleware=[*(hosts if check_host else []), Middleware(Guard, token=token)],
                    exception_handlers={AssayError: on_error, HTTPException: on_error})
    app.state.viewer = viewer
    return app
