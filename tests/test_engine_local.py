"""The streaming engine of `assay score` (issue 14, item 1): the same output file and summary as the
in-memory engine, batch by batch on 1 or 2 worker processes, resumable after a kill, its work folder
removed after success."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from assay.core.config import Config
from assay.core.writers import write_records
from assay.pipeline.engine.executor import LocalExecutor
from assay.pipeline.engine.local import EngineSettings, score_streaming
from assay.pipeline.engine.parts import default_work_dir
from assay.pipeline.engine.score import score_file
from assay.pipeline.screen.files import run_score
from assay.pipeline.screen.scoring import ScoreOptions
from assay.session.session import Runtime
from tests.conftest import EXAMPLES, need_shared_data

QUICKSTART = EXAMPLES / "quickstart.jsonl"
METHODS = ("exact", "minhash")


def planted_pool(path: Path, size: int = 2000, seed: int = 3) -> Path:
    """alpaca_5000's first records plus planted copies: repeats (one with an extra field), copies exact after
    normalisation, and edited copies, shuffled so copies land in other batches than their originals."""
    records = json.loads((need_shared_data() / "alpaca" / "alpaca_5000.json").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    pool = [dict(r) for r in records[: size - 240]]
    for n in range(240):
        original = dict(rng.choice(pool[: size - 240]))
        kind = n % 4
        if kind == 0:  # a repeat: the same record, same id
            pool.append(original)
        elif kind == 1:  # a repeat with an extra field: same id, its own record in the output
            pool.append({**original, "category": f"copy-{n}"})
        elif kind == 2:  # exact after normalisation: case and spacing differ, so the id does too
            pool.append({**original, "instruction": "  " + original["instruction"].upper() + " "})
        else:  # an edited copy: one word of the output doubled
            words = original["output"].split(" ")
            at = rng.randrange(len(words))
            pool.append({**original, "output": " ".join(words[:at] + [words[at]] + words[at:])})
    rng.shuffle(pool)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in pool), encoding="utf-8")
    return path


def in_memory(source: Path, out: Path, methods: tuple[str, ...], tmp: Path, *, decontam: tuple[Path, ...] = (),
              skip_invalid: bool = False) -> dict[str, Any]:
    """Today's engine (screen/files.py run_score), the reference; also writes `out` in the other containers."""
    report = run_score(source, out, config=Config(), runtime=Runtime(env={"ASSAY_HOME": str(tmp / "home")}),
                       session_dir=None, skip_invalid=skip_invalid, methods=methods, decontam=decontam, ifd=False,
                       ifd_model=None, embed=False, clusters=None)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for container in ("json", "parquet"):  # run_score writes write_records(scored_records(...), container)
        write_records(out.with_suffix(f".{container}"), rows, container)
    return dict(report)


