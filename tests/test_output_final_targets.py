"""The targets a finished run shows (summary, report, export review) describe what was exported,
not the rounds' projection: size is the samples written, and the detail says how many qualified."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from assay.cli.run_display import outcome_view
from assay.core.config import Targets
from assay.core.records import Status
from assay.pipeline.deps import RunOptions
from assay.session.judgements import latest_judgements
from tests.test_curation_graph import open_session, run_graph, write_pool


async def test_final_targets_count_the_export_and_say_how_many_qualified(tmp_path: Path, runtime) -> None:
    pool = write_pool(tmp_path / "pool.jsonl")
    session, _ = open_session(tmp_path, runtime, Targets(size=5, min_mean_quality=1.0))
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], selection="random"))
    selected = [s.id for s in session.samples.iter(status=Status.SELECTED)]
    qualified = len(selected) + sum(1 for s in session.samples.iter(status=Status.DROPPED)
                                    if (s.reason or "").startswith("not_selected"))
    assert len(selected) == 5 and qualified > 5
    size, mean = state.targets
    assert (size.name, size.achieved, size.met) == ("size", 5, True)
    assert size.detail == f"5 exported; {qualified} qualified"
    # Mean quality is that of the random pick written out, not of the best five.
    scores = [v.overall for v in latest_judgements(session.conn, selected).values()]
    assert mean.achieved == sum(scores) / len(scores)
    console = Console(record=True, width=200)
    console.print(outcome_view(type("Outcome", (), {"state": state, "session_dir": session.dir, "spend": {},
                                                  "waiting_for_review": None})()))
    (row,) = [line for line in console.export_text().splitlines() if line.startswith("│ size")]
    assert [c.strip() for c in row.strip("│").split("│")] == ["size", "5", "5", "yes", f"5 exported; {qualified} qualified"]
    report = (session.dir / "report.html").read_text()
    assert f"5 exported; {qualified} qualified" in report
    session.close()
