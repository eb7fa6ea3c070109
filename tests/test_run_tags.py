"""The run's tag step: `--select mig` inside `assay run` selects on skill tags the run wrote.

The scripted world tags each sample by its subject, so the labels MIG sees can be told from
the cluster labels it falls back to; the calls go through the gateway and count on the budget.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assay.core.config import Config, Targets
from assay.llm.budget import BudgetLedger
from assay.llm.transport import CompletionRequest
from assay.pipeline.deps import RunOptions
from assay.session.session import Session
from assay.testing.scripted import ScriptedTransport, scripted_gateway
from tests.curation_world import CurationWorld, blocks
from tests.test_curation_graph import ASTRONOMY, COOKING, TAX, run_graph, write_pool

SUBJECTS = {"cooking": {q for q, _ in COOKING}}


class TaggingWorld(CurationWorld):
    """The curation world, tagging cooking questions `cooking` and every other one `general-knowledge`."""

    def _answer(self, request: CompletionRequest, props: set[str]) -> tuple[str, Any]:
        if props == {"tags"}:
            instruction = blocks(request).get("instruction", "").strip()
            return "tags", {"tags": ["Cooking" if instruction in SUBJECTS["cooking"] else "general knowledge"]}
        return super()._answer(request, props)


@pytest.fixture
def spy_select(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The pools handed to the selector: their label names say what MIG selected on."""
    import assay.tools.selection as selection

    pools: list[Any] = []
    real = selection.select

    def spy(method: str, pool: Any, n: int, **kwargs: Any) -> Any:
        pools.append(pool)
        return real(method, pool, n, **kwargs)

    monkeypatch.setattr(selection, "select", spy)
    return pools


def open_session(tmp_path: Path, runtime: Any, config: Config, ledger: BudgetLedger | None = None) -> tuple[Session, TaggingWorld]:
    session = Session.open(tmp_path / "session", runtime, config, create=True)
    world = TaggingWorld()
    session.gateway = scripted_gateway(session, ScriptedTransport(default=world), budget=ledger)  # type: ignore[misc]
    return session, world


def tag_calls(session: Session) -> int:
    return session.conn.execute(
        "SELECT COUNT(*) FROM llm_calls WHERE agent = 'decomposer' AND request LIKE '%Tag this sample%'").fetchone()[0]


async def test_mig_in_a_run_selects_on_the_skill_tags_the_run_wrote(tmp_path, runtime, spy_select) -> None:
    pool = write_pool(tmp_path / "pool.jsonl")
    session, world = open_session(tmp_path, runtime, Config(targets=Targets(size=5, quality_floor=3.0)))
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], selection="mig"))
    assert state.stop_reason == "targets_met"
    samples = list(session.samples.iter())
    tagged = {s.id: s.tags["skills"] for s in samples if s.tags.get("skills")}
    candidates = [s for s in samples if s.status.value == "selected" or (s.reason or "").startswith("not_selected:mig")]
    assert len(candidates) > 5 and {s.id for s in candidates} == set(tagged)  # every candidate, and only they
    assert set(map(tuple, tagged.values())) == {("cooking",), ("general-knowledge",)}
    (picked,) = spy_select
    assert set(picked.labels.names) == {"cooking", "general-knowledge"}  # skills, not cluster-N labels
    # One call per candidate, through the gateway: traced, on the ledger, under the decomposer's role.
    assert world.asked["tags"] == len(tagged) == tag_calls(session)
    event = session.conn.execute("SELECT data FROM events WHERE kind = 'tag'").fetchone()
    assert json.loads(event["data"]) == {"tagged": len(tagged), "failed": 0, "untagged": 0}


async def test_the_recipe_can_skip_tagging_and_mig_falls_back_to_cluster_labels(tmp_path, runtime, spy_select) -> None:
    pool = write_pool(tmp_path / "pool.jsonl")
    config = Config.model_validate({"targets": {"size": 5, "quality_floor": 3.0}, "tags": {"enabled": False}})
    session, world = open_session(tmp_path, runtime, config)
    await run_graph(session, RunOptions(inputs=[str(pool)], selection="mig"))
    assert "tags" not in world.asked and tag_calls(session) == 0
    assert not any(s.tags.get("skills") for s in session.samples.iter())
    (picked,) = spy_select
    assert all(name.startswith("cluster-") for name in picked.labels.names)


