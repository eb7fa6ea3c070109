"""IFD and answer losses: the masking maths on a tiny random model, real behaviour on SmolLM2."""

from __future__ import annotations

import math

import pytest

from assay.core.formats import record_to_sample
from assay.core.records import Message, Sample
from assay.tools.ifd import CausalLMScorer, IFDScorer, LossResult, fit_to_length, mean_answer_losses

torch = pytest.importorskip("torch")

CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nBe helpful.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def chat(instruction: str, answer: str) -> Sample:
    return Sample.create([Message(role="user", content=instruction), Message(role="assistant", content=answer)])


# --- truncation -----------------------------------------------------------------------------


def test_fit_keeps_everything_that_fits() -> None:
    prompt, answer, truncated = fit_to_length([1], [2, 3], [4], [5, 6], max_length=16)
    assert (prompt, answer, truncated) == ([1, 2, 3, 4], [5, 6], False)


def test_fit_cuts_answer_tail_when_answer_is_long() -> None:
    prompt, answer, truncated = fit_to_length([1], [2, 3], [4], list(range(100, 140)), max_length=20)
    assert prompt == [1, 2, 3, 4] and answer == list(range(100, 116)) and truncated


def test_fit_cuts_instruction_head_but_keeps_template() -> None:
    body = list(range(100, 140))
    prompt, answer, truncated = fit_to_length([1], body, [4], [5, 6], max_length=20)
    assert prompt == [1, *body[-16:], 4] and answer == [5, 6] and truncated


def test_fit_splits_evenly_when_both_are_long() -> None:
    prompt, answer, truncated = fit_to_length([1], list(range(100, 200)), [4], list(range(300, 400)), max_length=20)
    assert len(prompt) == 10 and prompt[0] == 1 and prompt[-1] == 4 and prompt[-2] == 199
    assert answer == list(range(300, 310)) and truncated


def test_fit_cuts_a_template_too_long_for_its_share_as_plain_prompt() -> None:
    prompt, answer, truncated = fit_to_length(list(range(10)), [50], list(range(20, 30)), [7] * 30, max_length=16)
    assert prompt == list(range(22, 30)) and answer == [7] * 8 and truncated


# --- masking maths on a tiny random model ---------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def tiny_tokenizer():
    """A real fast tokenizer over single bytes, with ChatML special tokens and a chat template."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    core = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(sorted(alphabet))}, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                        pad_token="<|im_end|>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def reference_loss(model, ids: list[int], start: int) -> float:
    """Hugging Face's own loss with the prompt labelled -100, one unpadded sequence."""
    input_ids = torch.tensor([ids])
    labels = input_ids.clone()
    labels[0, :start] = -100
    with torch.no_grad():
        return float(model(input_ids=input_ids, labels=labels).loss)


ROWS = [([5, 9, 13, 200, 17, 21, 3], 3), ([7, 8, 9, 10], 1), ([11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22], 9)]


def test_batched_losses_equal_unpadded_reference(tiny_model) -> None:
    batched = mean_answer_losses(tiny_model, ROWS, pad_id=0)
    for (ids, start), loss in zip(ROWS, batched, strict=True):
        assert loss == pytest.approx(reference_loss(tiny_model, ids, start), abs=1e-5)


def test_masking_ignores_the_prompt_tokens(tiny_model) -> None:
    # Changing a prompt token changes the context (so the loss), but scoring from a later start
    # must equal the mean of per-token losses over exactly the answer span.
    ids, start = ROWS[2]
    per_token = [reference_loss(tiny_model, ids[: k + 1], k) for k in range(start, len(ids))]
    assert mean_answer_losses(tiny_model, [(ids, start)], pad_id=0)[0] == pytest.approx(sum(per_token) / len(per_token), abs=1e-5)


class FullLogitsOnly(torch.nn.Module):
    """A model that does not know logits_to_keep: the fallback path must give the same losses."""

    def __init__(self, inner) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_ids, attention_mask):
        return self.inner(input_ids=input_ids, attention_mask=attention_mask)


