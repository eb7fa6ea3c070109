"""`assay cues repair DIR` from the command line over an OpenAI-wire fake (tests/cue_world.py's answers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from assay.cli.app import app
from assay.core.config import Config
from assay.core.errors import AssayError
from assay.core.records import Message, Origin, Sample
from assay.llm.transport import CompletionRequest
from assay.session.bias_cues import CueFinding, DetectionRun, record_findings
from assay.session.session import Session
from assay.testing.openai_server import OpenAIWireServer, Reply
from tests.cue_world import ANSWERS, CUE, QUESTIONS, CueWorld, with_cue


def serve(world: CueWorld) -> OpenAIWireServer:
    def reply(body: dict) -> Reply:
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
        return Reply.text(world(CompletionRequest(body["model"], body["messages"], schema=schema)).text,
                          prompt_tokens=100, completion_tokens=20)

    return OpenAIWireServer(default=reply)


def invoke(runtime: Any, *args: str, base: str) -> Any:
    env = {"ASSAY_HOME": runtime.env["ASSAY_HOME"], "COLUMNS": "250", "OPENAI_API_KEY": "sk-test",
           "ASSAY_LLM__API_BASE": base, "ASSAY_LLM__STRUCTURED_OUTPUT": "json_schema"}  # the fake reads the schema
    return CliRunner().invoke(app, list(args), env=env)


def _session(tmp_path: Path, runtime: Any, keys: list[str]) -> Path:
    session = Session.open(tmp_path / "session", runtime, Config(), create=True)
    try:
        session.store.add([Sample.create([Message(role="user", content=QUESTIONS[k]),
                                          Message(role="assistant", content=with_cue(ANSWERS[k]))],
                                         origin=Origin(format="alpaca")) for k in keys], round=0)
        finding = CueFinding(cue=CUE, outcome="score", effect=1.2, p=0.001, adjusted_p=0.003, prevalence=1.0, n=40)
        record_findings(session.conn, runtime.clock, DetectionRun("score", 40, 0.05, "westfall-young", 999, 0), [finding])
        return session.dir
    finally:
        session.close()


def test_repair_prints_per_cue_counts_and_review_holds_then_applies(tmp_path: Path, runtime: Any) -> None:
    directory = _session(tmp_path, runtime, ["egg", "pasta", "rice", "bread", "sear"])
    world = CueWorld()
    with serve(world) as server:
        held = invoke(runtime, "cues", "repair", str(directory), "--model", "openai/fake", "--review", "--json",
                      base=server.base_url)
        assert held.exit_code == 0, held.output
        report = json.loads(held.stdout)
        (row,) = report["cues"]
        assert row["cue"] == CUE.key() and row["carrying"] == 5 and row["tried"] == 5 and row["kept"] == 2
        assert row["rejected"] == {"cue_kept": 1, "low_cosine": 1, "judge_prefers_original": 1}
        assert report["pending_review"] == 2 and row["prevalence_after"] == 1.0
        approved = invoke(runtime, "review", str(directory), "--approve-all", base=server.base_url)
        assert approved.exit_code == 0, approved.output
        asked = dict(world.asked)
        again = invoke(runtime, "cues", "repair", str(directory), "--model", "openai/fake", base=server.base_url)
        assert again.exit_code == 0, again.output
        assert world.asked == asked  # every carrier was tried: nothing new to ask
        assert "applied 2 rewrites of round 1" in again.output and "60.0% → 60.0%" in again.output
        assert "bias-cue repair, round 2" in again.output


def test_no_detection_yet_is_one_clear_line(tmp_path: Path, runtime: Any) -> None:
    session = Session.open(tmp_path / "session", runtime, Config(), create=True)
    session.close()
    result = invoke(runtime, "cues", "repair", str(session.dir), "--model", "openai/fake", base="http://127.0.0.1:9/v1")
    assert isinstance(result.exception, AssayError)  # the entry point prints it as one line and exits 2
    assert "no bias cues detected yet; run `assay cues detect" in str(result.exception)
