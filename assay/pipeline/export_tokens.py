"""`[tokens] enabled = true` in `assay run`: the curated set's token masks, scored after selection and
written beside curated.jsonl as token_masks.jsonl.

The export calls `score_curated_tokens` before it writes anything (so report.html shows the masks)
and `write_curated_masks` after. Scoring is resumable: a curated sample whose mask the session
already stores (an earlier attempt at this export, or `assay tokens DIR`) is not scored again, so a
resumed run scores only what is missing. It is traced as the `tokens` stage: a progress bar in the
run's display and a `tokens` event in the trace (`score_session_tokens` writes it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assay.core.records import Sample, Status
from assay.pipeline.progress import Advance, StartTask
from assay.session.token_masks import load_mask

TOKEN_MASKS = "token_masks.jsonl"


def curated_ids(session: Any) -> list[str]:
    """The selected samples' ids, in the order curated.jsonl writes them."""
    return [s.id for s in _curated(session)]


def score_curated_tokens(deps: Any) -> dict[str, Any] | None:
    """Score the curated samples that have no stored mask yet; None when `[tokens]` is off.
    Returns what was done: curated, already stored, scored now (and the scoring's summary)."""
    from assay.pipeline.tokens.run import score_session_tokens

    session = deps.session
    settings = session.config.tokens
    if not settings.enabled:
        return None
    ids = curated_ids(session)
    stored = {row[0] for row in session.conn.execute("SELECT sample_id FROM token_masks")}
    todo = [i for i in ids if i not in stored]
    done = {"curated": len(ids), "already_stored": len(ids) - len(todo), "scored": len(todo)}
    if not todo:
        message = f"token masks: all {len(ids):,} curated samples already scored; none scored again"
        session.trace.event("tokens", message, done)
        deps.emit("note", {"message": message})
        return done
    summary = score_session_tokens(session, settings, sample_ids=todo, progress=_stage(deps))
    return {**done, **summary.as_dict()}


def write_curated_masks(session: Any, path: Path) -> Path:
    """Write token_masks.jsonl for the curated samples from their stored masks (atomically), under the
    `[tokens]` tokenizer (default: the reference model's)."""
    from assay.pipeline.tokens.output import write_masks
    from assay.tools.causal_lm import load_tokenizer, model_label

    settings = session.config.tokens
    samples, masks = [], []
    for sample in _curated(session):
        mask = load_mask(session.conn, sample.id)
        if mask is None:
            raise RuntimeError(f"curated sample {sample.id} has no token mask: score_curated_tokens runs first")
        samples.append(sample)
        masks.append(mask)
    name = settings.tokenizer or settings.reference
    write_masks(path, samples, masks, load_tokenizer(name), settings.tokenizer or model_label(settings.reference))
    return path


def _curated(session: Any) -> Iterator[Sample]:
    for batch in session.samples.batches(status=Status.SELECTED, size=2000):
        yield from batch


def _stage(deps: Any) -> StartTask:
    """A progress task starter that draws as the run's `tokens` stage."""

    def start(description: str, total: int | None) -> Advance:
        deps.emit("stage", {"name": "tokens", "total": total})
        return lambda n: deps.emit("advance", {"name": "tokens", "n": n})

    return start