class IgnoresLogitsToKeep(FullLogitsOnly):
    """A model that takes any keyword and still returns logits for every position."""

    def forward(self, input_ids, attention_mask, **ignored):
        return self.inner(input_ids=input_ids, attention_mask=attention_mask)


@pytest.mark.parametrize("wrapper", [FullLogitsOnly, IgnoresLogitsToKeep])
def test_models_without_logits_to_keep_give_the_same_losses(tiny_model, wrapper) -> None:
    assert mean_answer_losses(wrapper(tiny_model), ROWS, pad_id=0) == pytest.approx(
        mean_answer_losses(tiny_model, ROWS, pad_id=0), abs=1e-6)


def test_answer_start_outside_the_row_is_refused(tiny_model) -> None:
    with pytest.raises(ValueError, match="answer start"):
        mean_answer_losses(tiny_model, [([1, 2, 3], 0)], pad_id=0)
    with pytest.raises(ValueError, match="answer start"):
        mean_answer_losses(tiny_model, [([1, 2, 3], 3)], pad_id=0)


# --- the scorer's plumbing on the tiny model --------------------------------------------------


def test_chat_form_scores_the_answer_after_the_rendered_prompt(tiny_model, tiny_tokenizer) -> None:
    scorer = CausalLMScorer.from_loaded(tiny_tokenizer, tiny_model)
    sample = chat("Name a colour.", "Blue.")
    [result] = scorer.score([sample])
    rendered = tiny_tokenizer.apply_chat_template([{"role": "user", "content": "Name a colour."}], tokenize=False,
                                                  add_generation_prompt=True)
    prompt = tiny_tokenizer(rendered, add_special_tokens=False)["input_ids"]
    answer = tiny_tokenizer("Blue.", add_special_tokens=False)["input_ids"]
    header = tiny_tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    assert result.loss_conditioned == pytest.approx(reference_loss(tiny_model, prompt + answer, len(prompt)), abs=1e-5)
    assert result.loss_answer == pytest.approx(reference_loss(tiny_model, header + answer, len(header)), abs=1e-5)
    assert result.answer_tokens == len(answer) and not result.truncated


def test_alpaca_form_uses_the_record_fields(tiny_model, tiny_tokenizer) -> None:
    scorer = CausalLMScorer.from_loaded(tiny_tokenizer, tiny_model, template="alpaca")
    sample = record_to_sample({"instruction": "Add.", "input": "2 and 3", "output": "5"}, "alpaca", source="x:1")
    head, body, tail = scorer._prompt_parts(tiny_tokenizer, sample)
    assert "paired with an input" in head and body == "Add.\n\n### Input:\n2 and 3" and tail == "\n\n### Response:"
    [result] = scorer.score([sample])
    assert result.loss_conditioned is not None and result.loss_answer is not None


def test_batch_equals_one_at_a_time_and_counts_truncation(tiny_model, tiny_tokenizer) -> None:
    scorer = CausalLMScorer.from_loaded(tiny_tokenizer, tiny_model, max_length=96, batch_size=2)
    samples = [chat("Say hi.", "Hi!"), chat("Repeat: " + "abc " * 40, "abc " * 40), chat("Empty?", ""),
               chat("Why is the sky blue?", "Rayleigh scattering of sunlight.")]
    together = scorer.score(samples)
    assert scorer.truncated_count == 1 and together[1].truncated and together[1].answer_tokens <= 96
    alone = [scorer.score([s])[0] for s in samples]
    for a, b in zip(together, alone, strict=True):
        assert a.answer_tokens == b.answer_tokens
        if a.loss_conditioned is None:
            assert b.loss_conditioned is None and a.loss_answer is None
        else:
            assert (a.loss_conditioned, a.loss_answer) == pytest.approx((b.loss_conditioned, b.loss_answer), abs=1e-4)
    assert together[2].loss_conditioned is None


class FixedScorer:
    """Hands back given losses: tests IFDScorer's verdicts apart from any model."""

    max_length = 512

    def __init__(self, results: list[LossResult]) -> None:
        self.results = results

    def score(self, samples):
        return self.results[: len(samples)]


