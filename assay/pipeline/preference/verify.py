"""`--verify`: the pairwise judge, in both orders, on pairs that stand on pointwise scores alone.

Repair pairs were compared in both orders when the rewrite was accepted. Judged-response
and sibling pairs were not: each is sent through the same `judge_pair` the rewriter uses
(the chosen side as A), and kept only when both orders prefer it. Orders that disagree drop
the pair as `orders_disagree`; both orders preferring the rejected side, as
`pairwise_prefers_rejected`; a failed comparison, as `pairwise_failed`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from assay.pipeline.preference.model import PairSet, PreferencePair


async def verify_pairs(ctx: Any, found: PairSet) -> PairSet:
    """`found` with every pair lacking a pairwise verdict compared in both orders, and dropped unless both agree."""
    from assay.agents.judge import judge_pair
    from assay.core.concurrency import gather_cancelling

    todo = [p for p in found.pairs if p.orders_agree is None]

    async def one(pair: PreferencePair) -> Any:
        instruction = next((m.content for m in reversed(pair.prompt) if m.role == "user"), "")
        return await judge_pair(ctx, instruction, pair.chosen, pair.rejected, sample_ids=(pair.chosen_id, pair.rejected_id))

    results = dict(zip((id(p) for p in todo), await gather_cancelling(one(p) for p in todo), strict=True))
    kept = PairSet(dropped=found.dropped.copy())
    for pair in found.pairs:
        result = results.get(id(pair))
        if result is None:
            kept.pairs.append(pair)
            continue
        reason = None if result.ok and result.winner == "a" else (
            "pairwise_failed" if not result.ok else "orders_disagree" if result.winner == "tie"
            else "pairwise_prefers_rejected")
        if reason:
            kept.dropped[(pair.source, reason)] += 1
        else:
            kept.pairs.append(replace(pair, orders_agree=True, pairwise_call_ids=tuple(result.call_ids)))
    return kept
