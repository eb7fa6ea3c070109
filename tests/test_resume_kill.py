"""A session killed with SIGKILL mid-round resumes to the same dataset, paying for nothing twice.

The `assay` CLI runs as a real subprocess against a local OpenAI-wire server (through
litellm) whose answers come from the curation world, with a little latency so the kill
lands inside a round.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assay.llm.transport import CompletionRequest
from assay.testing.openai_server import OpenAIWireServer, Reply
from tests.curation_world import CurationWorld
from tests.test_curation_graph import write_pool

pytestmark = pytest.mark.slow
SCHEMA_IN_PROMPT = re.compile(r"JSON Schema:\n(\{.*\})", re.DOTALL)


def world_reply(world: CurationWorld):  # noqa: ANN201
    def reply(body: dict) -> Reply:
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema is None:
            found = SCHEMA_IN_PROMPT.search(body["messages"][0]["content"])
            schema = json.loads(found.group(1)) if found else None
        completion = world(CompletionRequest(body["model"], body["messages"], schema, "x", {}, 30.0))
        return Reply.text(completion.text, prompt_tokens=100, completion_tokens=20)

    return reply


def assay(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "assay", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def ok_calls(directory: Path) -> list[tuple[int | None, str]]:
    conn = sqlite3.connect(directory / "session.db")
    try:
        return conn.execute("SELECT round, cache_key FROM llm_calls WHERE outcome = 'ok'").fetchall()
    finally:
        conn.close()


def curated(directory: Path) -> list[str]:
    return sorted((directory / "curated.jsonl").read_text(encoding="utf-8").splitlines())


def test_killed_run_resumes_to_the_same_dataset_without_paying_twice(tmp_path: Path) -> None:
    pool = write_pool(tmp_path / "pool.jsonl")
    with OpenAIWireServer(latency_s=0.05, default=world_reply(CurationWorld())) as server:
        env = {**os.environ, "OPENAI_API_KEY": "sk-test", "ASSAY_LLM__API_BASE": server.base_url,
               "ASSAY_LLM__CONCURRENCY": "4", "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1"}
        args = ["--target-size", "19", "--quality-floor", "3", "--model", "openai/fake-model"]
        whole = assay("run", str(pool), "--out", str(tmp_path / "whole"), *args, env=env)
        out, _ = whole.communicate(timeout=600)
        assert whole.returncode == 0, out
        assert "stopped: targets_met" in out

        killed_dir = tmp_path / "killed"
        killed = assay("run", str(pool), "--out", str(killed_dir), *args, env=env)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and killed.poll() is None:
            if (killed_dir / "session.db").exists() and any(r == 1 for r, _ in _safe_calls(killed_dir)):
                break
            time.sleep(0.05)
        assert killed.poll() is None, "the run finished before it could be killed mid-round"
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
        paid_before = ok_calls(killed_dir)
        requests_before = len(server.requests)
        assert not (killed_dir / "curated.jsonl").exists()

        resumed = assay("resume", str(killed_dir), env=env)
        out, _ = resumed.communicate(timeout=600)
        assert resumed.returncode == 0, out
        assert "stopped: targets_met" in out

    assert curated(killed_dir) == curated(tmp_path / "whole")
    paid = ok_calls(killed_dir)
    keys = [key for _, key in paid]
    assert len(keys) == len(set(keys)), "a paid call was made twice"
    assert {k for _, k in paid_before} <= set(keys)
    # Requests sent again after the kill are only those that were in flight (never answered).
    resent = (len(server.requests) - requests_before) - (len(paid) - len(paid_before))
    assert 0 <= resent <= 4


def _safe_calls(directory: Path) -> list[tuple[int | None, str]]:
    try:
        return ok_calls(directory)
    except sqlite3.Error:
        return []
