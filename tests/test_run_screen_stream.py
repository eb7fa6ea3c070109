"""`assay run`'s round-0 screen on the streaming engine (issue 14, item 1): the session it leaves is the one the
in-memory screen leaves (statuses, reasons, scores, decisions, clusters, the screen event), on the example
pools and a 2k Alpaca pool with planted duplicates, inline and on 2 worker processes; a screen killed
in any pass or while recording finishes on the rerun with nothing recorded twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assay.core.config import Config
from assay.core.records import Status
from assay.pipeline.engine.executor import LocalExecutor
from tests.conftest import EXAMPLES, fixed_runtime
from tests.run_screen_world import ingested, screened_in_memory, snapshot
from tests.test_engine_local import planted_pool

POOLS = ["quickstart.jsonl", "pool.jsonl"]


def reference(tmp: Path, source: Path, config: Config | None = None, **options: Any) -> dict[str, Any]:
    """Today's screen (all seeds as Samples, score_pool, apply_screen), the reference."""
    return screened_in_memory(*ingested(tmp / "memory", source, fixed_runtime({"ASSAY_HOME": str(tmp / "home")}),
                                        config=config, **options))


def streamed(tmp: Path, source: Path, *, executor: Any = None, batch_size: int = 97, config: Config | None = None,
             fault: Any = None, name: str = "stream", **options: Any) -> dict[str, Any]:
    from assay.pipeline.engine.session_screen import screen_seeds

    directory = tmp / name
    runtime = fixed_runtime({"ASSAY_HOME": str(tmp / "home")})
    if directory.exists():  # a rerun after a kill: the session as the kill left it
        from types import SimpleNamespace

        from assay.pipeline.deps import RunOptions
        from assay.session.session import Session
        from assay.session.store import Store, chroma_client
        from tests.run_screen_world import HashEncoder

        session = Session.open(directory, runtime, config or Config(), create=False)
        session.__dict__["store"] = Store(session.samples, HashEncoder(), chroma_client(session.dir, None), directory.name)
        deps = SimpleNamespace(session=session, options=RunOptions(inputs=[str(source)], **options), emit=lambda k, d: None)
    else:
        session, deps = ingested(directory, source, runtime, config=config, **options)
    try:
        screen_seeds(deps, lambda: session.set_meta("screened_rounds", [0]), executor=executor or LocalExecutor(1),
                     batch_size=batch_size, fault=fault)
        return snapshot(session)
    finally:
        session.close()


@pytest.mark.parametrize("name", POOLS)
def test_the_streamed_screen_leaves_the_session_the_in_memory_one_does(tmp_path: Path, name: str) -> None:
    expected = reference(tmp_path, EXAMPLES / name)
    got = streamed(tmp_path, EXAMPLES / name, batch_size=7)
    assert got == expected
    assert any(status == "dropped" for _, status, *_ in expected["samples"])  # the pool exercises drops
    assert any("cluster" in tags for *_, tags, _ in expected["samples"])


def test_same_session_on_a_planted_2k_pool_inline_and_on_two_workers(tmp_path: Path) -> None:
    source = planted_pool(tmp_path / "planted.jsonl")
    expected = reference(tmp_path, source)
    assert streamed(tmp_path, source, batch_size=301) == expected
    with LocalExecutor(2) as executor:
        assert streamed(tmp_path, source, batch_size=500, executor=executor, name="two") == expected
    reasons = {reason for _, status, reason, *_ in expected["samples"] if status == "dropped"}
    assert any(r and "duplicate" in r for r in reasons), reasons


def test_exact_dedup_only_and_no_dedup_match_too(tmp_path: Path) -> None:
    source = EXAMPLES / "pool.jsonl"
    for dedup, name in ((["exact"], "exact"), ([], "none")):
        expected = reference(tmp_path / name, source, dedup=dedup)
        assert streamed(tmp_path / name, source, batch_size=11, dedup=dedup) == expected


class Killed(Exception):
    """The stand-in for a kill at a chosen point."""


