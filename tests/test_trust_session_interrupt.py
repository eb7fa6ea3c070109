"""Ctrl-C says where a run stopped and how to continue it; a run that fails early can be resumed or removed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assay.core.config import Config, Targets
from assay.core.errors import AssayError
from assay.pipeline.deps import RunOptions
from assay.cli.run import export_missing, resume_run, start_run
from tests.conftest import EXAMPLES, fixed_runtime
from tests.test_curation_graph import write_pool

pytestmark = pytest.mark.slow


def checkpoints(directory: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{directory / 'checkpoints.db'}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def test_ctrl_c_names_where_the_session_stopped_and_how_to_resume_it(tmp_path: Path) -> None:
    session = tmp_path / "s"
    env = {**os.environ, "ASSAY_HOME": str(tmp_path), "COLUMNS": "200"}
    args = [sys.executable, "-m", "assay", "run", str(EXAMPLES / "pool.jsonl"), "--out", str(session), "--dry-run",
            "--target-size", "5"]
    running = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while running.poll() is None and checkpoints(session) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)  # past ingest: a checkpoint per finished node
    assert running.poll() is None, "the run ended before it could be interrupted"
    running.send_signal(signal.SIGINT)
    _, err = running.communicate(timeout=120)
    assert running.returncode == 130
    assert "stopped after its" in err and f"assay resume {session}" in err, err
    assert export_missing(session)

    resumed = subprocess.run([sys.executable, "-m", "assay", "resume", str(session)], env=env, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert not export_missing(session)


def test_a_run_that_fails_in_its_first_node_can_be_resumed_once_fixed(tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"  # named, but not there yet: the ingest node fails
    config = Config(dry_run=True, targets=Targets(size=5))
    with pytest.raises(AssayError) as failed:
        start_run(tmp_path / "s", config=config, runtime=fixed_runtime(), options=RunOptions(inputs=[str(pool)]),
                  emit=lambda kind, data: None)
    message = str(failed.value)
    assert "\n" not in message and "before its first step finished" in message
    assert f"assay resume {tmp_path / 's'}" in message and f"rm -r {tmp_path / 's'}" in message

    write_pool(pool)
    outcome = resume_run(tmp_path / "s", runtime=fixed_runtime(), overrides={}, emit=lambda kind, data: None)
    assert outcome.finished and not export_missing(tmp_path / "s")