async def test_other_selectors_tag_nothing(tmp_path, runtime, spy_select) -> None:
    pool = write_pool(tmp_path / "pool.jsonl")
    session, world = open_session(tmp_path, runtime, Config(targets=Targets(size=5, quality_floor=3.0)))
    await run_graph(session, RunOptions(inputs=[str(pool)], selection="deita"))
    assert "tags" not in world.asked and tag_calls(session) == 0


async def test_tagging_stops_at_the_budget_and_keeps_what_it_paid_for(tmp_path, runtime, spy_select) -> None:
    pool = write_pool(tmp_path / "pool.jsonl")
    judging = len(COOKING + ASTRONOMY + TAX)  # every sample of the pool is judged once
    ledger = BudgetLedger(max_calls=judging + 3)  # and three calls are left for tagging
    session, _ = open_session(tmp_path, runtime, Config(targets=Targets(size=5, quality_floor=3.0)), ledger=ledger)
    state, _ = await run_graph(session, RunOptions(inputs=[str(pool)], selection="mig"))
    assert state.stop_reason == "targets_met"  # the loop's own stop; the spent budget is in the trace
    tagged = [s for s in session.samples.iter() if s.tags.get("skills")]
    assert 0 < len(tagged) <= 3 and tag_calls(session) == len(tagged)
    assert session.conn.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0] == judging + 3
    assert "stopped: LLM call budget spent" in session.conn.execute("SELECT message FROM events WHERE kind = 'tag'").fetchone()[0]
    assert (session.dir / "curated.jsonl").exists()  # the selection still ran
    # Some candidates untagged: MIG selects on cluster labels for all, not on the few tagged.
    (picked,) = spy_select
    assert all(name.startswith("cluster-") for name in picked.labels.names)


@pytest.mark.parametrize(("flags", "enabled"), [([], True), (["--no-tags"], False)])
def test_the_no_tags_flag_turns_tagging_off_in_the_sessions_recipe(tmp_path, monkeypatch, flags, enabled) -> None:
    from typer.testing import CliRunner

    import assay.cli.run as run_module
    from assay.cli.app import app

    class Started(Exception):
        """Stops the command where the run would begin, with the recipe it would store."""

    def start_run(out: Path, *, config: Config, **kwargs: Any) -> None:
        raise Started(config)

    monkeypatch.setattr(run_module, "start_run", start_run)
    pool = write_pool(tmp_path / "pool.jsonl")
    result = CliRunner().invoke(app, ["run", str(pool), "--out", str(tmp_path / "s"), "--dry-run", "--select", "mig",
                                      *flags])
    assert isinstance(result.exception, Started), result.output
    assert result.exception.args[0].tags.enabled is enabled


def test_resume_can_turn_tagging_off(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    import assay.cli.run as run_module
    from assay.cli.app import app

    class Resumed(Exception):
        """Stops the command where the resume would begin, with the settings it would store."""

    def resume_run(session: Path, *, overrides: dict[str, Any], **kwargs: Any) -> None:
        raise Resumed(overrides)

    monkeypatch.setattr(run_module, "resume_run", resume_run)
    result = CliRunner().invoke(app, ["resume", str(tmp_path), "--no-tags"])
    assert isinstance(result.exception, Resumed), result.output
    assert result.exception.args[0]["tags.enabled"] is False


def test_a_session_stored_before_tagging_existed_goes_on_without_it(tmp_path) -> None:
    from assay.core.recipe import stored_recipe

    before = Config().model_dump(mode="json")
    del before["tags"]  # what 0.1.0 stored
    assert stored_recipe(tmp_path, before).tags.enabled is False
    assert stored_recipe(tmp_path, Config().model_dump(mode="json")).tags.enabled is True
