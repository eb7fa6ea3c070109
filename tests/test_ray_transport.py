"""LLM calls from Ray actors (`--engine ray`): the session comes out as the local engine's.

Against the local OpenAI-wire server (slow): the same verdicts, decisions, trace rows, cache
entries and spend; a second run answered from the cache alone; an actor killed mid-call costs
one recorded, re-sent attempt; and the same on a simulated two-node cluster. One Ray runtime
for the module (the two-node test, last, replaces it with its cluster). First, without Ray
started: the flags' checks, and the models that stay in this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.core.config_sources import load_config
from assay.core.errors import ConfigError
from assay.llm.factory import build_gateway, build_transport, check_engine, stays_local
from assay.llm.local_model import LOCAL_MODEL_NAME
from assay.llm.ray_transport import RayTransport
from assay.llm.transport import Completion, CompletionRequest
from assay.pipeline.judge.files import run_judge
from assay.session.session import Session
from assay.testing.openai_server import OpenAIWireServer, Reply
from assay.testing.scripted import RecordedSleeps
from tests.conftest import EXAMPLES, fixed_runtime
from tests.test_cli import assay
from tests.curation_world import CurationWorld
from tests.test_gateway_http import Verdict
from tests.test_resume_kill import world_reply

ray = pytest.importorskip("ray")
KEY = {"OPENAI_API_KEY": "sk-test-ray"}  # the actors' environment, as a cluster's nodes would have it
SETTINGS = {"models.default": "openai/fake-model", "llm.concurrency": 8, "llm.price_per_1k_input": 0.5,
            "llm.price_per_1k_output": 1.0, "budget.max_usd": 10.0}
CALL_COLUMNS = ("round, agent, model, prompt_version, request, response, outcome, error, attempt, prompt_tokens, "
                "completion_tokens, cost_usd, cache_key")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[str]:
    """A Ray of the module's own ("local": never one another process on this machine started with `ray start`);
    gives the HOME it started under (Ray keeps its auth token there; a later Ray must find the same)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": KEY})
    yield os.environ["HOME"]
    ray.shutdown()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIWireServer]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY["OPENAI_API_KEY"])  # the driver's, for the local engine
    with OpenAIWireServer(latency_s=0.02, default=world_reply(CurationWorld())) as running:
        yield running


def judge(tmp_path: Path, server: OpenAIWireServer, name: str, engine: str, **more: Any) -> dict[str, Any]:
    config = load_config(None, env={}, overrides={**SETTINGS, "llm.api_base": server.base_url, "llm.engine": engine,
                                                  **more})
    transport = build_transport(config)
    report = run_judge(EXAMPLES / "pool.jsonl", tmp_path / f"{name}.jsonl", config=config, runtime=fixed_runtime(),
                       session_dir=tmp_path / name, pairwise=False, limit=16, transport=transport)
    return {"report": report, "transport": transport}


def session_rows(directory: Path) -> dict[str, list[tuple]]:
    """What a session holds, without what only says when or in which order (ids, times, latencies)."""
    conn = sqlite3.connect(directory / "session.db")
    try:
        by_id = dict(conn.execute("SELECT id, cache_key FROM llm_calls"))
        decisions = [(s, a, act, r, sc, json.dumps(sorted(by_id[i] for i in json.loads(ids))))
                     for s, a, act, r, sc, ids in conn.execute(
                         "SELECT sample_id, agent, action, reason, scores, call_ids FROM decisions")]
        return {
            "calls": sorted(conn.execute(f"SELECT {CALL_COLUMNS} FROM llm_calls"), key=repr),
            "call_samples": sorted(conn.execute("SELECT c.cache_key, s.sample_id FROM llm_call_samples s "
                                                "JOIN llm_calls c ON c.id = s.call_id")),
            "cache": sorted(conn.execute("SELECT key, model, response, prompt_tokens, completion_tokens, cost_usd "
                                         "FROM llm_cache")),
            "decisions": sorted(decisions),
        }
    finally:
        conn.close()


def spend(report: dict[str, Any]) -> tuple:
    return tuple(report[k] for k in ("total", "judged", "failed", "calls", "cache_hits", "tokens", "cost_usd"))


def test_engine_flags_are_checked_before_any_work(tmp_path: Path) -> None:
    pool, out = str(EXAMPLES / "pool.jsonl"), str(tmp_path / "out.jsonl")
    for flags, message in [(["--engine", "spark"], "--engine: 'spark' is not one of local, ray"),
                           (["--ray-address", "auto"], "--ray-address: only with --engine ray"),
                           (["--engine", "ray", "--ray-address", "127.0.0.1:1"], "cannot reach the Ray cluster at 127.0.0.1:1"),
                           (["--engine", "ray", "--ray-address", "nowhere"], "must be 'auto' or HOST:PORT")]:
        done = assay("judge", pool, "--out", out, "--model", "openai/x", *flags, home=tmp_path / "home", check=False)
        assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not (tmp_path / "home" / "sessions").exists()


def test_the_dry_run_model_stays_here_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done = assay("judge", str(EXAMPLES / "pool.jsonl"), "--out", str(out), "--dry-run", "--limit", "3", "--engine", "ray",
                 home=tmp_path / "home")
    assert "note: --engine ray: the dry-run model answers in this process, not on Ray actors" in done.stderr
    assert len(out.read_text().splitlines()) == 3 and "3 made" in done.stdout


def test_judge_takes_an_api_base(tmp_path: Path, server: OpenAIWireServer) -> None:
    done = assay("judge", str(EXAMPLES / "pool.jsonl"), "--out", str(tmp_path / "out.jsonl"), "--limit", "2",
                 "--model", "openai/fake-model", "--api-base", server.base_url, home=tmp_path / "home")
    assert len(server.requests) == 2 and "2 made" in done.stdout


