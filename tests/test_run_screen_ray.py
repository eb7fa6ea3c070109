"""`assay run`'s round-0 screen on the Ray engine (issue 14, item 4): the session it leaves is the in-memory
screen's, on a local Ray and on a simulated two-node cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.ray_env import ray_runtime  # noqa: F401  (the fixture)
from tests.test_engine_local import planted_pool
from tests.test_run_screen_stream import reference, streamed

pytestmark = pytest.mark.slow


def test_the_ray_engine_leaves_the_session_the_in_memory_screen_does(tmp_path: Path, ray_runtime: str) -> None:
    from assay.pipeline.engine.ray_executor import RayExecutor

    executor = RayExecutor()  # the fixture's Ray, left running
    for source, batch_size in ((EXAMPLES / "pool.jsonl", 23), (planted_pool(tmp_path / "planted.jsonl"), 500)):
        expected = reference(tmp_path / source.stem, source)
        assert streamed(tmp_path / source.stem, source, executor=executor, batch_size=batch_size) == expected


def test_a_run_with_the_ray_engine_screens_on_ray(tmp_path: Path, ray_runtime: str) -> None:
    """`assay run --engine ray` ([llm] engine = "ray"): screen_round picks the Ray executor, same session."""
    from assay.core.config import Config
    from assay.pipeline.engine.ray_executor import RayExecutor
    from assay.pipeline.engine.session_screen import screen_round, session_executor
    from tests.conftest import fixed_runtime
    from tests.run_screen_world import ingested, snapshot

    config = Config.model_validate({"llm": {"engine": "ray"}})
    assert isinstance(session_executor(config, 1), RayExecutor)
    source = EXAMPLES / "pool.jsonl"
    expected = reference(tmp_path, source)
    session, deps = ingested(tmp_path / "ray", source, fixed_runtime({"ASSAY_HOME": str(tmp_path / "home")}),
                             config=config)
    try:
        screen_round(deps, 0, [])
        assert snapshot(session) == expected
        assert not (tmp_path / "ray" / "screen-0.parts").exists()
    finally:
        session.close()
