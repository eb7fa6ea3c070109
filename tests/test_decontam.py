"""Decontamination: benchmark loaders, the n-gram and embedding methods, and the planted examples."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assay.core.errors import InputError
from assay.pipeline.intake.ingest import read_inputs
from assay.core.records import Message, Sample
from assay.tools.benchmarks import Benchmark, BenchmarkItem, benchmark_name, load_benchmark
from assay.tools.decontam import Decontaminator, word_tokens
from tests.conftest import EXAMPLES

TRAIN = ("A train leaves the station at 9:40 in the morning and travels at an average speed of 72 kilometres "
         "per hour. It reaches its destination 234 kilometres away without stopping. At what time does it arrive?")
GARDEN = ("A community garden has 14 raised beds, and each bed holds 6 rows of lettuce with 9 plants in every row. "
          "If rabbits eat one sixth of all the plants, how many lettuce plants are left to harvest?")
ITEMS = (BenchmarkItem("q1", TRAIN), BenchmarkItem("q2", GARDEN))


def sample(user: str, assistant: str = "The answer is 42.") -> Sample:
    return Sample.create([Message(role="user", content=user), Message(role="assistant", content=assistant)])


def ngram_only(items: Sequence[BenchmarkItem] = ITEMS, **options) -> Decontaminator:
    return Decontaminator([Benchmark("mini", tuple(items))], **options)


class BagOfWords:
    """A deterministic stand-in for a sentence embedder: hashed word counts, unit length."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), 512), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in word_tokens(text):
                vectors[row, zlib.crc32(word.encode()) % 512] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def test_word_tokens_ignore_case_punctuation_and_accents() -> None:
    assert word_tokens("Café, CRÈME—brûlée!  x_1 (3.5)") == ["cafe", "creme", "brulee", "x_1", "3", "5"]


@pytest.mark.parametrize("variant", [
    TRAIN,
    "  " + TRAIN.upper().replace(" ", "\n  "),
    TRAIN.replace("72", "80"),
    "It reaches its destination 234 kilometres away without stopping. A train leaves the station at 9:40 in the "
    "morning and travels at an average speed of 72 kilometres per hour. At what time does it arrive?",
    "Solve this: " + TRAIN.lower().replace(".", " ;"),
])
def test_ngram_catches_verbatim_and_lightly_edited_copies(variant: str) -> None:
    [verdict] = ngram_only()([sample(variant)])
    assert not verdict.keep
    assert verdict.reason == "contaminated:mini:q1"
    assert verdict.detail.startswith("13-gram overlap")
    assert verdict.scores["contamination_overlap"] > 0


def test_unrelated_questions_of_the_same_style_are_kept() -> None:
    others = [
        "A bus leaves the depot at 7:15 in the morning and drives 150 kilometres at 60 kilometres per hour. When does it arrive?",
        "A school garden has 8 beds with 5 rows of carrots in each bed. If 20 carrots are eaten, how many remain?",
        "How many kilometres does a car travel in 3 hours at an average speed of 72 kilometres per hour?",
    ]
    verdicts = ngram_only()([sample(q) for q in others])
    assert all(v.keep for v in verdicts)
    assert all(v.scores["contamination_overlap"] == 0 for v in verdicts)


def test_the_response_side_counts_for_ngrams() -> None:
    [verdict] = ngram_only()([sample("Here is a word problem for you.", "Problem: " + GARDEN)])
    assert verdict.reason == "contaminated:mini:q2"


def test_min_coverage_makes_one_shared_ngram_insufficient() -> None:
    partial = sample("It reaches its destination 234 kilometres away without stopping. At what time does it arrive?")
    [loose] = ngram_only()([partial])
    [strict] = ngram_only(min_coverage=0.5)([partial])
    [many] = ngram_only(min_shared=50)([partial])
    assert not loose.keep
    assert strict.keep and many.keep
    assert 0 < strict.scores["contamination_overlap"] < 0.5


