"""IFD (instruction-following difficulty) and answer perplexity under a small causal LM.

IFD, from Cherry LLM ("From Quantity to Quality", Li et al. 2024), is the mean cross-entropy
of the answer tokens given the instruction divided by the mean cross-entropy of the same
answer tokens alone. Near or above 1, the instruction does not help the model predict the
answer (Cherry drops those); high but below 1, the sample is hard and informative.

Forms scored, for one sample whose last assistant turn is the answer:
- conditioned: every turn before the answer rendered with the model's chat template, then the
  assistant header, then the answer (SmolLM2 inserts its default system prompt here, as it
  does at inference). Models without a chat template get Cherry's Alpaca prompt.
- answer alone: the answer after only the assistant header (plus BOS where the tokenizer adds
  one), the counterpart of Cherry's "<s>### Response:" + answer.
The answer is tokenized once and the same tokens are scored in both passes, so the ratio
compares like with like. The end-of-turn token is not scored (Cherry scores none either).
Over `max_length` tokens, the instruction keeps its tail and the answer its head, in both passes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from assay.core.records import Sample
from assay.core.assessment import Assessment, drop
from assay.tools.causal_lm import Row, answer_nll, length_batches, load_causal_lm

Template = Literal["auto", "chat", "alpaca"]

ALPACA_HEAD = ("Below is an instruction that describes a task{with_input}. "
               "Write a response that appropriately completes the request.\n\n### Instruction:\n")
ALPACA_RESPONSE = "### Response:"
# Markers rendered in place of message contents to find, in any chat template, where the
# context starts and ends and where the answer goes. Word characters only, so templates that
# trim or escape content leave them intact.
_START, _END, _ANSWER = "ASSAYCTXSTART7f3a", "ASSAYCTXEND7f3a", "ASSAYANSWER7f3a"


@dataclass(frozen=True)
class LossResult:
    """Losses for one sample; None fields mean the sample could not be scored (empty answer)."""

    loss_conditioned: float | None
    loss_answer: float | None
    answer_tokens: int = 0
    truncated: bool = False

    @property
    def ifd(self) -> float | None:
        """Conditioned loss over answer-alone loss."""
        if self.loss_conditioned is None or not self.loss_answer:
            return None
        return self.loss_conditioned / self.loss_answer

    @property
    def ppl(self) -> float | None:
        """Perplexity of the answer given the instruction."""
        return None if self.loss_conditioned is None else math.exp(self.loss_conditioned)


def fit_to_length(head: list[int], body: list[int], tail: list[int], answer: list[int],
                  max_length: int) -> tuple[list[int], list[int], bool]:
    """Cut the prompt (head + body + tail) and answer to fit `max_length` tokens together.

    The template's head and tail stay whole; the body (the instruction text) loses its start and
    the answer its end. Either side may keep at least half of `max_length` when both are long.
    Returns (prompt ids, answer ids, whether anything was cut).
    """
    if len(head) + len(tail) >= max_length // 2:  # pathological template: cut the prompt as a whole
        head, body, tail = [], head + body + tail, []
    prompt_len = len(head) + len(body) + len(tail)
    prompt_keep = min(prompt_len, max(max_length // 2, max_length - len(answer)))
    answer_keep = min(len(answer), max_length - prompt_keep)
    body_keep = prompt_keep - len(head) - len(tail)
    kept_body = body[len(body) - body_keep:] if body_keep > 0 else []
    truncated = prompt_keep < prompt_len or answer_keep < len(answer)
    return head + kept_body + tail, answer[:answer_keep], truncated


def mean_answer_losses(model: Any, rows: Sequence[Row], pad_id: int, device: Any = "cpu") -> list[float]:
    """Mean cross-entropy of each row's tokens from its answer start on, in one forward pass
    (`causal_lm.answer_nll`: a row's loss does not depend on its batch)."""
    import torch

    nll, counts = answer_nll(model, rows, pad_id, device)
    with torch.inference_mode():
        row_of = torch.repeat_interleave(torch.arange(len(rows), device=nll.device), counts)
        sums = torch.zeros(len(rows), device=nll.device, dtype=torch.float64).index_add_(0, row_of, nll.double())
    return (sums / counts.double()).tolist()


class CausalLMScorer:
    """Answer losses with and without the instruction under a causal LM, loaded once, lazily.

    `model`: a Hugging Face name or folder, or a .gguf file; default the embedded
    SmolLM2-135M-Instruct GGUF. `device`: default cuda when available. `dtype`: a torch dtype or
    its name ("bfloat16"); default float32, which a 135M model can afford on any device.
    `template`: "chat" (the tokenizer's chat template), "alpaca" (Cherry's prompt) or "auto".
    """

    def __init__(self, model: str | None = None, *, device: str | None = None, dtype: Any = None,
                 max_length: int = 512, batch_size: int = 16, max_batch_tokens: int = 4096,
                 template: Template = "auto") -> None:
        if max_length < 16:
            raise ValueError("max_length must be at least 16 tokens")
        self.model_name, self.device, self.dtype = model, device, dtype
        self.max_length, self.batch_size, self.max_batch_tokens = max_length, batch_size, max_batch_tokens
        self.template: Template = template
        self.truncated_count = 0  # samples cut to max_length so far, over all calls
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is None:
                self._adopt(*load_causal_lm(self.model_name, device=self.device, dtype=self.dtype))
        assert self._loaded is not None
        return self._loaded

    def load(self) -> tuple[Any, Any]:
        """(tokenizer, model), loaded on first use."""
        return self._load()

    @classmethod
    def from_loaded(cls, tokenizer: Any, model: Any, **options: Any) -> CausalLMScorer:
        """A scorer over a tokenizer and model already in memory; it runs on the model's device."""
        scorer = cls(**options)
        scorer._adopt(tokenizer, model)
        return scorer

    def _adopt(self, tokenizer: Any, model: Any) -> None:
        if self.template == "auto":
            self.template = "chat" if getattr(tokenizer, "chat_template", None) else "alpaca"
        self.device = next(model.parameters()).device
        self._loaded = (tokenizer, model)

    def score(self, samples: Sequence[Sample]) -> list[LossResult]:
        """Conditioned and answer-alone losses for each sample, in input order."""
        if not samples:
            return []
        tokenizer, model = self._load()
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
        alone_prefix = self.alone_prefix(tokenizer)
        results: list[LossResult | None] = [None] * len(samples)
        conditioned: list[Row] = []
        alone: list[Row] = []
        scored: list[tuple[int, int, bool]] = []  # sample index, answer tokens, truncated
        for i, sample in enumerate(samples):
            answer_text = sample.response
            if not answer_text.strip():
                results[i] = LossResult(None, None)
                continue
            head, body, tail = self.prompt_ids(tokenizer, sample)
            answer = self._encode(tokenizer, answer_text)
            prompt, answer, truncated = fit_to_length(head, body, tail, answer, self.max_length)
            conditioned.append((prompt + answer, len(prompt)))
            alone.append((alone_prefix + answer, len(alone_prefix)))
            scored.append((i, len(answer), truncated))
        losses_conditioned = self._batched(model, conditioned, pad_id)
        losses_alone = self._batched(model, alone, pad_id)
        for (i, n_answer, truncated), with_instruction, without in zip(scored, losses_conditioned, losses_alone, strict=True):
            results[i] = LossResult(with_instruction, without, n_answer, truncated)
            self.truncated_count += truncated
        return [r for r in results if r is not None]

    def _batched(self, model: Any, rows: list[Row], pad_id: int) -> list[float]:
        """Losses in input order, computed in length-sorted batches to limit padding."""
        losses = [0.0] * len(rows)
        for batch in length_batches([len(ids) for ids, _ in rows], batch_size=self.batch_size,
                                    max_batch_tokens=self.max_batch_tokens):
            for j, loss in zip(batch, mean_answer_losses(model, [rows[j] for j in batch], pad_id, self.device)):
                losses[j] = loss
        return losses

    @staticmethod
    def _encode(tokenizer: Any, text: str) -> list[int]:
        # Rendered template text already holds its special tokens: add none.
        return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    @staticmethod
    def _bos(tokenizer: Any) -> list[int]:
        """The token the tokenizer puts before a text on its own (Llama's <s>), if any."""
        plain = tokenizer("a", add_special_tokens=False)["input_ids"]
        marked = tokenizer("a", add_special_tokens=True)["input_ids"]
        return list(marked[:1]) if marked[:1] != plain[:1] else []

    def prompt_ids(self, tokenizer: Any, sample: Sample) -> tuple[list[int], list[int], list[int]]:
        """Token ids of the prompt before the sample's last assistant turn, as (template head,
        context, template tail): the parts `fit_to_length` cuts."""
        head, body, tail = (self._encode(tokenizer, part) for part in self._prompt_parts(tokenizer, sample))
        if self.template == "alpaca":  # rendered chat templates carry their own BOS
            head = self._bos(tokenizer) + head
        return head, body, tail

    def alone_prefix(self, tokenizer: Any) -> list[int]:
        """BOS where the tokenizer adds one, then the assistant header."""
        bos, header = self._bos(tokenizer), ALPACA_RESPONSE
        if self.template == "chat":
            chat = [{"role": "user", "content": "a"}]
            bare = tokenizer.apply_chat_template(chat, tokenize=False)
            prompted = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
            header = prompted[len(bare):] if prompted.startswith(bare) else ""
            bos = [] if header.startswith(tokenizer.bos_token or "\0") else bos
        ids = bos + self._encode(tokenizer, header)
        return ids or [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id]

    def _prompt_parts(self, tokenizer: Any, sample: Sample) -> tuple[str, str, str]:
        """The prompt before the answer as (template head, context text, template tail)."""
        last = max(i for i, m in enumerate(sample.messages) if m.role == "assistant")
        context = [{"role": m.role, "content": m.content} for m in sample.messages[:last]]
        if self.template == "alpaca":
            return _alpaca_parts(sample, context)
        turns = [i for i, m in enumerate(context) if m["role"] != "system"]
        if not turns:
            return self._render(tokenizer, context, with_answer=False), "", ""
        marked = [dict(m) for m in context]
        marked[turns[0]]["content"] = _START + marked[turns[0]]["content"]
        marked[turns[-1]]["content"] += _END
        text = self._render(tokenizer, marked, with_answer=True)
        a, b, c = text.find(_START), text.find(_END), text.find(_ANSWER)
        if not 0 <= a < b < c:  # a template that reorders or drops content: treat all as context
            return "", self._render(tokenizer, context, with_answer=False), ""
        return text[:a], text[a + len(_START):b], text[b + len(_END):c]

    @staticmethod
    def _render(tokenizer: Any, context: list[dict[str, str]], *, with_answer: bool) -> str:
        if with_answer:
            return tokenizer.apply_chat_template(context + [{"role": "assistant", "content": _ANSWER}], tokenize=False)
        return tokenizer.apply_chat_template(context, tokenize=False, add_generation_prompt=True)


def _alpaca_parts(sample: Sample, context: list[dict[str, str]]) -> tuple[str, str, str]:
    """Cherry's Alpaca prompt, with the record's own instruction and input where it has them."""
    record = sample.origin.record if sample.origin and sample.origin.format == "alpaca" else None
    if record is not None:
        instruction, given_input = str(record.get("instruction", "")), str(record.get("input") or "")
    else:
        instruction, given_input = "\n\n".join(m["content"] for m in context if m["role"] != "system"), ""
    if given_input.strip():
        head = ALPACA_HEAD.format(with_input=", paired with an input that provides further context")
        return head, f"{instruction}\n\n### Input:\n{given_input}", f"\n\n{ALPACA_RESPONSE}"
    return ALPACA_HEAD.format(with_input=""), instruction, f"\n\n{ALPACA_RESPONSE}"


class IFDScorer:
    """Batch tool: scores `ifd`, `ppl`, `loss_conditioned`, `loss_answer`; keeps every sample.

    IFD is a score, not a filter, unless `max_ifd` is set: then a sample whose IFD exceeds it is
    dropped as `high_ifd` (Cherry drops IFD > 1: the instruction does not help). A sample with an
    empty answer is kept with no scores. Other keyword arguments configure the CausalLMScorer.
    """

    name = "ifd"

    def __init__(self, scorer: CausalLMScorer | None = None, *, max_ifd: float | None = None, **scorer_options: Any) -> None:
        if scorer is not None and scorer_options:
            raise ValueError("pass either a scorer or options to build one, not both")
        self.scorer = scorer or CausalLMScorer(**scorer_options)
        self.max_ifd = max_ifd

    def __call__(self, batch: Sequence[Sample]) -> list[Assessment]:
        """One Assessment per sample, in order."""
        return [self._assess(result) for result in self.scorer.score(batch)]

    def _assess(self, result: LossResult) -> Assessment:
        ifd, ppl = result.ifd, result.ppl
        if ppl is None or result.loss_conditioned is None or result.loss_answer is None:
            return Assessment(detail="empty answer: no IFD score")
        scores = {"ppl": ppl, "loss_conditioned": result.loss_conditioned, "loss_answer": result.loss_answer}
        detail = f"truncated to {self.scorer.max_length} tokens" if result.truncated else None
        if ifd is None:  # the model predicts the answer alone perfectly: the ratio is undefined
            return Assessment(detail="answer-alone loss is 0: no IFD score", scores=scores)
        scores["ifd"] = ifd
        if self.max_ifd is not None and ifd > self.max_ifd:
            why = f"IFD {ifd:.3f} > {self.max_ifd:g}: the instruction does not make the answer easier to predict"
            return drop("high_ifd", why + (f"; {detail}" if detail else ""), **scores)
        return Assessment(detail=detail, scores=scores)
