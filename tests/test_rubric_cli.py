"""`assay rubric refine DIR` from the command line over an OpenAI-wire fake, then `assay review` most informative first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from assay.cli.app import app
from assay.core.config_sources import load_config
from assay.core.errors import AssayError
from assay.llm.transport import CompletionRequest
from assay.testing.openai_server import OpenAIWireServer, Reply
from tests.rubric_world import World, decided_items, pending_items, world_session


def serve(world: World) -> OpenAIWireServer:
    def reply(body: dict) -> Reply:
        return Reply.text(world(CompletionRequest(body["model"], body["messages"])), prompt_tokens=100,
                          completion_tokens=20)

    return OpenAIWireServer(default=reply)


def invoke(runtime: Any, *args: str, base: str = "http://127.0.0.1:9/v1") -> Any:
    env = {"ASSAY_HOME": runtime.env["ASSAY_HOME"], "COLUMNS": "250", "OPENAI_API_KEY": "sk-test",
           "ASSAY_LLM__API_BASE": base}
    return CliRunner().invoke(app, list(args), env=env)


def test_too_few_decided_items_is_one_clear_line(tmp_path: Path, runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session, good=1, padded=1)
    session.close()
    result = invoke(runtime, "rubric", "refine", str(session.dir), "--model", "openai/fake")
    assert isinstance(result.exception, AssayError)  # the entry point prints it as one line and exits 2
    assert "2 review item(s) decided by a person; refining the rubric needs at least 4" in str(result.exception)


def test_refine_prints_agreement_writes_the_fragment_and_review_ranks_pending_items(tmp_path: Path,
                                                                                  runtime: Any) -> None:
    session = world_session(tmp_path, runtime)
    decided_items(session)
    pending = pending_items(session)
    session.close()
    out = tmp_path / "refined.toml"
    with serve(World()) as server:
        result = invoke(runtime, "rubric", "refine", str(session.dir), "--model", "openai/fake", "--out", str(out),
                        base=server.base_url)
        assert result.exit_code == 0, result.output
        assert "agreement with people on 4 held-out items (6 for training)" in result.output
        assert "kept: held-out agreement 0.500 -> 1.000" in result.output and str(out) in result.output
        assert "3 pending item(s) ranked" in result.output
        assert [c.name for c in load_config(out).judge.rubric] == ["accuracy", "conciseness"]
        again = invoke(runtime, "rubric", "refine", str(session.dir), "--model", "openai/fake", "--out", str(out),
                       "--json", base=server.base_url)
        assert again.exit_code == 0, again.output
        data = json.loads(again.stdout)
        assert data["agreement_before"] == 0.5 and data["agreement_after"] == 1.0
        assert data["proposals"][0]["kept"] is True
    calls = {r[0]: r[1] for r in __import__("sqlite3").connect(session.dir / "session.db").execute(
        "SELECT outcome, COUNT(*) FROM llm_calls GROUP BY outcome")}
    assert calls.get("cached", 0) >= 10  # the second run paid nothing twice: the cache answered it
    review = invoke(runtime, "review", str(session.dir), "--brief")
    assert review.exit_code == 0, review.output
    lines = [line for line in review.output.splitlines() if "new sample" in line]
    assert [int(line.split()[1]) for line in lines] == [pending["padded"], pending["borderline"], pending["concise"]]
    assert "base would approve, refined would reject" in review.output and "priority" in review.output
    created = invoke(runtime, "review", str(session.dir), "--brief", "--order", "created")
    lines = [line for line in created.output.splitlines() if "new sample" in line]
    assert [int(line.split()[1]) for line in lines] == sorted(pending.values())
    assert "priority" not in created.output


def test_a_spent_budget_is_one_clear_line_and_nothing_is_written(tmp_path: Path, runtime: Any) -> None:
    from assay.core.errors import BudgetExhausted

    session = world_session(tmp_path, runtime, dry_run=True)  # the placeholder model: calls without a server
    decided_items(session)
    session.close()
    recipe = tmp_path / "budget.toml"
    recipe.write_text("[budget]\nmax_calls = 12\n")
    result = invoke(runtime, "rubric", "refine", str(session.dir), "--recipe", str(recipe))
    assert isinstance(result.exception, BudgetExhausted), result.output
    assert "LLM call budget spent (12 of 12 calls" in str(result.exception)
    assert "refine stopped with nothing recorded and no fragment written" in str(result.exception)
    assert not (session.dir / "refined_rubric.toml").exists()
