"""An API key echoed by a provider never reaches the DB, an export or a terminal (issue 11, defect 13).

Redaction happens when a thing is written, by the writing process, whatever the environment of
whoever reads it later; key-shaped strings are caught even when no environment names them.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console

from assay.core.config import Config
from assay.core.config_sources import load_config
from assay.pipeline.judge.files import run_judge
from assay.llm.transport import FatalError
from assay.session.session import Session
from assay.testing.openai_server import OpenAIWireServer, Reply
from assay.testing.scripted import ScriptedTransport
from assay.trace.log import REDACTED, Redactor
from tests.conftest import fixed_runtime

FULL_KEY = "sk-proj-Zq81xLmN0pQ4rSt7uVw2yZa5bCd9eFgH"
ANTHROPIC_KEY = "sk-ant-api03-Xy7Wq2Lp9Rt4Kv1Mn8Bc3Df6Gh0Jk5Zs"
MASKED = "sk-pr************************************eFgH"
ECHO = f"AuthenticationError: Incorrect API key provided: {MASKED}. Also seen: {FULL_KEY} and {ANTHROPIC_KEY}"
LEAKS = (FULL_KEY, ANTHROPIC_KEY, MASKED, "eFgH", "Zq81xLmN0pQ4")


def assert_clean(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"{leak!r} leaked into: {text[:300]}"


@pytest.mark.parametrize("text", [
    FULL_KEY, ANTHROPIC_KEY, MASKED, "sk-ab********wxyz", "AIzaSyD-1234567890abcdefghijklmnopqrstu",
    "hf_abcdefghijklmnopqrstuvwxyz0123456789", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc123def456",
])
def test_key_shaped_strings_are_redacted_with_no_env(text: str) -> None:
    redacted = Redactor({}).text(f"the provider said: {text} (401)")
    assert text not in redacted and REDACTED in redacted and redacted.startswith("the provider said: ")


@pytest.mark.parametrize("text", ["risk-averse task-management", "use sk-learn for this", "bold **text** here",
                                  "a ******** line", "my-api-key-here"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor({}).text(text) == text


def test_every_secret_env_variable_is_redacted() -> None:
    env = {"GROQ_API_KEY": "gsk-plainvalue-1", "HF_TOKEN": "plainvalue-2", "MY_SERVICE_SECRET": "plainvalue-3",
           "HOME": "/home/someone"}
    redacted = Redactor(env).text("gsk-plainvalue-1 plainvalue-2 plainvalue-3 /home/someone")
    assert redacted == f"{REDACTED} {REDACTED} {REDACTED} /home/someone"


def test_decisions_and_event_data_are_redacted_at_write_time(tmp_path: Path) -> None:
    env_key = "org-secret-value-0042"
    runtime = fixed_runtime({"ASSAY_HOME": str(tmp_path / "home"), "OPENAI_API_KEY": env_key})
    session = Session.open(tmp_path / "s", runtime, Config(), create=True)
    session.trace.decision("s1", "judge", "judge_failed", reason=f"{ECHO} / {env_key}")
    session.trace.event("judge", "stopped", {"error": ECHO, "nested": [env_key]})
    session.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "s").glob("session.db*")).decode("utf-8", "replace")
    assert_clean(raw)
    assert env_key not in raw


def test_assay_judge_output_and_db_hold_no_echoed_key(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"instruction": "Say hi", "output": "hi"}) + "\n")
    out = tmp_path / "out.jsonl"
    # The key is in no environment the writer knows: only its shape gives it away.
    report = run_judge(data, out, config=load_config(), runtime=fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")}),
                       session_dir=None, pairwise=False, limit=None,
                       transport=ScriptedTransport(default=FatalError(ECHO)))
    folder = Path(report["session"])
    written = out.read_text()
    assert '"error"' in written and REDACTED in written
    assert_clean(written)
    conn = sqlite3.connect(folder / "session.db")
    reasons = [r[0] for r in conn.execute("SELECT reason FROM decisions")]
    conn.close()
    assert reasons and all(REDACTED in r for r in reasons)
    assert_clean(b"".join(p.read_bytes() for p in folder.glob("session.db*")).decode("utf-8", "replace"))


async def test_models_check_shows_no_echoed_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.cli.models import model_check_view
    from assay.pipeline.model_check import run_model_check

    monkeypatch.setenv("OPENAI_API_KEY", FULL_KEY)  # litellm sends it; the writer's runtime env does not hold it
    with OpenAIWireServer() as server:
        server.enqueue(Reply.error(401, message=f"Incorrect API key provided: {MASKED}. ({FULL_KEY})"))
        config = Config.model_validate({"models": {"default": "openai/fake-model"},
                                        "llm": {"api_base": server.base_url, "max_attempts": 1}})
        outcome = await run_model_check(config, fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")}), tmp_path / "s")
    assert not outcome.result.ok
    console = Console(record=True, width=400)
    console.print(model_check_view(outcome))
    shown = console.export_text()
    assert "AuthenticationError" in shown and REDACTED in shown
    assert_clean(shown)
    assert_clean(b"".join(p.read_bytes() for p in (tmp_path / "s").glob("session.db*")).decode("utf-8", "replace"))
