"""What a user hits at once: the embedded-model note, choice errors, folders and output names,
Parquet types, progress on stderr, and the number formatting of the views (issue 13)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from assay.core.errors import AssayError
from tests.conftest import EXAMPLES
from tests.test_cli import assay, run_main

POOL = EXAMPLES / "pool.jsonl"
NOTE = "embedded local model"


def main_exit(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    """`assay ARGV` in this process; its exit code."""
    from assay.cli.app import main

    monkeypatch.setattr(sys, "argv", ["assay", *argv])
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0)


# 1. The embedded model judges: say once that its judgements are weak.

def test_run_with_the_embedded_model_says_once_its_judgements_are_weak(monkeypatch, capsys, tmp_path: Path) -> None:
    code, _ = run_main(monkeypatch, "run", str(POOL), "--out", str(tmp_path / "s"))
    captured = capsys.readouterr()
    assert code == 0 and captured.err.count(NOTE) == 1 and "--model" in captured.err and NOTE not in captured.out


@pytest.mark.parametrize("flags", [["--dry-run"], ["--model", "openai/gpt-4o-mini"]])
def test_no_note_with_a_real_model_or_a_dry_run(monkeypatch, capsys, tmp_path: Path, flags: list[str]) -> None:
    code, _ = run_main(monkeypatch, "run", str(POOL), "--out", str(tmp_path / "s"), *flags)
    assert code == 0 and NOTE not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["judge", "expand"])
def test_judge_and_expand_with_the_embedded_model_say_so(monkeypatch, capsys, tmp_path: Path, command: str) -> None:
    from assay.pipeline.expand import request
    from assay.pipeline.judge import files

    def stop(*args: object, **kwargs: object) -> None:
        raise AssayError("stopped before judging")

    monkeypatch.setattr(files, "run_judge", stop)
    monkeypatch.setattr(request, "run_expand", stop)
    first = [str(POOL)] if command == "judge" else ["20 SQL questions", "--pool", str(POOL)]
    assert main_exit(monkeypatch, command, *first, "--out", str(tmp_path / "o.jsonl")) == 2
    assert capsys.readouterr().err.count(NOTE) == 1


# 2. Unknown choices name the flag and list the values.

def test_an_unknown_planner_names_the_flag_and_the_choices(monkeypatch, capsys, tmp_path: Path) -> None:
    code, calls = run_main(monkeypatch, "run", str(POOL), "--out", str(tmp_path / "s"), "--dry-run", "--planner", "foo")
    err = capsys.readouterr().err
    assert code == 2 and not calls
    assert err.strip() == "error: --planner: 'foo' is not one of policy, llm"


def test_an_unknown_select_names_the_flag_and_the_choices(monkeypatch, capsys, tmp_path: Path) -> None:
    code, _ = run_main(monkeypatch, "run", str(POOL), "--out", str(tmp_path / "s"), "--dry-run", "--select", "foo")
    assert code == 2 and "--select: 'foo' is not one of mig, deita, kcenter, random" in capsys.readouterr().err


def test_an_unknown_select_method_names_the_flag(monkeypatch, capsys, tmp_path: Path) -> None:
    code = main_exit(monkeypatch, "select", str(POOL), "--n", "3", "--out", str(tmp_path / "o.jsonl"), "--method", "foo")
    err = capsys.readouterr().err
    assert code == 2 and "--method: 'foo' is not one of mig, deita, kcenter, random" in err
    assert not (tmp_path / "o.jsonl").exists()


# 3. A folder as input, and --decontam beside the input path.

def test_a_folder_as_input_says_it_is_a_folder_and_lists_its_data_files(tmp_path: Path) -> None:
    done = assay("score", str(EXAMPLES), "--out", str(tmp_path / "o.jsonl"), "--no-embed", home=tmp_path, check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "is a directory" in done.stderr and "pool.jsonl" in done.stderr and "no such file" not in done.stderr


def test_an_empty_folder_as_input_says_it_holds_no_data(tmp_path: Path) -> None:
    from assay.core.readers import read_samples

    with pytest.raises(AssayError, match="is a directory.*holds no .jsonl"):
        read_samples(tmp_path)


def test_score_decontam_before_the_path_keeps_both(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    assay("score", "--decontam", str(EXAMPLES / "benchmark.jsonl"), str(POOL), "--out", str(out), "--no-embed",
          home=tmp_path)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(POOL.read_text().splitlines())
    assert any((r["_assay"]["reason"] or "").startswith("contaminated:") for r in rows)


# 4. The output's extension names its format, or the command refuses before any work.

@pytest.mark.parametrize("name", ["x.csv", "x.jsonl.gz", "x"])
def test_an_unsupported_output_extension_is_refused_in_one_line(tmp_path: Path, name: str) -> None:
    done = assay("score", str(POOL), "--out", str(tmp_path / name), "--no-embed", home=tmp_path, check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert ".jsonl, .json, .parquet" in done.stderr and not (tmp_path / name).exists()


@pytest.mark.parametrize("suffix", [".json", ".parquet"])
def test_the_extension_picks_the_format(tmp_path: Path, suffix: str) -> None:
    from assay.core.readers import container_of

    out = tmp_path / f"o{suffix}"
    assay("score", str(POOL), "--out", str(out), "--no-embed", home=tmp_path)
    assert container_of(out) == suffix[1:]


# 5. Parquet output types assay's own fields, even when every value is null.

def test_parquet_gives_an_all_null_reason_a_string_type(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from assay.core.writers import write_records

    rows = [{"instruction": "a", "_assay": {"id": "1", "reason": None, "cluster": None, "injection": []}}]
    write_records(tmp_path / "a.parquet", rows, "parquet")
    field = pq.read_schema(tmp_path / "a.parquet").field("_assay").type
    assert field.field("reason").type == pa.string() and field.field("cluster").type == pa.int64()
    assert field.field("injection").type == pa.list_(pa.string())
    other = [{"instruction": "b", "_assay": {"id": "2", "reason": "empty_output", "cluster": 3, "injection": ["x"]}}]
    write_records(tmp_path / "b.parquet", other, "parquet")
    both = pa.concat_tables([pq.read_table(tmp_path / "a.parquet"), pq.read_table(tmp_path / "b.parquet")])
    assert both.num_rows == 2


# 6. Progress goes to stderr; stdout holds the result.

def test_progress_draws_on_stderr() -> None:
    from assay.cli.render import progress_bar, progress_console

    assert progress_bar().console is progress_console and progress_console.stderr


# 7. One formatter for numbers, None and dicts.

def test_values_are_shown_rounded_with_a_dash_for_none_and_dicts_as_words() -> None:
    from assay.core.readable import shown, shown_pairs

    assert shown(2.979124124124123) == "2.98" and shown(0.0123456) == "0.0123" and shown(3.0) == "3"
    assert shown(None) == "–" and shown({"attempted": 20, "accepted": 1}) == "attempted 20, accepted 1"
    assert shown_pairs({"pool_mean_quality": 2.979124124124123, "topic_coverage": None}) == \
        "pool_mean_quality=2.98, topic_coverage=–"


def test_the_run_display_and_trace_round_use_the_formatter() -> None:
    from assay.cli.run_display import metrics_line, target_line
    from assay.cli.trace_render import _round_text

    assert metrics_line({"active": 10, "export_mean_quality": 2.979124124124123}) == "active 10 · export_mean_quality 2.98"
    assert "achieved –" not in str(target_line({"name": "t", "met": False, "achieved": None, "target": 0.8}))
    assert "t: – vs target 0.8" in str(target_line({"name": "t", "met": False, "achieved": None, "target": 0.8}))
    entry = {"round": 2, "plan": {"action": "repair", "planner": "policy", "finished_at": "x", "metrics": {
        "pool_mean_quality": 2.979124124124123, "topic_coverage": None, "repair": {"attempted": 20, "accepted": 1}}},
        "llm": {"calls": 0, "cost_usd": 0.0}, "added": {}, "review": {}, "decisions": []}
    text = str(_round_text(entry))
    assert "pool_mean_quality=2.98, topic_coverage=–, repair=(attempted 20, accepted 1)" in text


# 8. The words: `active` as in the file; random does not claim diversity.

def test_score_says_active_like_the_file(tmp_path: Path) -> None:
    done = assay("score", str(POOL), "--out", str(tmp_path / "o.jsonl"), "--no-embed", home=tmp_path)
    assert "active" in done.stdout and " kept " not in done.stdout


def test_random_selection_does_not_claim_diversity(tmp_path: Path) -> None:
    done = assay("select", str(POOL), "--n", "3", "--out", str(tmp_path / "o.jsonl"), "--method", "random", home=tmp_path)
    assert "random draws uniformly" in done.stdout.replace("\n", " ")


def test_run_event_lines_show_dicts_as_words_and_skip_empty_values() -> None:
    from io import StringIO

    from rich.console import Console

    from assay.cli.render import progress_bar
    from assay.cli.run_display import RunDisplay

    console = Console(file=StringIO(), width=200)
    RunDisplay(console, progress_bar())("repaired", {"repair": {"attempted": 20, "accepted": 1}, "mean": 2.979124, "notes": []})
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "repaired: repair (attempted 20, accepted 1), mean 2.98" in out and "notes" not in out
