"""Per-token scores: real forward passes on a tiny random Llama, and models whose losses the test fixes."""

from __future__ import annotations

import numpy as np
import pytest

from assay.core.recipe_tokens import TokenSettings
from assay.core.records import Message, Sample
from assay.pipeline.tokens.masks import mask_samples
from assay.tools.ifd import CausalLMScorer
from assay.tools.token_scores import TokenScorer

torch = pytest.importorskip("torch")
from tests.token_world import byte_tokenizer, copy_lm, tiny_model, unigram_lm  # noqa: E402


def sample(*turns: str) -> Sample:
    roles = ["user", "assistant"] * len(turns)
    return Sample.create([Message(role=r, content=t) for r, t in zip(roles, turns)])


@pytest.fixture(scope="module")
def tokenizer():
    return byte_tokenizer()


@pytest.fixture(scope="module")
def tiny(tokenizer) -> CausalLMScorer:
    return CausalLMScorer.from_loaded(tokenizer, tiny_model(), max_length=256, batch_size=3, max_batch_tokens=400)


def hf_token_losses(model, ids: list[int], start: int) -> np.ndarray:
    """Hugging Face's own per-token cross-entropy of ids[start:], one unpadded sequence."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    return torch.nn.functional.cross_entropy(logits[start - 1:-1], torch.tensor(ids[start:]), reduction="none").numpy()


def test_token_losses_match_an_unpadded_forward_and_the_ifd_means(tiny, tokenizer) -> None:
    samples = [sample("Name a colour.", "Blue, like the sky."), sample("Hi", "Hello there, friend!"),
               sample("Count to three, slowly please.", "1 2 3")]
    turns = TokenScorer(tiny).score(samples)
    model = tiny.load()[1]
    for s, t in zip(samples, turns, strict=True):
        head, body, tail = tiny.prompt_ids(tokenizer, s)
        answer = tokenizer(s.response, add_special_tokens=False)["input_ids"]
        prompt = head + body + tail
        assert t.reference == pytest.approx(hf_token_losses(model, prompt + answer, len(prompt)), abs=1e-4)
        # The one-model base: the same template and system prompt, the instruction emptied.
        empty = tokenizer.apply_chat_template([{"role": "user", "content": ""}], tokenize=False,
                                              add_generation_prompt=True)
        assert empty == "<|im_start|>system\nBe helpful.<|im_end|>\n<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n"
        without = tokenizer(empty, add_special_tokens=False)["input_ids"]
        assert t.base == pytest.approx(hf_token_losses(model, without + answer, len(without)), abs=1e-4)
        assert s.response[t.starts[0]: t.ends[-1]] == s.response  # offsets cover the content
    # The reference's mean is IFD's conditioned loss (same prompt, same tokens).
    for t, result in zip(turns, tiny.score(samples), strict=True):
        assert t.reference.mean() == pytest.approx(result.loss_conditioned, abs=1e-5)


def test_the_alpaca_base_drops_the_records_instruction(tokenizer) -> None:
    from assay.core.formats import record_to_sample

    plain = byte_tokenizer(chat=False)
    scorer = CausalLMScorer.from_loaded(plain, tiny_model(), template="alpaca")
    s = record_to_sample({"instruction": "Name a colour.", "input": "", "output": "Blue."}, "alpaca", source="t")
    prefix = plain.decode(TokenScorer(scorer)._without_instruction(plain, s, 1))
    assert "Name a colour" not in prefix and prefix.endswith("### Instruction:\n\n\n### Response:")


def test_a_turn_scores_the_same_alone_or_in_a_batch(tiny) -> None:
    samples = [sample("Why?", "Because it is so."), sample("A much longer question about many things", "Short.")]
    together = TokenScorer(tiny).score(samples)
    alone = TokenScorer(tiny).score(samples[1:])
    assert together[1].reference == pytest.approx(alone[0].reference, abs=1e-5)
    assert together[1].scores == pytest.approx(alone[0].scores, abs=1e-5)


def test_every_assistant_turn_is_scored_with_the_turns_before_it(tokenizer) -> None:
    # The copy model predicts what it has seen: turn 3 repeats turn 1, so with turn 1 in its
    # context every token of it is cheap, while turn 1 (unlike its prompt) is not.
    copier = CausalLMScorer.from_loaded(tokenizer, copy_lm(), max_length=512)
    s = sample("q", "zebra jumps", "again", "zebra jumps")
    turns = TokenScorer(copier).score([s])
    assert [t.turn for t in turns] == [1, 3]
    assert turns[0].reference.max() > 8  # "z", "j" appear in no earlier text: the copy bonus misses
    assert turns[1].reference.max() < 4  # every token of turn 3 was seen in turn 1
    z = 0  # "z": unseen by the base (the turn alone), seen by the reference (turn 1 in its context)
    assert turns[1].scores[z] > 4 and turns[0].scores[z] < 0.5


def test_planted_junk_is_masked_with_two_models(tokenizer) -> None:
    # The reference learned the lower-case letters (loss 0.5 below the base's); both find the planted
    # "X" run and "#" equally hard: their score is 0, every clean letter's is 2.5.
    letters = [tokenizer.convert_tokens_to_ids(c) for c in "abcdefghijklmnopqrstuvwxyz"]
    space = tokenizer.convert_tokens_to_ids("Ġ")
    reference = unigram_lm({**{v: 0.5 for v in letters}, space: 0.5}, default=4.0)
    base = unigram_lm({**{v: 3.0 for v in letters}, space: 3.0}, default=4.0)
    scorer = TokenScorer(CausalLMScorer.from_loaded(tokenizer, reference),
                         CausalLMScorer.from_loaded(tokenizer, base))
    answer = "the cat sat XXXX#XXXX on the mat"
    junk = (answer.index("X"), answer.rindex("X") + 1)
    planted = junk[1] - junk[0]
    s = sample("Where is the cat?", answer)
    masks = mask_samples([s], scorer, TokenSettings(mask_share=planted / len(answer)), tokenizer="bytes")
    assert masks[0].spans(1) == [junk]
    assert masks[0].masked == planted and masks[0].total == len(answer)
    assert "loss(base=" in masks[0].scorer


def test_two_tokenizers_share_losses_through_characters(tokenizer) -> None:
    # Same model and tokenizer as base and reference, given as two scorers: every score is 0 exactly.
    model = tiny_model(seed=1)
    scorer = TokenScorer(CausalLMScorer.from_loaded(tokenizer, model), CausalLMScorer.from_loaded(tokenizer, model))
    turns = scorer.score([sample("Say something", "Something, then more.")])
    assert turns[0].scores == pytest.approx(np.zeros(len(turns[0].starts)), abs=1e-5)
