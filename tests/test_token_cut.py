"""Token masks: the share cut (global and per sample), spans merged, and the session DB round trip."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from assay.core.records import Message, Sample
from assay.session.token_masks import (TokenMask, TokenScore, iter_masks, load_mask, masked_share_by_cluster,
                                       save_masks)
from assay.tools.token_masks_cut import cut_masks, share_count


def test_share_count_rounds_half_up() -> None:
    assert [share_count(0.2, n) for n in (0, 2, 3, 5, 7, 8, 10)] == [0, 0, 1, 1, 1, 2, 2]
    with pytest.raises(ValueError):
        share_count(1.0, 10)


def test_global_cut_masks_the_lowest_share_of_the_pool() -> None:
    # Sample 0 holds all the low scores: a global cut takes them all from it.
    turns = [np.array([0.1, 0.2, 5.0, 6.0]), np.array([3.0, 4.0, 7.0, 8.0, 9.0, 10.0])]
    masks = cut_masks(turns, [0, 1], 0.2, "global")
    assert [m.tolist() for m in masks] == [[True, True, False, False], [False] * 6]


def test_sample_cut_masks_the_lowest_share_of_each_sample() -> None:
    turns = [np.array([0.1, 0.2, 5.0, 6.0, 7.0]), np.array([3.0, 4.0, 7.0, 8.0, 9.0])]
    masks = cut_masks(turns, [0, 1], 0.2, "sample")
    assert [m.tolist() for m in masks] == [[True, False, False, False, False], [True, False, False, False, False]]


def test_sample_scope_pools_the_turns_of_one_sample() -> None:
    # Two turns of sample 0 (10 tokens: 2 masked) and one of sample 1 (5 tokens: 1 masked).
    turns = [np.array([9.0, 0.5, 9.0, 9.0, 9.0]), np.array([0.1, 9.0, 9.0, 9.0, 9.0]), np.arange(5.0)]
    masks = cut_masks(turns, [0, 0, 1], 0.2, "sample")
    assert [m.nonzero()[0].tolist() for m in masks] == [[1], [0], [0]]


def test_every_turn_keeps_its_best_token() -> None:
    # A short turn of only low scores would be masked whole by the global cut: its best token stays.
    turns = [np.array([-3.0, -2.0]), np.array([5.0, 6.0, 7.0, 8.0])]
    masks = cut_masks(turns, [0, 1], 0.5, "global")
    assert [m.tolist() for m in masks] == [[True, False], [True, False, False, False]]


def test_ties_are_cut_by_position_and_zero_share_masks_nothing() -> None:
    masks = cut_masks([np.zeros(5)], [0], 0.4, "global")
    assert masks[0].tolist() == [True, True, False, False, False]
    assert not cut_masks([np.arange(10.0)], [0], 0.0, "sample")[0].any()


def mask(sample_id: str, *tokens: tuple[int, int, int, float, bool]) -> TokenMask:
    return TokenMask(sample_id=sample_id, scorer="igtc test", tokenizer="bytes",
                     tokens=tuple(TokenScore(*t) for t in tokens))


def test_spans_merge_touching_and_overlapping_tokens_per_turn() -> None:
    m = mask("a", (1, 0, 3, 0.1, True), (1, 3, 5, 0.2, True), (1, 5, 9, 3.0, False), (1, 9, 12, 0.0, True),
             (1, 10, 11, 0.0, True), (3, 0, 4, 0.0, True), (3, 4, 6, 1.0, False))
    assert m.spans(1) == [(0, 5), (9, 12)] and m.spans(3) == [(0, 4)] and m.spans(2) == []
    assert (m.total, m.masked) == (7, 5)


def clock() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


def test_masks_round_trip_replace_and_sum_by_cluster(session) -> None:
    samples = [Sample.create([Message(role="user", content=f"q{i}"), Message(role="assistant", content=f"a{i}")],
                             tags={"cluster": [str(i % 2)]} if i < 3 else {}) for i in range(4)]
    session.samples.insert(samples)
    first = [mask(s.id, (1, 0, 1, 0.5, i == 0), (1, 1, 2, 1.5, False)) for i, s in enumerate(samples)]
    save_masks(session.conn, first, clock)
    assert load_mask(session.conn, samples[0].id) == first[0]
    assert load_mask(session.conn, "missing") is None
    again = mask(samples[1].id, (1, 0, 1, 0.25, True), (1, 1, 2, -1.0, True), (1, 2, 3, 2.0, False))
    save_masks(session.conn, [again], clock)  # replaces sample 1's mask
    assert load_mask(session.conn, samples[1].id) == again
    assert {m.sample_id for m in iter_masks(session.conn)} == {s.id for s in samples}
    # cluster 0: samples 0 and 2 (4 tokens, 1 masked); cluster 1: sample 1 (3, 2); unclustered: sample 3 (2, 0).
    assert masked_share_by_cluster(session.conn) == [("0", 4, 1), ("1", 3, 2), ("unclustered", 2, 0)]
