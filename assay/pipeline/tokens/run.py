"""`assay tokens` and `[tokens]` in `assay run`: score a session's samples or a file's, store and write masks."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from assay.core.errors import AssayError
from assay.core.field_map import NO_MAPPING, FieldMap
from assay.core.recipe_tokens import TokenSettings
from assay.core.records import Sample, Status
from assay.pipeline.progress import StartTask, no_progress
from assay.pipeline.tokens.masks import build_scorer, mask_samples
from assay.pipeline.tokens.output import write_masks
from assay.session.session import Session
from assay.session.token_masks import TokenMask, save_masks
from assay.tools.token_scores import TokenScorer


@dataclass(frozen=True)
class TokenSummary:
    """What a token-cleaning pass did: counts, time (wall and this process's CPU, scoring and writing; loading
    the models apart), and where it wrote."""

    samples: int
    tokens: int
    masked: int
    seconds: float
    cpu_seconds: float
    scorer: str
    tokenizer: str
    out: str | None = None
    stored: bool = False
    load_seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        """Scored response tokens per wall second."""
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain values (for the trace and JSON)."""
        return {**asdict(self), "tokens_per_second": self.tokens_per_second}


def score_session_tokens(session: Session, settings: TokenSettings, *, sample_ids: Sequence[str] | None = None,
                         progress: StartTask = no_progress, out: Path | None = None, max_samples: int | None = None,
                         scorer: TokenScorer | None = None) -> TokenSummary:
    """Score the session's curated (selected) samples, or its active ones when none is selected yet, or
    `sample_ids`; store their masks in the session DB (replacing earlier ones) and write `out` if given."""
    if sample_ids is not None:
        samples = session.samples.get(list(sample_ids))[:max_samples]
    else:
        curated = any(s == Status.SELECTED.value for s, _, _ in session.samples.counts())
        samples = list(islice(session.samples.iter(status=Status.SELECTED if curated else Status.ACTIVE), max_samples))
    summary, masks = _score(samples, settings, progress=progress, out=out, scorer=scorer, stored=True)
    with session.conn:
        save_masks(session.conn, masks, session.runtime.clock)
        session.trace.event("tokens", f"token cleaning: {summary.masked:,} of {summary.tokens:,} response tokens "
                            f"of {summary.samples:,} samples masked", summary.as_dict())
    return summary


def score_file_tokens(path: Path, out: Path, settings: TokenSettings, *, progress: StartTask = no_progress,
                      max_samples: int | None = None, fields: FieldMap = NO_MAPPING,
                      scorer: TokenScorer | None = None) -> TokenSummary:
    """Score a sample file's records (any format assay reads) and write the masks JSONL only."""
    from assay.core.raw_input import Invalid
    from assay.core.readers import read_samples

    _, records = read_samples(path, fields=fields)
    samples: list[Sample] = []
    for item in islice(records, max_samples):
        if isinstance(item, Invalid):
            raise item.error
        samples.append(item.sample)
    summary, _ = _score(samples, settings, progress=progress, out=out, scorer=scorer, stored=False)
    return summary


def _score(samples: list[Sample], settings: TokenSettings, *, progress: StartTask, out: Path | None,
           scorer: TokenScorer | None, stored: bool) -> tuple[TokenSummary, list[TokenMask]]:
    """Mask the samples and write `out`; the summary times the scoring and the writing."""
    from assay.tools.causal_lm import load_tokenizer, model_label

    if not samples:
        raise AssayError("no samples to score: the session has no curated or active samples, or the file none")
    loading = time.perf_counter()
    scorer = scorer or build_scorer(settings)
    scorer.reference.load()
    if scorer.base is not None:
        scorer.base.load()
    # The rate counts scoring and writing, not the one-off model load (reported on its own).
    started, cpu_started = time.perf_counter(), time.process_time()
    scored_with = model_label(scorer.reference.model_name)
    masks = mask_samples(samples, scorer, settings, tokenizer=scored_with, progress=progress)
    if out is not None:
        if settings.tokenizer:
            tokenizer, name = load_tokenizer(settings.tokenizer), settings.tokenizer
        else:
            tokenizer, name = scorer.reference.load()[0], scored_with
        write_masks(out, samples, masks, tokenizer, name)
    summary = TokenSummary(samples=len(samples), tokens=sum(m.total for m in masks),
                           masked=sum(m.masked for m in masks), seconds=time.perf_counter() - started,
                           cpu_seconds=time.process_time() - cpu_started, scorer=scorer.name,
                           tokenizer=settings.tokenizer or scored_with, out=str(out) if out else None, stored=stored,
                           load_seconds=started - loading)
    return summary, masks


def tokens_path(path: Path, out: Path | None, runtime: Any, config: Any, *, max_samples: int | None = None,
                fields: FieldMap = NO_MAPPING, progress: StartTask = no_progress) -> TokenSummary:
    """`assay tokens PATH`: a session folder (masks stored, `out` optional) or a sample file (`out` needed).

    Settings come from `[tokens]`: the session's recipe with the command's flags over it, or `config`."""
    from assay.session.session import is_session

    if path.is_dir():
        if not is_session(path):
            raise AssayError(f"{path}: not an assay session and not a file; pass a session folder or a sample file")
        session = Session.open(path, runtime, config, create=False)
        try:
            return score_session_tokens(session, session.config.tokens, progress=progress, out=out,
                                        max_samples=max_samples)
        finally:
            session.close()
    if out is None:
        raise AssayError(f"{path}: a file's masks go only to the JSONL: pass --out masks.jsonl")
    return score_file_tokens(path, out, config.tokens, progress=progress, max_samples=max_samples, fields=fields)
