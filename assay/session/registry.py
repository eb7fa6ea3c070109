"""The list of known sessions ($ASSAY_HOME/sessions.json, default ~/.assay), for `assay sessions`."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import TYPE_CHECKING

from assay.core.writers import atomic_text

if TYPE_CHECKING:
    from assay.session.runtime import Runtime


def registry_path(runtime: Runtime) -> Path:
    """Where the session list lives."""
    home = runtime.env.get("ASSAY_HOME") or str(Path(runtime.env.get("HOME", "~")) / ".assay")
    return Path(home).expanduser() / "sessions.json"


def registered(runtime: Runtime) -> list[Path]:
    """Registered session folders, oldest first."""
    path = registry_path(runtime)
    if not path.is_file():
        return []
    return [Path(p) for p in json.loads(path.read_text(encoding="utf-8"))]


def register(directory: Path, runtime: Runtime) -> None:
    """Add a session folder to the list (atomically; duplicates are ignored).

    Commands run concurrently, so the read-modify-write happens under an OS lock on a
    sibling file: without it, two processes read the same list and one's entry is lost.
    """
    path = registry_path(runtime)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when the process dies
        known = [str(p) for p in registered(runtime)]
        if str(directory) in known:
            return
        with atomic_text(path) as handle:
            json.dump([*known, str(directory)], handle, indent=1)
