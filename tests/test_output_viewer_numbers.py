"""The viewer shows numbers as the CLI does (the shared `assay.core.readable.shown`): rounded, None as
a dash, never Python's repr (`2.979124124124123`, `None`) or `%g`'s six digits (`0.557703`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from starlette.testclient import TestClient

from assay.core.config import Config
from assay.session.session import Session
from assay.ui.app import create_app
from tests.conftest import fixed_runtime
from tests.session_factory import build_session

RAW = re.compile(r"(?<![$\d])\d\.\d{5,}|\bNone\b|\{'")  # money keeps its cents: $0.00021


def test_round_metrics_scores_and_decision_scores_are_rounded(tmp_path: Path) -> None:
    runtime = fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")})
    built = build_session(tmp_path / "s", runtime)
    session = Session.open(built.dir, runtime, Config(), create=False)
    with session.conn:
        session.conn.execute(
            "INSERT INTO rounds (round, action, rationale, planner, metrics, gap, outcome, spend, started_at, finished_at)"
            " VALUES (4, 'finish', 'done', 'policy', ?, '{}', ?, '{}', 'x', 'x')",
            (json.dumps({"pool_mean_quality": 2.979124124124123, "topic_coverage": None}),
             json.dumps({"attempted": 20, "accepted": 1, "share": 0.0512345})))
    session.samples.merge_scores({built.synth: {"novelty": 0.557703}})
    decision = session.trace.decision(built.synth, "dedup", "keep", reason="kept", scores={"similarity": 0.9712345}, round=4)
    session.close()
    client = TestClient(create_app(built.dir, runtime, reviewer="tester"), base_url="http://127.0.0.1:8484")
    overview = client.get("/").text
    assert "pool_mean_quality = 2.98" in overview and "topic_coverage = –" in overview
    assert "attempted = 20" in overview and "share = 0.0512" in overview
    sample = client.get(f"/samples/{built.synth}").text
    assert "0.558" in sample and "0.557703" not in sample
    pages = [overview, sample, client.get(f"/decisions/{decision}").text if decision else "",
             client.get("/decisions?agent=dedup").text]
    for page in pages:
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S))
        assert not RAW.search(text), RAW.search(text)