def test_verdicts_keep_by_default_and_drop_above_max_ifd() -> None:
    results = [LossResult(0.5, 2.0), LossResult(2.2, 2.0, truncated=True), LossResult(None, None), LossResult(1.0, 0.0)]
    samples = [chat(str(i), "x") for i in range(4)]
    kept = IFDScorer(FixedScorer(results))(samples)
    assert all(a.keep for a in kept)
    assert kept[0].scores == pytest.approx({"ifd": 0.25, "ppl": math.exp(0.5), "loss_conditioned": 0.5, "loss_answer": 2.0})
    assert kept[1].detail == "truncated to 512 tokens"
    assert kept[2].scores == {} and "empty answer" in kept[2].detail
    assert "ifd" not in kept[3].scores and "loss is 0" in kept[3].detail
    judged = IFDScorer(FixedScorer(results), max_ifd=1.0)(samples)
    assert [a.keep for a in judged] == [True, False, True, True]
    assert judged[1].reason == "high_ifd" and judged[1].scores["ifd"] == pytest.approx(1.1)


def test_scorer_and_options_are_exclusive() -> None:
    with pytest.raises(ValueError):
        IFDScorer(FixedScorer([]), max_length=64)


# --- real behaviour on the embedded SmolLM2 ---------------------------------------------------

PASSAGE = ("The Amazon rainforest spans nine countries and holds about ten percent of all known species. "
           "Its rivers carry a fifth of the world's fresh water into the Atlantic Ocean.")


@pytest.fixture(scope="module")
def smollm2() -> CausalLMScorer:
    scorer = CausalLMScorer(max_length=128)
    scorer._load()
    return scorer


@pytest.mark.slow
def test_real_copied_answer_is_easy_given_the_instruction(smollm2) -> None:
    [result] = smollm2.score([chat("Copy this text exactly:\n\n" + PASSAGE, PASSAGE)])
    assert result.loss_conditioned < result.loss_answer and result.ifd < 0.5


@pytest.mark.slow
def test_real_unrelated_answer_gets_no_help_from_the_instruction(smollm2) -> None:
    [result] = smollm2.score([chat("What is the capital of France?",
                                   "Bananas are rich in potassium and are often eaten by athletes after exercise.")])
    assert result.ifd > 0.9


@pytest.mark.slow
def test_real_batch_equals_one_at_a_time(smollm2) -> None:
    samples = [chat("Copy this text exactly:\n\n" + PASSAGE, PASSAGE), chat("What is 2 + 2?", "4"),
               chat("Summarise: " + PASSAGE * 6, PASSAGE * 3), chat("Name a fruit.", "An apple.")]
    together = smollm2.score(samples)
    assert together[2].truncated
    for sample, batched in zip(samples, together, strict=True):
        [single] = smollm2.score([sample])
        assert batched.loss_conditioned == pytest.approx(single.loss_conditioned, abs=1e-3)
        assert batched.loss_answer == pytest.approx(single.loss_answer, abs=1e-3)


@pytest.mark.slow
def test_real_tool_keeps_scores_and_drops_only_with_max_ifd(smollm2) -> None:
    samples = [chat("Copy this text exactly:\n\n" + PASSAGE, PASSAGE),
               chat("What is the capital of France?", "Bananas are rich in potassium."),
               chat("Say nothing.", "   ")]
    kept = IFDScorer(smollm2)(samples)
    assert [a.keep for a in kept] == [True, True, True]
    assert set(kept[0].scores) == {"ifd", "ppl", "loss_conditioned", "loss_answer"}
    assert kept[0].scores["ppl"] == pytest.approx(math.exp(kept[0].scores["loss_conditioned"]))
    assert kept[2].scores == {} and "empty answer" in kept[2].detail
    judged = IFDScorer(smollm2, max_ifd=0.6)(samples)
    assert [a.keep for a in judged] == [True, False, True] and judged[1].reason == "high_ifd"