def test_short_items_match_on_their_whole_word_sequence() -> None:
    items = [BenchmarkItem("short", "Which planet in our solar system has the most moons?"),
             BenchmarkItem("tiny", "Who wrote Hamlet?")]
    hit, near_miss, tiny = ngram_only(items)([
        sample("Quiz time. WHICH planet in our solar-system has the most moons??"),
        sample("Which planet in our solar system has the most rings?"),
        sample("Who wrote Hamlet? Answer in one word."),
    ])
    assert hit.reason == "contaminated:mini:short" and hit.scores["contamination_overlap"] == 1.0
    assert near_miss.keep
    assert tiny.keep  # under min_item_tokens: such short phrases are common in ordinary data
    [tiny_now] = ngram_only(items, min_item_tokens=3)([sample("Who wrote Hamlet? Answer in one word.")])
    assert tiny_now.reason == "contaminated:mini:tiny"


def test_embeddings_catch_a_paraphrase_that_ngrams_miss() -> None:
    reordered = ("Travelling at an average speed of 72 kilometres per hour without stopping, a train that leaves the "
                 "station at 9:40 in the morning reaches its destination 234 kilometres away. When does it arrive?")
    unrelated = "Write a haiku about autumn leaves falling on a quiet pond."
    tool = ngram_only(embedder=BagOfWords(), cosine_threshold=0.8)
    paraphrase, other = tool([sample(reordered), sample(unrelated)])
    assert ngram_only()([sample(reordered)])[0].keep
    assert paraphrase.reason == "contaminated:mini:q1"
    assert paraphrase.detail.startswith("embedding cosine")
    assert paraphrase.scores["contamination_cosine"] >= 0.8
    assert other.keep and other.scores["contamination_cosine"] < 0.5


def test_embeddings_compare_the_instruction_side_by_default() -> None:
    leaked_in_response = sample("Give me a practice question about trains.", TRAIN)
    instruction_only = ngram_only(ngram=None, embedder=BagOfWords(), cosine_threshold=0.8)
    whole_text = ngram_only(ngram=None, embedder=BagOfWords(), cosine_threshold=0.6, embed_side="text")
    assert instruction_only([leaked_in_response])[0].keep
    assert whole_text([leaked_in_response])[0].reason == "contaminated:mini:q1"


def test_precomputed_vectors_are_used_as_given() -> None:
    encoder = BagOfWords()
    tool = ngram_only(ngram=None, item_vectors=encoder.encode([TRAIN, GARDEN]), cosine_threshold=0.9)
    batch = [sample(GARDEN.upper()), sample("Name three primary colours.")]
    verdicts = tool.assess(batch, encoder.encode([tool.embed_text(s) for s in batch]))
    assert [v.reason for v in verdicts] == ["contaminated:mini:q2", None]
    with pytest.raises(ValueError, match="no embedder"):
        tool(batch)


def test_a_tool_without_any_method_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a method"):
        ngram_only(ngram=None)


# --- loaders -----------------------------------------------------------------------------------------

RECORDS = [
    {"task_id": "T/0", "prompt": "def add(a, b):\n    \"\"\"Return the sum.\"\"\"\n"},
    {"question": "How many legs do 3 spiders have?", "answer": "24"},
    {"id": 7, "instruction": "Translate to French.", "input": "Good morning"},
    {"idx": "x", "problem": "Find x if 2x = 6."},
    {"text": "Plain text item."},
]
EXPECTED = [("T/0", RECORDS[0]["prompt"]), ("2", RECORDS[1]["question"]), ("7", "Translate to French.\n\nGood morning"),
            ("x", "Find x if 2x = 6."), ("5", "Plain text item.")]


def write(path: Path, fmt: str, records: list) -> Path:
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(records), path)
        return path
    text = json.dumps(records, indent=2) if fmt == "json" else "".join(json.dumps(r) + "\n" for r in records)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(("filename", "fmt"), [
    ("bench.jsonl", "jsonl"), ("bench.json", "json"), ("bench.jsonl.gz", "jsonl"), ("bench.json.gz", "json"),
    ("bench.data", "jsonl"),
])
def test_loaders_read_json_containers_compressed_or_not(tmp_path: Path, filename: str, fmt: str) -> None:
    benchmark = load_benchmark(write(tmp_path / filename, fmt, RECORDS))
    assert benchmark.name == filename.removesuffix(".gz").removesuffix(".jsonl").removesuffix(".json")
    # Without an id field, the id is the line in JSONL and the position in a JSON array: 2 and 5 in both here.
    assert [(i.id, i.text) for i in benchmark.items] == EXPECTED


