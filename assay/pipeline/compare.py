"""`assay compare`'s service: load two datasets (or a session's seeds and synthetic samples), embed, compare.

The datasets are read with the core readers (any supported format; `--field` mappings apply),
subsampled by a seeded hash of each sample's id (the same samples whatever the file order),
embedded through the session embedder and the shared embedding cache (nothing is embedded
twice, in any command), counted in the embedding model's own tokens, and handed to the
measures in `assay.tools.compare_sets`. A judge score travels with a sample read from a file
that assay wrote (`_assay.judge_overall` from `assay expand`, `_assay.scores.judge_overall`
from `assay score --session` or an export), and with every judged sample of a session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from assay.core.config import StoreSettings
from assay.core.errors import AssayError
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.core.records import Sample
from assay.tools.compare_features import hash_sample, measure
from assay.tools.compare_sets import CompareSettings, compare_sets

SEED_OP = "seed"
SYNTH_OP = "synth"
DEFAULT_MAX_SAMPLES = 1000  # per set: MMD's kernel is (2N)², and a CPU embeds ~20 new texts/s


def read_dataset(path: Path, *, max_record_bytes: int, fields: FieldMap = NO_MAPPING,
                 skip_invalid: bool = False) -> list[Sample]:
    """The distinct samples of one file, with any judge score assay recorded in it."""
    from assay.pipeline.intake.ingest import read_inputs

    read = read_inputs([path], skip_invalid=skip_invalid, max_record_bytes=max_record_bytes, fields=fields)
    return [with_recorded_score(s) for s in read.samples]


def with_recorded_score(sample: Sample) -> Sample:
    """The sample with `judge_overall` taken from its record's `_assay` object, where assay wrote one."""
    record = sample.origin.record if sample.origin is not None else None
    own = record.get("_assay") if isinstance(record, dict) else None
    if not isinstance(own, dict) or "judge_overall" in sample.scores:
        return sample
    nested = own.get("scores")
    score = own.get("judge_overall", nested.get("judge_overall") if isinstance(nested, dict) else None)
    if not isinstance(score, int | float) or isinstance(score, bool):
        return sample
    return sample.model_copy(update={"scores": {**sample.scores, "judge_overall": float(score)}})


def session_sets(directory: Path, runtime: Any) -> tuple[list[Sample], list[Sample], StoreSettings]:
    """A session's seeds (ingested samples) and its synthetic samples, and the session's store settings."""
    from assay.session.session import Session

    session = Session.open_read_only(directory, runtime)
    try:
        samples = list(session.samples.iter())
        settings = session.config.store
    finally:
        session.close()
    seeds = [s for s in samples if s.op == SEED_OP]
    synthetic = [s for s in samples if s.op == SYNTH_OP]
    if not synthetic:
        raise AssayError(f"{directory}: the session holds no synthetic samples (it never expanded); "
                         "compare two files instead: assay compare A B")
    if not seeds:
        raise AssayError(f"{directory}: the session holds no seed samples to compare its synthetic samples with")
    return seeds, synthetic, settings


def token_counter(model: str | None) -> Callable[[list[str]], list[int]]:
    """Count tokens with the embedding model's own tokenizer, untruncated (special tokens left out)."""
    from assay.session.embeddings import default_model_path

    name = model or default_model_path()
    local = Path(name).expanduser() / "tokenizer.json"
    if local.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(local))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return lambda texts: [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    from assay.core.hf import prepare_hf

    prepare_hf()
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(name)
    return lambda texts: [len(ids) for ids in auto(texts, add_special_tokens=False)["input_ids"]]


def compare_samples(a: list[Sample], b: list[Sample], *, labels: tuple[str, str], store: StoreSettings,
                    env: Mapping[str, str], settings: CompareSettings = CompareSettings(),
                    max_samples: int | None = DEFAULT_MAX_SAMPLES,
                    on_embed: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Compare A (the reference) with B; `on_embed(done, total)` follows the embedding."""
    from assay.session.embeddings import embedder_for
    from assay.tools.heuristics_language import shared_guesser

    if len(a) < 2 or len(b) < 2:
        raise AssayError(f"compare needs at least two samples in each set ({labels[0]}: {len(a)}, {labels[1]}: {len(b)})")
    chosen_a = hash_sample(a, max_samples, settings.seed)
    chosen_b = hash_sample(b, max_samples, settings.seed)
    embedder = embedder_for(store, env)
    texts = [s.text() for s in chosen_a + chosen_b]
    done = [0]

    def progress(count: int) -> None:
        done[0] += count
        if on_embed is not None:
            on_embed(done[0], len(texts))

    try:
        vectors = embedder.encode(texts, on_batch=progress)
    finally:
        embedder.close()
    count_tokens = token_counter(store.embedding_model)
    guess = shared_guesser(settings.seed).guess
    features_a = measure(labels[0], chosen_a, vectors[:len(chosen_a)], count_tokens=count_tokens,
                         guess_language=guess, total=len(a))
    features_b = measure(labels[1], chosen_b, np.asarray(vectors[len(chosen_a):]), count_tokens=count_tokens,
                         guess_language=guess, total=len(b))
    result = compare_sets(features_a, features_b, settings)
    result["embedding"]["model"] = embedder.identity
    result["embedding"]["embedded"] = embedder.encoded
    result["embedding"]["cached"] = embedder.cached
    return result


def expansion_comparison(summary: Mapping[str, Any], *, runtime: Any, store: StoreSettings, fields: FieldMap = NO_MAPPING,
                         session_given: bool, max_samples: int | None = DEFAULT_MAX_SAMPLES) -> dict[str, Any] | None:
    """`assay expand`'s kept samples (B) against where its seeds came from (A: the --pool file, or the
    --session's seeds); None when there is nothing to compare (seedless, or fewer than two kept)."""
    if summary.get("written", 0) < 2 or summary.get("seedless"):
        return None
    limit = int(store.max_record_mb * 1e6)
    kept = read_dataset(Path(summary["out"]), max_record_bytes=limit)
    if summary.get("pool"):
        reference, label = read_dataset(Path(summary["pool"]), max_record_bytes=limit, fields=fields), "pool"
    elif session_given:
        reference, _, _ = session_sets(Path(summary["session"]), runtime)
        label = "seeds"
    else:
        return None
    return compare_samples(reference, kept, labels=(label, "kept"), store=store, env=runtime.env,
                           max_samples=max_samples)
