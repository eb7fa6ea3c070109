"""The store against a real Chroma server (`chroma run`), as `--chroma-url` uses it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.core.config import Config
from assay.core.records import Message, Sample, Status
from assay.session.session import Session
from tests.conftest import fixed_runtime


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(chroma).exists():
        pytest.fail("the chroma CLI should be installed with chromadb")
    port = free_port()
    server = subprocess.Popen([chroma, "run", "--path", str(tmp_path_factory.mktemp("chroma")), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("chroma server did not start in 60 s")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


def test_store_over_http_client(tmp_path: Path, chroma_url: str) -> None:
    config = Config.model_validate({"store": {"chroma_url": chroma_url}})
    session = Session.open(tmp_path / "s", fixed_runtime({"ASSAY_HOME": str(tmp_path)}), config, create=True)
    pool = [Sample.create([Message(role="user", content=q), Message(role="assistant", content=a)])
            for q, a in [("Sort a list in Python", "sorted(xs)"), ("Capital of France?", "Paris")]]
    assert len(session.store.add(pool)) == 2 and session.store.add(pool) == []
    assert not (tmp_path / "s" / "chroma").exists()  # vectors live on the server
    assert session.store.query_text("order a Python list", n=1)[0].id == pool[0].id
    session.store.set_status([pool[1].id], Status.DROPPED, "off_topic")
    assert session.store.ids_where({"status": "dropped"}) == [pool[1].id]
