"""The code checks where a user looks: the session report's code section and the viewer's code panel."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from assay.report.code_checks import code_summary
from assay.ui.app import create_app
from tests.conftest import fixed_runtime
from tests.test_cli import assay

ROWS = [
    {"instruction": "Write a Python function that returns the mean of a list.", "input": "",
     "output": "def mean(xs):\n    total = sum(xs\n    return total / len(xs)\n\nprint(mean([1, 2, 3]))"},
    {"instruction": "Give a JSON object describing a book.", "input": "",
     "output": '```json\n{"title": "Dune",\n "author": "Frank Herbert"\n "year": 1965}\n```'},
    {"instruction": "Write a SQL query for adults.", "input": "", "output": "SELECT name FROM people WHERE age >= 18;"},
    {"instruction": "How do I boil an egg?", "input": "", "output": "Boil it for nine minutes, then cool it in water."},
]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("code")
    data = work / "code.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    assay("score", str(data), "--no-embed", "--out", str(work / "scored.jsonl"), "--session", str(work / "s"),
          home=work / "home")
    return work / "s"


def test_the_report_counts_code_and_its_drops(session: Path) -> None:
    conn = sqlite3.connect(session / "session.db")
    summary = code_summary(conn)
    assert summary["samples"] == 3 and summary["by_status"] == {"dropped": 2, "active": 1}
    assert summary["drops"] == {"code_syntax:json": 1, "code_syntax:python": 1}
    assert summary["judged"] == 0  # nothing judged yet: no code_correctness scores


def test_the_viewer_shows_where_the_code_breaks(session: Path) -> None:
    conn = sqlite3.connect(session / "session.db")
    (sample_id,) = conn.execute("SELECT id FROM samples WHERE reason = 'code_syntax:python'").fetchone()
    client = TestClient(create_app(session, fixed_runtime(), reviewer="tester"), base_url="http://127.0.0.1:8484")
    page = client.get(f"/samples/{sample_id}")
    assert page.status_code == 200
    assert 'id="code"' in page.text and "unfenced" in page.text
    assert "does not parse</b>: line 2: SyntaxError: &#39;(&#39; was never closed" in page.text
    (prose_id,) = conn.execute("SELECT id FROM samples WHERE messages LIKE '%boil%'").fetchone()
    assert 'id="code"' not in client.get(f"/samples/{prose_id}").text
