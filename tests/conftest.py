"""Shared fixtures. No test reaches a network or a real LLM: sockets may only go to loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from assay.core.config import Config
from assay.session.session import Runtime, Session

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
EXAMPLES = REPO / "examples"


@pytest.fixture(autouse=True)
def _forbid_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that opens a connection beyond this machine."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else None
        if isinstance(host, str):
            try:
                allowed = ipaddress.ip_address(host).is_loopback
            except ValueError:
                allowed = host == "localhost"
            if not allowed:
                raise RuntimeError(f"test tried to reach {host}: real network requests are forbidden in tests")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep tests off the user's session registry and real API keys."""
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path_factory.mktemp("assay_home")))
    # A runtime built with a partial env falls back to ~/.assay: make ~ a scratch folder too.
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ASSAY_MODEL"):
        monkeypatch.delenv(name, raising=False)


def fixed_runtime(env: dict[str, str] | None = None) -> Runtime:
    """A runtime whose clock ticks one second per reading and whose ids count up."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ticks = count()
    ids = count(1)
    return Runtime(
        clock=lambda: start + timedelta(seconds=next(ticks)),
        new_id=lambda: f"test{next(ids):04d}",
        # The autouse fixture points ASSAY_HOME at a scratch folder for every test.
        env=env if env is not None else {"ASSAY_HOME": os.environ["ASSAY_HOME"]},
    )


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    """Deterministic clock and ids."""
    return fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")})


@pytest.fixture
def session(tmp_path: Path, runtime: Runtime) -> Iterator[Session]:
    """A fresh session folder with default config."""
    opened = Session.open(tmp_path / "session", runtime, Config(), create=True)
    yield opened
    opened.close()


def need_shared_data() -> Path:
    """The reference data folder, or skip with a clear message."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA
