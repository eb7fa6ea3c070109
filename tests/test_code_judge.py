"""The judge's code criterion: asked for only where a response holds code, stored like any criterion."""

from __future__ import annotations

import json
from pathlib import Path

from assay.core.config import CODE_CRITERION, DEFAULT_CRITERIA, Criterion
from assay.core.config_sources import load_config
from assay.core.records import Message, Sample
from assay.pipeline.code_rubric import holds_code, rubric_for
from assay.pipeline.judge.files import run_judge
from assay.testing.scripted import ScriptedTransport
from tests.conftest import fixed_runtime

CODE = {"instruction": "Write a Python function that doubles a number.", "input": "",
        "output": "```python\ndef double(n):\n    return n * 2\n```"}
UNFENCED = {"instruction": "Write a SQL query for adults.", "input": "",
            "output": "SELECT name FROM people WHERE age >= 18;"}
PROSE = {"instruction": "How do I boil an egg?", "input": "",
         "output": "Put the egg in boiling water for nine minutes, then cool it in cold water."}


def chat(record: dict) -> Sample:
    return Sample.create([Message(role="user", content=record["instruction"]),
                          Message(role="assistant", content=record["output"])])


def test_the_rubric_gains_the_criterion_only_for_code() -> None:
    assert rubric_for(chat(CODE), DEFAULT_CRITERIA) == (*DEFAULT_CRITERIA, CODE_CRITERION)
    assert rubric_for(chat(UNFENCED), DEFAULT_CRITERIA)[-1] == CODE_CRITERION
    assert rubric_for(chat(PROSE), DEFAULT_CRITERIA) == DEFAULT_CRITERIA
    assert rubric_for(chat(CODE), DEFAULT_CRITERIA, enabled=False) == DEFAULT_CRITERIA
    own = (Criterion("code_correctness", "Our own wording."),)
    assert rubric_for(chat(CODE), own) == own  # a rubric that names it already is left alone


def test_a_list_ending_in_semicolons_is_not_code() -> None:
    listing = {"instruction": "Give 3 benefits.", "output": "1) speed;\n2) cost;\n3) reach;"}
    assert not holds_code(chat(listing))


def _verdict(request) -> str:
    names = list(request.schema["properties"]["scores"]["properties"])
    return json.dumps({"issues": [], "scores": dict.fromkeys(names, 4), "overall": 4, "rationale": "fine"})


def _judge(tmp_path: Path, **config: object) -> tuple[ScriptedTransport, list[dict], dict]:
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in (CODE, PROSE)))
    out = tmp_path / "out.jsonl"
    transport = ScriptedTransport(default=_verdict)
    report = run_judge(data, out, config=load_config(overrides=config), runtime=fixed_runtime({"ASSAY_HOME": str(tmp_path)}),
                       session_dir=None, pairwise=False, limit=None, transport=transport)
    return transport, [json.loads(line) for line in out.read_text().splitlines()], report


def test_assay_judge_asks_for_code_correctness_on_code_and_reports_its_mean(tmp_path: Path) -> None:
    transport, rows, report = _judge(tmp_path)
    prompts = {json.dumps(r.messages): r for r in transport.requests}
    code_request = next(r for p, r in prompts.items() if "def double" in p)
    prose_request = next(r for p, r in prompts.items() if "boil an egg" in p)
    assert "code_correctness" in code_request.messages[0]["content"]
    assert "code_correctness" in code_request.schema["properties"]["scores"]["required"]
    assert "code_correctness" not in prose_request.messages[0]["content"]
    assert "code_correctness" in rows[0]["_assay"]["judge"]["scores"]
    assert "code_correctness" not in rows[1]["_assay"]["judge"]["scores"]
    assert report["criteria"]["code_correctness"] == 4.0 and report["criteria"]["accuracy"] == 4.0


def test_the_recipe_can_switch_the_criterion_off(tmp_path: Path) -> None:
    transport, rows, _ = _judge(tmp_path, judge={"code_criterion": False})
    assert all("code_correctness" not in json.dumps(r.messages) for r in transport.requests)
    assert "code_correctness" not in rows[0]["_assay"]["judge"]["scores"]