def streamed(source: Path, out: Path, methods: tuple[str, ...], tmp: Path, *, workers: int, batch_size: int = 97,
             decontam: tuple[Path, ...] = (), skip_invalid: bool = False) -> dict[str, Any]:
    report = score_file(source, out, config=Config(), runtime=Runtime(env={"ASSAY_HOME": str(tmp / "home")}),
                        session_dir=None, skip_invalid=skip_invalid, methods=methods, decontam=decontam, ifd=False,
                        ifd_model=None, embed=False, clusters=None, workers=workers, batch_size=batch_size)
    return dict(report)


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The summary without timings."""
    skip = {"seconds", "out", "embed_seconds"}
    kept = {k: v for k, v in report.items() if k not in skip}
    kept["stages"] = [{k: v for k, v in stage.items() if k != "seconds"} for stage in report["stages"]]
    return kept


def assert_same_output(reference: Path, candidate: Path) -> None:
    if reference.suffix == ".parquet":  # same schema and rows; the streamed file has a row group per batch
        ours, theirs = pq.read_table(candidate), pq.read_table(reference)
        assert ours.schema.equals(theirs.schema, check_metadata=True)
        assert ours.equals(theirs)
    else:
        assert candidate.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("methods", [(), METHODS])
@pytest.mark.parametrize("container", ["jsonl", "json", "parquet"])
def test_quickstart_gives_the_in_memory_output_and_summary(tmp_path: Path, container: str,
                                                           methods: tuple[str, ...]) -> None:
    reference = in_memory(QUICKSTART, tmp_path / "mem.jsonl", methods, tmp_path)
    out = tmp_path / f"streamed.{container}"
    report = streamed(QUICKSTART, out, methods, tmp_path, workers=1, batch_size=5)
    assert_same_output(tmp_path / f"mem.{container}", out)
    assert comparable(report) == comparable(reference)
    assert not default_work_dir(out).exists()  # the work folder goes once the output is written


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("planted")
    source = planted_pool(tmp / "pool.jsonl")
    return source, tmp, in_memory(source, tmp / "mem.jsonl", METHODS, tmp)


@pytest.mark.parametrize(("container", "workers"), [("jsonl", 2), ("json", 1), ("parquet", 2)])
def test_a_planted_pool_gives_the_in_memory_output_and_summary(planted: tuple[Path, Path, dict[str, Any]],
                                                               tmp_path: Path, container: str, workers: int) -> None:
    source, tmp, reference = planted
    assert reference["repeats"] >= 120 and reference["by_reason"]["duplicate_of"] >= 100  # the plants took
    out = tmp_path / f"streamed.{container}"
    report = streamed(source, out, METHODS, tmp_path, workers=workers)
    assert_same_output(tmp / f"mem.{container}", out)
    assert comparable(report) == comparable(reference)


def test_decontamination_and_every_planted_defect_of_the_example_pool(tmp_path: Path) -> None:
    decontam = (EXAMPLES / "benchmark.jsonl",)
    reference = in_memory(EXAMPLES / "pool.jsonl", tmp_path / "mem.jsonl", METHODS, tmp_path, decontam=decontam)
    assert any(reason.startswith("contaminated") for reason in reference["by_reason"])
    out = tmp_path / "streamed.jsonl"
    report = streamed(EXAMPLES / "pool.jsonl", out, METHODS, tmp_path, workers=2, batch_size=13, decontam=decontam)
    assert out.read_bytes() == (tmp_path / "mem.jsonl").read_bytes()
    assert comparable(report) == comparable(reference)


def test_skipped_invalid_records_are_counted_and_left_out_alike(tmp_path: Path) -> None:
    lines = QUICKSTART.read_text(encoding="utf-8").splitlines()
    source = tmp_path / "broken.jsonl"
    source.write_text("\n".join([*lines[:5], '{"instruction": "no output"', *lines[5:], lines[3]]) + "\n",
                      encoding="utf-8")
    reference = in_memory(source, tmp_path / "mem.jsonl", METHODS, tmp_path, skip_invalid=True)
    out = tmp_path / "streamed.jsonl"
    report = streamed(source, out, METHODS, tmp_path, workers=1, batch_size=4, skip_invalid=True)
    assert (report["invalid"], report["repeats"]) == (1, 1)
    assert out.read_bytes() == (tmp_path / "mem.jsonl").read_bytes()
    assert comparable(report) == comparable(reference)


class Killed(Exception):
    """The fault the tests inject: a run stopped after some parts were written."""


def test_a_killed_run_resumes_at_batch_granularity(tmp_path: Path) -> None:
    source = planted_pool(tmp_path / "pool.jsonl", size=600)
    reference = in_memory(source, tmp_path / "mem.jsonl", METHODS, tmp_path)
    out = tmp_path / "streamed.jsonl"
    options = ScoreOptions(dedup=METHODS, embed=False)

    def run(fault: Any = None) -> Any:
        return score_streaming(source, out, options, plugins=Config().plugins, executor=LocalExecutor(1),
                               skip_invalid=False, max_record_bytes=16_000_000,
                               settings=EngineSettings(batch_size=50, fault=fault))

    def kill_at_fourth(name: str, index: int) -> None:
        if name == "screen" and index == 3:
            raise Killed

    with pytest.raises(Killed):
        run(kill_at_fourth)
    assert not out.exists()
    assert len(list(default_work_dir(out).glob("screen-*.parquet"))) == 4  # the parts finished before the kill
    resumed = run()
    assert resumed.computed["screen"] == 12 - 4  # only the missing ones
    assert out.read_bytes() == (tmp_path / "mem.jsonl").read_bytes()
    assert resumed.summary["by_reason"] == reference["by_reason"]
    assert not default_work_dir(out).exists()


def test_a_kill_in_a_later_pass_reuses_every_screen_part(tmp_path: Path) -> None:
    out = tmp_path / "streamed.jsonl"
    options = ScoreOptions(dedup=METHODS, embed=False)

    def run(fault: Any = None) -> Any:
        with LocalExecutor(2) as executor:  # closing it waits for the jobs in flight when the fault struck
            return score_streaming(QUICKSTART, out, options, plugins=Config().plugins, executor=executor,
                                   skip_invalid=False, max_record_bytes=16_000_000,
                                   settings=EngineSettings(batch_size=4, fault=fault))

    def kill_writing(name: str, index: int) -> None:
        if name == "out" and index == 1:
            raise Killed

    with pytest.raises(Killed):
        run(kill_writing)
    missing = 3 - len(list(default_work_dir(out).glob("out-*.jsonl")))  # chunks in flight may have finished
    resumed = run()
    assert resumed.computed == {"screen": 0, "dedup": 0, "verdict": 0, "out": missing}
    reference = in_memory(QUICKSTART, tmp_path / "mem.jsonl", METHODS, tmp_path)
    assert out.read_bytes() == (tmp_path / "mem.jsonl").read_bytes()
    assert resumed.summary["by_reason"] == reference["by_reason"]


def test_other_options_start_the_work_folder_afresh(tmp_path: Path) -> None:
    out = tmp_path / "streamed.jsonl"

    def run(methods: tuple[str, ...], fault: Any = None) -> Any:
        return score_streaming(QUICKSTART, out, ScoreOptions(dedup=methods, embed=False), plugins=Config().plugins,
                               executor=LocalExecutor(1), skip_invalid=False, max_record_bytes=16_000_000,
                               settings=EngineSettings(batch_size=4, fault=fault))

    def kill(name: str, index: int) -> None:
        if name == "screen" and index == 1:
            raise Killed

    with pytest.raises(Killed):
        run(METHODS, kill)
    assert run(("exact",)).computed["screen"] == 3  # another recipe: nothing of the killed run is reused


def test_the_executor_keeps_item_order_on_worker_processes() -> None:
    with LocalExecutor(2) as executor:
        assert list(executor.map(abs, range(-20, 0))) == [abs(i) for i in range(-20, 0)]
    assert list(LocalExecutor(1).map(abs, [-3, 2])) == [3, 2]


def test_a_folder_the_engine_did_not_make_is_never_deleted(tmp_path: Path) -> None:
    from assay.core.errors import AssayError

    out = tmp_path / "scored.jsonl"
    mine = default_work_dir(out)
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's own file")
    with pytest.raises(AssayError, match="not an assay work folder"):
        streamed(QUICKSTART, out, METHODS, tmp_path, workers=1)
    assert (mine / "notes.txt").read_text() == "the user's own file"


def test_assay_score_streams_without_embeddings_and_shows_rate_and_eta(tmp_path: Path) -> None:
    from tests.test_cli import assay

    in_memory(QUICKSTART, tmp_path / "mem.jsonl", METHODS, tmp_path)
    out = tmp_path / "cli.jsonl"
    done = assay("score", str(QUICKSTART), "--no-embed", "--out", str(out), "--workers", "1", "--batch-size", "5",
                 home=tmp_path / "home")
    assert out.read_bytes() == (tmp_path / "mem.jsonl").read_bytes()
    assert "screening" in done.stderr and "/s" in done.stderr and "ETA" in done.stderr
    assert not default_work_dir(out).exists()
    refused = assay("score", str(QUICKSTART), "--no-embed", "--out", str(out), "--batch-size", "0",
                    home=tmp_path / "home", check=False)
    assert refused.returncode != 0 and "--batch-size" in refused.stderr


def test_a_file_of_invalid_records_only_gives_the_same_empty_output(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"instruction": "no output"}\n{"broken\n', encoding="utf-8")
    reference = in_memory(source, tmp_path / "mem.jsonl", METHODS, tmp_path, skip_invalid=True)
    for container in ("jsonl", "json", "parquet"):
        out = tmp_path / f"streamed.{container}"
        report = streamed(source, out, METHODS, tmp_path, workers=1, skip_invalid=True)
        assert_same_output(tmp_path / f"mem.{container}", out)
        assert comparable(report) == comparable(reference)


def test_a_folder_as_input_fails_before_any_progress_task_starts(tmp_path: Path) -> None:
    """The CLI's bar appears with the first task: a folder must be refused before one starts,
    or a user sees an empty 'screening 0/?' line above the error."""
    from assay.core.errors import InputError

    started: list[str] = []

    def progress(name: str, total: int | None) -> Any:
        started.append(name)
        return lambda n: None

    with pytest.raises(InputError, match="is a directory"):
        score_streaming(EXAMPLES, tmp_path / "o.jsonl", ScoreOptions(embed=False), plugins=Config().plugins,
                        executor=LocalExecutor(1), skip_invalid=False, max_record_bytes=16_000_000, progress=progress)
    assert started == []
