"""One writer per session: an OS file lock on `DIR/session.lock`, held while a session is open.

`fcntl.flock` locks belong to the open file, so the OS drops the lock when its process dies,
SIGKILL included: a killed run never leaves a stale lock behind. Within one process, opening
the same session again shares the lock (a count), because flock would refuse a second open
file of the same process as if it were another writer. Readers (`trace`, `ui`) never lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from assay.core.errors import AssayError

LOCK_NAME = "session.lock"
_held: dict[Path, tuple[int, int]] = {}  # session folder -> (fd, opens in this process)


class SessionBusy(AssayError):
    """Another process is writing to this session."""


def acquire(directory: Path) -> None:
    """Take the session's writer lock, or raise SessionBusy naming the holder."""
    if directory in _held:
        fd, count = _held[directory]
        _held[directory] = (fd, count + 1)
        return
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise SessionBusy(f"{directory} is in use by another assay process (pid {holder}); wait for it to finish "
                          f"(`assay trace {directory}` and `assay ui {directory}` work meanwhile)") from None
    # The pid is only for the message above; the lock itself is the flock, not the file's content.
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    _held[directory] = (fd, 1)


def release(directory: Path) -> None:
    """Give back one open's share of the lock; the last one unlocks."""
    if directory not in _held:
        return
    fd, count = _held[directory]
    if count > 1:
        _held[directory] = (fd, count - 1)
        return
    del _held[directory]
    os.close(fd)  # closing the file releases the flock
