"""The viewer served by the real server (uvicorn on a free local port) for tests that talk to it over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assay.ui.app import create_app
from assay.ui.server import free_port


@contextmanager
def serve_viewer(directory: Path, runtime: Any, *, reviewer: str) -> Iterator[tuple[str, Any]]:
    """The viewer of a session folder on a free local port; yields its URL and the app, and stops it after."""
    import uvicorn

    app = create_app(directory, runtime, reviewer=reviewer)
    port = free_port("127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the viewer did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(timeout=10)
