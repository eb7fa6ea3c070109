"""Samples to token masks: build the scorer from `[tokens]`, score every assistant turn, cut."""

from __future__ import annotations

from collections.abc import Sequence

from assay.core.recipe_tokens import TokenSettings
from assay.core.records import Sample
from assay.pipeline.progress import StartTask, no_progress
from assay.session.token_masks import TokenMask, TokenScore
from assay.tools.token_masks_cut import cut_masks
from assay.tools.token_scores import TokenScorer, TurnScores, score_in_chunks

# Samples per scoring call: progress moves once a chunk, and the batches are cut within a chunk,
# so a chunk must hold several full batches (~256 padded tokens a turn): 16 samples at the CPU
# default of 4,096 batch tokens, 256 at 65,536 on a GPU.
TOKENS_PER_SAMPLE = 256


def build_scorer(settings: TokenSettings) -> TokenScorer:
    """The reference (and base, if named) scorers `[tokens]` describes; models load on first use."""
    from assay.tools.ifd import CausalLMScorer

    def scorer(name: str | None) -> CausalLMScorer:
        return CausalLMScorer(name, device=settings.device, dtype=settings.dtype, max_length=settings.max_length,
                              batch_size=settings.batch_size, max_batch_tokens=settings.batch_tokens)

    return TokenScorer(scorer(settings.reference), scorer(settings.base) if settings.base else None)


def masks_from_scores(samples: Sequence[Sample], turns: Sequence[TurnScores], *, scorer: str, tokenizer: str,
                      share: float, scope: str) -> list[TokenMask]:
    """One TokenMask per sample (in order; a sample with no scored turn gets an empty one), cut at `share`."""
    cuts = cut_masks([t.scores for t in turns], [t.sample for t in turns], share, scope)  # type: ignore[arg-type]
    tokens: list[list[TokenScore]] = [[] for _ in samples]
    for t, masked in zip(turns, cuts, strict=True):
        scores = t.scores
        tokens[t.sample].extend(
            TokenScore(turn=t.turn, start=int(s), end=int(e), score=float(v), masked=bool(m))
            for s, e, v, m in zip(t.starts.tolist(), t.ends.tolist(), scores.tolist(), masked.tolist(), strict=True))
    return [TokenMask(sample_id=s.id, scorer=scorer, tokenizer=tokenizer, tokens=tuple(found))
            for s, found in zip(samples, tokens, strict=True)]


def mask_samples(samples: Sequence[Sample], scorer: TokenScorer, settings: TokenSettings, *, tokenizer: str,
                 progress: StartTask = no_progress) -> list[TokenMask]:
    """Score the samples' response tokens and mask the lowest `settings.mask_share` of them."""
    advance = progress("scoring response tokens", len(samples))
    chunk = max(8, settings.batch_tokens // TOKENS_PER_SAMPLE)
    turns = score_in_chunks(scorer, samples, chunk, advance)
    return masks_from_scores(samples, turns, scorer=scorer.name, tokenizer=tokenizer,
                             share=settings.mask_share, scope=settings.scope)