def test_loaders_read_parquet_with_row_numbers_as_ids(tmp_path: Path) -> None:
    rows = [{"question": "How many legs do 3 spiders have?", "answer": "24"},
            {"question": "What is 7 times 8?", "answer": "56"}]
    benchmark = load_benchmark(write(tmp_path / "gsm.parquet", "parquet", rows))
    assert benchmark.name == "gsm"
    assert [(i.id, i.text) for i in benchmark.items] == [("1", rows[0]["question"]), ("2", rows[1]["question"])]


def test_benchmark_names_drop_container_suffixes() -> None:
    assert benchmark_name("/data/humaneval.jsonl.gz") == "humaneval"
    assert benchmark_name("gsm8k_test.json") == "gsm8k_test"
    assert benchmark_name("mmlu.v2.parquet") == "mmlu.v2"


@pytest.mark.parametrize(("filename", "fmt", "line"), [
    ("bad.jsonl", "jsonl", 2), ("bad.json", "json", 5), ("bad.jsonl.gz", "jsonl", 2), ("bad.parquet", "parquet", 2),
])
def test_a_record_without_text_names_file_and_line(tmp_path: Path, filename: str, fmt: str, line: int) -> None:
    path = write(tmp_path / filename, fmt, [{"question": "fine"}, {"answer": "42", "question": None}])
    with pytest.raises(InputError, match="no text field") as caught:
        load_benchmark(path)
    assert caught.value.path == str(path) and caught.value.line == line
    assert filename in str(caught.value) and str(line) in str(caught.value)


def test_invalid_json_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"question": "ok"}\n\n{"question": oops}\n')
    with pytest.raises(InputError, match=r"broken.jsonl:line 3: invalid JSON"):
        load_benchmark(path)


def test_the_decontaminator_loads_benchmark_paths(tmp_path: Path) -> None:
    path = write(tmp_path / "trains.jsonl.gz", "jsonl", [{"question": TRAIN}])
    [verdict] = Decontaminator([path])([sample(TRAIN)])
    assert verdict.reason == "contaminated:trains:1"


# --- the planted examples ------------------------------------------------------------------------------

def example_pool() -> tuple[list[Sample], dict[int, dict]]:
    pool = read_inputs([EXAMPLES / "pool.jsonl"], skip_invalid=False, max_record_bytes=16_000_000).samples
    # read_inputs drops exact repeats, so samples are paired with lines through the source it records.
    lines = {s.id: int(s.source.rsplit(":", 1)[1]) for s in pool}
    defects = json.loads((EXAMPLES / "defects.json").read_text())["defects"]
    planted = {d["line"]: d for d in defects if d["kind"] == "contaminated"}
    return pool, {lines[s.id]: planted[lines[s.id]] for s in pool if lines[s.id] in planted}


def flagged_lines(tool: Decontaminator, pool: list[Sample]) -> dict[int, str]:
    return {int(s.source.rsplit(":", 1)[1]): v.reason for s, v in zip(pool, tool(pool), strict=True) if not v.keep}


def test_ngrams_find_the_overlapping_plantings_and_nothing_else() -> None:
    pool, planted = example_pool()
    overlapping = {line: d for line, d in planted.items() if d["benchmark_id"] not in ("bench-012", "bench-018")}
    flagged = flagged_lines(Decontaminator([EXAMPLES / "benchmark.jsonl"]), pool)
    assert flagged == {line: f"contaminated:benchmark:{d['benchmark_id']}" for line, d in overlapping.items()}


@pytest.mark.slow
def test_all_six_plantings_are_flagged_with_embeddings_and_nothing_else() -> None:
    from assay.session.embeddings import Embedder

    pool, planted = example_pool()
    assert len(planted) == 6
    flagged = flagged_lines(Decontaminator([EXAMPLES / "benchmark.jsonl"], embedder=Embedder()), pool)
    assert flagged == {line: f"contaminated:benchmark:{d['benchmark_id']}" for line, d in planted.items()}
