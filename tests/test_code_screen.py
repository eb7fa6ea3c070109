"""The code screen as a stage: reasons and details, the recipe's [screen.code], and `assay score` on a file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assay.core.recipe_screen import ScreenSettings
from assay.core.records import Message, Sample
from assay.pipeline.screen.candidates import CandidateScreen
from assay.pipeline.screen.scoring import ScoreOptions, VectorCache, build_stages
from assay.tools.code_screen import CodeConfig, CodeScreen
from tests.test_cli import assay

BROKEN_PYTHON = "Here it is:\n\n```python\ndef area(r):\n    return 3.14 * r ** 2\n\nprint(area(2)\n```"
BROKEN_UNTAGGED = "def is_even(n)\n    return n % 2 == 0\n\nprint(is_even(4))"
FAILING = "```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n\nprint(mean([]))\n```"


def chat(instruction: str, response: str) -> Sample:
    return Sample.create([Message(role="user", content=instruction), Message(role="assistant", content=response)])


def test_broken_code_drops_with_the_language_the_line_and_the_parsers_message() -> None:
    verdict = CodeScreen().assess(chat("Write a Python function for a circle's area.", BROKEN_PYTHON))
    assert not verdict.keep and verdict.reason == "code_syntax:python"
    assert verdict.detail == "python code, response line 7 `print(area(2)`: SyntaxError: '(' was never closed"
    assert verdict.scores == {"code_blocks": 1.0}


def test_unfenced_untagged_code_is_checked_too() -> None:
    verdict = CodeScreen().assess(chat("Write a function that tells if a number is even.", BROKEN_UNTAGGED))
    assert verdict.reason == "code_syntax:python"
    assert verdict.detail is not None and verdict.detail.startswith("python (unfenced) code, response line 1 ")


def test_good_code_and_prose_are_kept() -> None:
    good = chat("Write a SQL query for adults.", "```sql\nSELECT name FROM people WHERE age >= 18;\n```")
    prose = chat("How do I boil an egg?", "Put the egg in boiling water for nine minutes, then cool it.")
    assert CodeScreen()([good, prose]) == [CodeScreen().assess(good), CodeScreen().assess(prose)]
    assert CodeScreen().assess(good).keep and CodeScreen().assess(good).scores == {"code_blocks": 1.0}
    assert CodeScreen().assess(prose).keep and CodeScreen().assess(prose).scores == {}


def test_an_earlier_assistant_turn_is_checked_and_named() -> None:
    sample = Sample.create([Message(role="user", content="Give me JSON."),
                            Message(role="assistant", content='```json\n{"a": 1,}\n```'),
                            Message(role="user", content="Thanks."), Message(role="assistant", content="You're welcome.")])
    verdict = CodeScreen().assess(sample)
    assert verdict.reason == "code_syntax:json" and "assistant turn 1 line 2" in (verdict.detail or "")


def test_languages_left_out_of_the_recipe_are_not_checked() -> None:
    sample = chat("Write a Python function for a circle's area.", BROKEN_PYTHON)
    assert CodeScreen(CodeConfig(languages=frozenset({"sql"}))).assess(sample).keep
    with pytest.raises(ValueError, match="no syntax checker for cobol"):
        CodeConfig(languages=frozenset({"cobol"}))


def test_execution_is_opt_in_and_catches_a_runtime_error() -> None:
    sample = chat("Write a Python function for the mean.", FAILING)
    assert CodeScreen().assess(sample).keep  # parses: without execute that is all that is asked
    verdict = CodeScreen(CodeConfig(execute=True, timeout=10)).assess(sample)
    assert verdict.reason == "code_runtime:python"
    assert verdict.detail == ("python code, response line 3 `return sum(xs) / len(xs)`: "
                              "ZeroDivisionError: division by zero")


def test_the_recipe_switches_the_stage_and_it_runs_after_the_heuristics() -> None:
    vectors = VectorCache([], np.zeros((0, 0), dtype=np.float32), lambda texts: np.zeros((len(texts), 4)))
    names = [stage.name for stage in build_stages(ScoreOptions(), vectors)]
    assert names[:2] == ["heuristics", "code"]
    off = ScreenSettings.model_validate({"code": {"enabled": False}})
    assert "code" not in [stage.name for stage in build_stages(ScoreOptions(screen=off), vectors)]
    assert "code" not in [stage.name for stage in build_stages(ScoreOptions(heuristics=False), vectors)]
    # Synthesized samples (assay expand, a run's expansion rounds) get the same check.
    assert [stage.name for stage in CandidateScreen().stages][:2] == ["heuristics", "code"]


def test_assay_score_drops_broken_code_from_a_file(tmp_path: Path) -> None:
    rows = [{"instruction": "Write a Python function for a circle's area.", "input": "", "output": BROKEN_PYTHON},
            {"instruction": "Write a function that tells if a number is even.", "input": "", "output": BROKEN_UNTAGGED},
            {"instruction": "Write a SQL query for adults.", "input": "",
             "output": "SELECT name FROM people WHERE age >= 18;"},
            {"instruction": "Write a SQL query for the oldest person.", "input": "",
             "output": "SELECT name FROM people ORDER BY age DESC LIMIT;"}]
    data = tmp_path / "code.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "scored.jsonl"
    result = assay("score", str(data), "--no-embed", "--out", str(out), home=tmp_path / "home")
    assert "code_syntax" in result.stdout
    verdicts = [json.loads(line)["_assay"] for line in out.read_text().splitlines()]
    assert [v["reason"] for v in verdicts] == ["code_syntax:python", "code_syntax:python", None, "code_syntax:sql"]
    assert verdicts[3]["detail"].startswith("sql (unfenced) code, response line 1 `SELECT name FROM people ORDER BY")
