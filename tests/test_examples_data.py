"""Consistency checks for the example dataset in examples/.

Only the standard library and pytest are used, so these tests do not depend on
the assay package itself.
"""

import json
import pathlib
from collections import Counter

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"

ALLOWED_KINDS = {
    "wrong_answer",
    "empty_output",
    "truncated",
    "merged_instructions",
    "url_only_input",
    "refusal",
    "near_duplicate",
    "exact_duplicate",
    "repetition",
    "contaminated",
}
POOL_KEYS = {"instruction", "input", "output"}


def _read_lines(path):
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def key():
    return json.loads((EXAMPLES / "defects.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pool_lines(key):
    return _read_lines(EXAMPLES / key["pool"])


@pytest.fixture(scope="module")
def pool(pool_lines):
    return [json.loads(line) for line in pool_lines]


@pytest.fixture(scope="module")
def bench_items(key):
    return [json.loads(line) for line in _read_lines(EXAMPLES / key["benchmark"])]


@pytest.fixture(scope="module")
def defects(key):
    return key["defects"]


def test_key_top_level(key):
    assert key["pool"] == "pool.jsonl"
    assert key["benchmark"] == "benchmark.jsonl"
    assert isinstance(key["defects"], list) and key["defects"]


def test_pool_lines_parse_with_three_string_keys(pool_lines):
    for n, line in enumerate(pool_lines, start=1):
        assert line.strip(), f"line {n} is blank"
        record = json.loads(line)
        assert isinstance(record, dict), f"line {n} is not an object"
        assert set(record) == POOL_KEYS, f"line {n} has keys {sorted(record)}"
        for field in POOL_KEYS:
            assert isinstance(record[field], str), f"line {n}: {field} is not a string"
        assert record["instruction"].strip(), f"line {n} has an empty instruction"


def test_pool_size(pool):
    assert 130 <= len(pool) <= 170


def test_benchmark_well_formed(bench_items):
    ids = [item["id"] for item in bench_items]
    assert len(ids) == len(set(ids)), "benchmark ids are not unique"
    for item in bench_items:
        assert set(item) == {"id", "question", "answer"}
        assert all(isinstance(item[k], str) and item[k].strip() for k in item)
    long_enough = [item for item in bench_items if len(item["question"].split()) >= 25]
    assert len(long_enough) >= len(bench_items) * 0.8


def test_defect_lines_and_prefixes(pool, defects):
    for d in defects:
        line = d["line"]
        assert isinstance(line, int) and 1 <= line <= len(pool), d
        instruction = pool[line - 1]["instruction"]
        assert d["instruction_prefix"] == instruction[:40], (
            f"line {line}: prefix {d['instruction_prefix']!r} does not match {instruction[:40]!r}"
        )
        assert d.get("detail", "").strip(), f"line {line} has no detail"


def test_defect_kinds_allowed(defects):
    used = {d["kind"] for d in defects}
    assert used <= ALLOWED_KINDS, used - ALLOWED_KINDS


def test_duplicate_of_points_at_existing_line(pool, pool_lines, defects):
    for d in defects:
        if d["kind"] in ("near_duplicate", "exact_duplicate"):
            original = d["duplicate_of"]
            assert isinstance(original, int) and 1 <= original <= len(pool), d
            assert original != d["line"], d
            same = pool_lines[d["line"] - 1] == pool_lines[original - 1]
            if d["kind"] == "exact_duplicate":
                assert same, f"line {d['line']} is not identical to line {original}"
            else:
                assert not same, f"line {d['line']} is an exact copy; mark it exact_duplicate"
        else:
            assert "duplicate_of" not in d, d


def test_benchmark_ids_exist(bench_items, defects):
    ids = {item["id"] for item in bench_items}
    for d in defects:
        if d["kind"] == "contaminated":
            assert d["benchmark_id"] in ids, d
            assert d["planting"] in ("verbatim", "reworded"), d
        else:
            assert "benchmark_id" not in d and "planting" not in d, d


def test_verbatim_plantings_contain_question(pool, bench_items, defects):
    questions = {item["id"]: item["question"] for item in bench_items}
    verbatim = [d for d in defects if d["kind"] == "contaminated" and d["planting"] == "verbatim"]
    assert verbatim, "no verbatim plantings"
    for d in verbatim:
        record = pool[d["line"] - 1]
        question = questions[d["benchmark_id"]]
        assert question in record["instruction"] or question in (
            record["instruction"] + "\n" + record["input"]
        ), f"line {d['line']} does not contain {d['benchmark_id']} verbatim"


def test_every_kind_occurs_at_least_twice(defects):
    counts = Counter(d["kind"] for d in defects)
    for kind in ALLOWED_KINDS:
        assert counts[kind] >= 2, f"{kind} occurs {counts[kind]} times"


def test_no_repeated_defect_entry(defects):
    pairs = Counter((d["line"], d["kind"]) for d in defects)
    assert max(pairs.values()) == 1, [p for p, c in pairs.items() if c > 1]


def test_at_least_100_clean_lines(pool, defects):
    flagged = {d["line"] for d in defects}
    assert len(pool) - len(flagged) >= 100


def test_unflagged_lines_are_unique(pool_lines, defects):
    flagged = {d["line"] for d in defects}
    clean = [line for n, line in enumerate(pool_lines, start=1) if n not in flagged]
    assert len(clean) == len(set(clean)), "an exact duplicate line is missing from the answer key"
