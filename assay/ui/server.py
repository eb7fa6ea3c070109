"""Serving the viewer: bind checks, the token rule, and uvicorn."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from assay.core.errors import AssayError
from assay.session.session import Runtime
from assay.ui.auth import is_loopback

TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9._~-]{16,}$")


def check_binding(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token, or with a token unfit for a header and a cookie."""
    if token is not None and not TOKEN_SHAPE.match(token):
        raise AssayError("--token must be at least 16 characters of letters, digits and . _ ~ - "
                         "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')")
    if not is_loopback(host) and token is None:
        raise AssayError(f"--host {host} lets other machines reach the viewer: give --token (or ASSAY_UI_TOKEN) so every "
                         "request must carry it")


def viewer_url(host: str, port: int, token: str | None) -> str:
    """The address to open (with the token once; the viewer then keeps it in a cookie)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def free_port(host: str) -> int:
    """A port the OS has free on `host` now (for --port 0)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def serve(directory: Path, runtime: Runtime, *, host: str, port: int, token: str | None, reviewer: str,
          announce: Callable[[str], None]) -> None:
    """Run the viewer until interrupted."""
    import uvicorn

    from assay.ui.app import create_app

    check_binding(host, token)
    port = port or free_port(host)
    app = create_app(directory, runtime, token=token, check_host=token is None, reviewer=reviewer)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    announce(viewer_url(host, port, token))
    server.run()