def test_the_embedded_model_stays_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(None, env={}, overrides={"llm.engine": "ray", "models.judge": "openai/fake-model"})
    assert "embedded local model (decomposer, planner, rewriter, synthesizer)" in (stays_local(config) or "")
    transport = build_transport(config)
    asked: list[str] = []

    async def embedded(request: CompletionRequest) -> Completion:
        asked.append(request.model)
        return Completion("{}")

    monkeypatch.setattr(transport, "local", embedded)
    asyncio.run(transport(CompletionRequest(LOCAL_MODEL_NAME, [{"role": "user", "content": "hi"}])))
    assert asked == [LOCAL_MODEL_NAME] and transport.actors == [], "the embedded model's call went to Ray"


def test_without_ray_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    with pytest.raises(ConfigError, match=r"pip install 'assay\[ray\]'"):
        check_engine(load_config(None, env={}, overrides={"llm.engine": "ray", "models.default": "openai/x"}))


@pytest.mark.slow
def test_judging_on_ray_actors_lands_as_the_local_engine_does(tmp_path: Path, local_ray: str,
                                                              server: OpenAIWireServer) -> None:
    local = judge(tmp_path, server, "local", "local")
    asked_locally = len(server.requests)
    on_ray = judge(tmp_path, server, "ray", "ray")
    assert isinstance(on_ray["transport"], RayTransport) and len(on_ray["transport"].actors) == 2
    assert len(server.requests) == 2 * asked_locally == 2 * local["report"]["calls"]
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "local.jsonl").read_text()
    assert session_rows(tmp_path / "ray") == session_rows(tmp_path / "local")
    assert spend(on_ray["report"]) == spend(local["report"]) and on_ray["report"]["cost_usd"] > 0
    assert on_ray["report"]["judged"] == 16

    again = judge(tmp_path, server, "ray", "ray")  # the same session: every answer is in its cache
    assert len(server.requests) == 2 * asked_locally, "a rerun paid for an answer it already had"
    assert again["report"]["calls"] == 0 and again["report"]["cache_hits"] == 16
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "local.jsonl").read_text()


@pytest.mark.slow
def test_an_actor_killed_mid_call_is_sent_again_once_and_recorded(tmp_path: Path, local_ray: str,
                                                                  server: OpenAIWireServer) -> None:
    config = load_config(None, env={}, overrides={**SETTINGS, "llm.api_base": server.base_url, "llm.engine": "ray"})
    session = Session.open(tmp_path / "s", fixed_runtime(), config, create=True)
    gateway = build_gateway(config, session.trace, session.conn)
    gateway.sleep = RecordedSleeps()
    server.enqueue(Reply.hang(60, content='{"score": 1, "reason": "never sent"}'), Reply.text('{"score": 4, "reason": "ok"}'))

    async def kill_mid_call() -> Any:
        call = asyncio.ensure_future(gateway.complete(agent="judge", model="openai/fake-model", output_type=Verdict,
                                                      prompt_version="judge/1", sample_ids=["s1"],
                                                      messages=[{"role": "user", "content": "Rate: 2+2 -> 4"}]))
        while not server.requests:  # the request reached the server, which now holds it
            await asyncio.sleep(0.05)
        transport = gateway.transport
        ray.kill(transport.actors[transport.in_flight.index(1)])
        return await call

    try:
        result = asyncio.run(kill_mid_call())
        rows = session.conn.execute("SELECT attempt, outcome, error, cache_key FROM llm_calls ORDER BY id").fetchall()
        cached = session.conn.execute("SELECT COUNT(*) FROM llm_cache").fetchone()[0]
        spent = session.conn.execute("SELECT SUM(prompt_tokens + completion_tokens), SUM(cost_usd) FROM llm_calls "
                                     "WHERE outcome = 'ok'").fetchone()
    finally:
        session.close()
    assert result.ok and result.value.score == 4 and len(server.requests) == 2
    assert [(r[0], r[1]) for r in rows] == [(1, "error"), (2, "ok")] and "Ray actor was lost" in rows[0][2]
    assert rows[1][3] is not None and cached == 1  # one answer paid for, and cached
    assert tuple(spent) == (15, pytest.approx(0.01))  # the answered attempt only, at the user's price (10 + 5 tokens)
    assert gateway.budget.calls == 2 and len(gateway.sleep.waits) == 1  # both attempts counted; one backoff


@pytest.mark.slow
def test_two_node_cluster_gives_the_same_session(tmp_path: Path, local_ray: str, server: OpenAIWireServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from ray.cluster_utils import Cluster

    local = judge(tmp_path, server, "local", "local")
    ray.shutdown()  # the module's runtime gives way to a cluster of two nodes
    monkeypatch.setenv("RAY_gcs_server_port_wait_time_s", "120")  # a loaded CI machine starts its GCS slowly
    monkeypatch.setenv("HOME", local_ray)  # under the test's scratch HOME the cluster's GCS never starts
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, runtime_env={"env_vars": KEY})
        on_ray = judge(tmp_path, server, "ray", "ray", **{"llm.ray_actors": 2})
        nodes = ray.get([actor.node_id.remote() for actor in on_ray["transport"].actors])
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert len(set(nodes)) == 2, "the two actors were not spread over the two nodes"
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "local.jsonl").read_text()
    assert session_rows(tmp_path / "ray") == session_rows(tmp_path / "local")
    assert spend(on_ray["report"]) == spend(local["report"])
