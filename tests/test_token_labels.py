"""Training ids/labels from masked character spans, and losses carried between tokenizations."""

from __future__ import annotations

import numpy as np
import pytest

from assay.tools.token_labels import IGNORE, labelled_ids, render
from assay.tools.token_scores import carry_losses, encode_with_offsets

pytest.importorskip("transformers")
from tests.token_world import byte_tokenizer  # noqa: E402

CONVERSATION = [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "hi there"},
                {"role": "user", "content": "again"}, {"role": "assistant", "content": "ok!"}]


def trained(tokenizer, ids: list[int], labels: list[int]) -> list[str]:
    assert len(ids) == len(labels)
    assert all(label in (IGNORE, i) for i, label in zip(ids, labels))
    return tokenizer.convert_ids_to_tokens([i for i, label in zip(ids, labels) if label != IGNORE])


def test_render_places_each_content_where_the_template_puts_it() -> None:
    text, starts = render(byte_tokenizer(), CONVERSATION)
    for k, m in enumerate(CONVERSATION):
        assert text[starts[k]: starts[k] + len(m["content"])] == m["content"]
    assert text.startswith("<|im_start|>system\nBe helpful.<|im_end|>")


def test_labels_train_only_unmasked_response_tokens_and_the_end_of_turn() -> None:
    tokenizer = byte_tokenizer()
    ids, labels = labelled_ids(tokenizer, CONVERSATION, {})
    assert trained(tokenizer, ids, labels) == ["h", "i", "Ġ", "t", "h", "e", "r", "e", "<|im_end|>",
                                                "o", "k", "!", "<|im_end|>"]
    # Mask " there" in turn 1 and "k" in turn 3: those tokens, and only those, become -100.
    ids, labels = labelled_ids(tokenizer, CONVERSATION, {1: [(2, 8)], 3: [(1, 2)]})
    assert trained(tokenizer, ids, labels) == ["h", "i", "<|im_end|>", "o", "!", "<|im_end|>"]
    assert ids == labelled_ids(tokenizer, CONVERSATION, {})[0]  # masking never changes the ids


def test_a_token_is_masked_only_when_all_its_characters_are() -> None:
    tokenizer = byte_tokenizer()
    text = "héllo"  # "é" is two byte tokens over one character: both share its span
    convo = [{"role": "user", "content": "x"}, {"role": "assistant", "content": text}]
    ids, labels = labelled_ids(tokenizer, convo, {1: [(1, 2)]})
    assert len(trained(tokenizer, ids, labels)) == len(text.encode()) + 1 - 2  # both bytes of é out, end token in
    ids, labels = labelled_ids(tokenizer, convo, {1: [(0, 1)]})
    assert len(trained(tokenizer, ids, labels)) == len(text.encode()) + 1 - 1


def test_without_a_chat_template_responses_end_with_eos() -> None:
    tokenizer = byte_tokenizer(chat=False)
    text, starts = render(tokenizer, CONVERSATION)
    assert text.startswith("### Instruction:\nSay hi\n\n### Response:\nhi there<|im_end|>")
    ids, labels = labelled_ids(tokenizer, CONVERSATION, {1: [(0, 3)]})
    assert trained(tokenizer, ids, labels) == ["t", "h", "e", "r", "e", "<|im_end|>", "o", "k", "!", "<|im_end|>"]


def test_carried_losses_are_exact_for_the_same_tokens_and_add_up_for_coarser_ones() -> None:
    tokenizer = byte_tokenizer()
    text = "abc def"
    _, starts, ends = encode_with_offsets(tokenizer, text)
    losses = np.arange(1.0, len(starts) + 1)
    assert carry_losses(starts, ends, losses, starts, ends, len(text)) == pytest.approx(losses)
    words_s, words_e = np.array([0, 3]), np.array([3, 7])  # "abc", " def"
    assert carry_losses(starts, ends, losses, words_s, words_e, len(text)) == pytest.approx([1 + 2 + 3, 4 + 5 + 6 + 7])
    # One coarse source token spread evenly over the characters of finer destination tokens.
    assert carry_losses(np.array([0]), np.array([4]), np.array([8.0]), np.array([0, 1]), np.array([1, 4]), 4) == \
        pytest.approx([2.0, 6.0])