@pytest.mark.parametrize("at", [("screen", 1), ("verdict", 2), ("clusters", 1), ("apply", 1)])
def test_a_killed_screen_finishes_on_the_rerun_with_nothing_recorded_twice(tmp_path: Path, at: tuple[str, int]) -> None:
    source = EXAMPLES / "pool.jsonl"
    expected = reference(tmp_path, source)

    def kill(stage: str, index: int) -> None:
        if (stage, index) == at:
            raise Killed(f"{stage} {index}")

    with pytest.raises(Killed):
        streamed(tmp_path, source, batch_size=7, fault=kill)
    computed: list[tuple[str, int]] = []
    got = streamed(tmp_path, source, batch_size=7, fault=lambda stage, index: computed.append((stage, index)))
    assert got == expected
    stage, index = at  # the kill came right after that part was written (or that batch recorded)
    assert (stage, index + 1) in computed and (stage, index) not in computed  # the rest done, the done not redone
    assert not (tmp_path / "stream" / "screen-0.parts").exists()  # the work folder goes once the mark is down


def derived(seeds: list[Any]) -> list[Any]:
    """Round-1 additions: copies of pool samples (exact after normalisation, an edited one, one of a copy),
    a pair that copy each other, and novel ones; op "repair", as the repair step stores them."""
    from assay.core.records import Message, Sample

    def make(instruction: str, response: str) -> Sample:
        return Sample.create([Message(role="user", content=instruction), Message(role="assistant", content=response)],
                             op="repair", source="repair")

    a, b, c = seeds[3], seeds[10], seeds[20]
    words = b.response.split(" ")
    edited = " ".join(words[:2] + [words[1]] + words[2:])
    novel = ("Describe the life cycle of a monarch butterfly in four stages, with the length of each stage and "
             "one fact about the caterpillar's diet.")
    answer = ("Egg (3-5 days), larva (about 2 weeks; it eats only milkweed), pupa (8-15 days), adult (2-6 weeks "
              "in summer, up to 8 months for the migrating generation).")
    return [make("  " + a.instruction.upper() + " ", a.response), make(b.instruction, edited),
            make(c.instruction, c.response + " "), make(novel, answer), make(novel + " ", answer),
            make("Name three primary colours.", "Red, yellow and blue.")]


def additions(tmp: Path, name: str, streamed_pool: bool) -> tuple[dict[str, Any], int]:
    """Round 0 screened, then round 1's additions screened: today's way (the whole active pool as Samples)
    or against the key closure; the session after, and how many pool samples the dedup was given."""
    from assay.pipeline.engine import session_additions
    from assay.pipeline.screen.pool import screen_additions

    source = EXAMPLES / "pool.jsonl"
    session, deps = ingested(tmp / name, source, fixed_runtime({"ASSAY_HOME": str(tmp / "home")}))
    try:
        from assay.pipeline.engine.session_screen import screen_seeds

        screen_seeds(deps, lambda: session.set_meta("screened_rounds", [0]), executor=LocalExecutor(1), batch_size=50)
        active = list(session.samples.iter(status=Status.ACTIVE))
        fresh = derived(active)
        session.store.add(fresh, round=1)
        mark = lambda: session.set_meta("screened_rounds", [0, 1])  # noqa: E731
        given = len(session.samples.get([s.id for s in active]))
        if streamed_pool:
            given = len(session_additions.dedup_reference(session, fresh, session_additions.ScoreOptions(
                dedup=("exact", "minhash"), seed=session.config.llm.seed, screen=session.config.screen)))
            session_additions.screen_additions(deps, fresh, 1, mark)
        else:
            screen_additions(deps, fresh, 1, mark)
        return snapshot(session), given
    finally:
        session.close()


def test_additions_get_the_verdicts_the_whole_pool_gives_from_the_pool_samples_their_keys_reach(tmp_path: Path) -> None:
    expected, pool_size = additions(tmp_path, "whole", streamed_pool=False)
    got, reached = additions(tmp_path, "closure", streamed_pool=True)
    assert got == expected
    fresh = [row for row in expected["samples"] if row[5] == 1]
    assert [row[1] for row in fresh].count("dropped") >= 3, fresh  # the copies went, whatever held them
    assert any(row[1] == "active" and "cluster" in row[4] for row in fresh)  # the novel ones joined a cluster
    assert 0 < reached <= 10 < pool_size
