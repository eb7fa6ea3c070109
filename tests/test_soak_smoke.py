"""Smoke test of the soak eval's own parts (evals/soak*.py): the provider, the counters, the bad-input cases.

The soak itself is an eval (minutes to hours), not a test; this only keeps its measuring
instruments honest: faults are deterministic and at the stated rate, answers fit the
requested schema, the secret counter finds what it must, and lost records are counted.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evals"))

from soak_badinput import check_in_process, make_cases  # noqa: E402
from soak_provider import FaultyProvider, fault_for  # noqa: E402
from soak_run import accounting, multiset_diff  # noqa: E402
from soak_secrets import check_counter, count_in, planted_key  # noqa: E402

from assay.llm.gateway import SCHEMA_INSTRUCTION  # noqa: E402


class Verdict(BaseModel):
    score: int = Field(ge=1, le=5)
    issues: list[str] = Field(max_length=3)
    rationale: str = Field(max_length=80)


def test_faults_are_deterministic_and_at_the_stated_rate() -> None:
    draws = [fault_for(0, f"key{i}", attempt) for i in range(4000) for attempt in (1, 2)]
    assert draws == [fault_for(0, f"key{i}", attempt) for i in range(4000) for attempt in (1, 2)]
    rate = sum(d is not None for d in draws) / len(draws)
    assert 0.27 < rate < 0.33
    assert {d for d in draws if d} == {"429", "500", "503", "slow", "malformed", "schema", "echo401", "echo400"}


def _post(url: str, body: dict) -> tuple[int, str]:
    request = urllib.request.Request(f"{url}/chat/completions", json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_provider_answers_the_schema_in_the_prompt_and_logs_each_request() -> None:
    instruction = SCHEMA_INSTRUCTION.format(schema=json.dumps(Verdict.model_json_schema()))
    with FaultyProvider(seed=0, planted_key="sk-test", timeout_s=1, fault_scale=0.0) as provider:  # every answer must validate
        for i in range(5):
            body = {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": instruction},
                                                         {"role": "user", "content": f"judge sample {i}"}]}
            status, text = _post(provider.base_url, body)
            assert status == 200
            Verdict.model_validate_json(text)
            assert _post(provider.base_url, body) == (200, text)  # same request, same answer
        repeats, paid = provider.repeated_paid()
    assert (len(repeats), paid) == (5, 10)  # each request was sent twice after a paid answer


def test_secret_counter_and_accounting(tmp_path: Path) -> None:
    key = planted_key(3)
    check_counter(key)
    assert count_in(f"a {key} b {key[:6]}****{key[-4:]}", key) == 2
    inputs = [tmp_path / "a.json", tmp_path / "b.jsonl"]
    inputs[0].write_text(json.dumps([{"instruction": "q1", "output": "a1"}, {"instruction": "q2", "output": "a2"}]))
    inputs[1].write_text(json.dumps({"conversations": [{"from": "human", "value": "hi"}]}) + "\n")
    session = tmp_path / "s"
    session.mkdir()
    (session / "curated.jsonl").write_text(json.dumps({"output": "a1", "instruction": "q1"}) + "\n")
    rejected = {"instruction": "q2", "output": "a2", "_assay": {"id": "x", "parent_ids": [], "reason": "r"}}
    (session / "rejected.jsonl").write_text(json.dumps(rejected) + "\n" + json.dumps(rejected) + "\n")
    (session / "lineage.jsonl").write_text("{}\n" * 4)  # four samples held, three exported
    assert accounting(inputs, session) == {"inputs": 3, "lost": 1, "duplicated": 1, "held": 4, "unexported": 1}
    other = {**rejected, "_assay": {**rejected["_assay"], "id": "y"}}
    assert multiset_diff([rejected], [other]) == 0
    assert multiset_diff([rejected], [{**other, "output": "changed"}]) == 2


def test_bad_input_cases_cover_every_format_and_are_read(tmp_path: Path) -> None:
    cases = make_cases(tmp_path, 70, seed=0)
    assert {c.path.suffix for c in cases} == {".json", ".jsonl", ".parquet"}
    assert len({c.defect for c in cases}) >= 14
    for case in cases[::7]:
        result = check_in_process(case)
        assert result["strict"] in ("error", "vague", "traceback", "accepted")


def test_only_answers_in_flight_at_a_kill_count_as_resent_after_it() -> None:
    from soak import IN_FLIGHT_WINDOW_S, _killed_between

    attempts = [{"started": 0.0, "killed_at_s": 10.0}, {"started": 11.0}]
    assert _killed_between(attempts, first=9.5, again=12.0)  # answered 0.5 s before the kill: lost in flight
    assert _killed_between(attempts, first=10.01, again=12.0)  # between the timer and the SIGKILL itself
    assert not _killed_between(attempts, first=10.0 - IN_FLIGHT_WINDOW_S - 1, again=12.0)  # long stored: a double pay
    assert not _killed_between(attempts, first=11.5, again=12.0)  # same process, no kill between
    assert not _killed_between([{"started": 0.0}], first=1.0, again=2.0)  # never killed
