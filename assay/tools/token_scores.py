"""Per-token influence scores of response tokens (token cleaning, IGTC: Pang et al. 2025).

A token's score is loss_base - loss_reference: how much the reference model lowers its loss.
Tokens both models find easy (boilerplate, repeated filler) or both find hard (a pasted paragraph
unrelated to the prompt) score near 0; the informative tokens score high.

- Two models (`base` given): both see the full prompt; each uses its own tokenizer and chat
  template, and the base's losses are carried onto the reference's tokens through characters
  (a token's loss spread evenly over its characters), which is exact when both tokenize alike.
- One model (`base` None): the base is the reference model with the instruction removed: the
  response scored after the same chat template with its system prompt and an empty user turn
  (earlier turns dropped too). The score is then how much the conversation so far helps predict
  each token. Keeping the template's system prompt matters: with the bare assistant header as
  the base (IFD's "answer alone"), a stock opener such as "As an AI language model" scored as
  informative merely because the system prompt primes it (evals/README.md, token cleaning).

Every assistant turn is scored, with the turns before it as context. A turn longer than the
scorer's `max_length` (with its context) is scored up to that length; its tail is not scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assay.core.records import Message, Sample
from assay.tools.causal_lm import Row, model_label, token_losses
from assay.tools.ifd import CausalLMScorer, fit_to_length


@dataclass(frozen=True)
class TurnScores:
    """One assistant turn's scored tokens: [starts, ends) character offsets into the turn's content,
    and each token's loss under the reference and the base model."""

    sample: int  # index of the sample in the scored batch
    turn: int  # index into the sample's messages
    starts: np.ndarray
    ends: np.ndarray
    reference: np.ndarray
    base: np.ndarray
    truncated: bool = False

    @property
    def scores(self) -> np.ndarray:
        """loss_base - loss_reference per token: high means informative."""
        return self.base - self.reference


@dataclass
class _Turn:
    sample: int
    turn: int
    starts: np.ndarray
    ends: np.ndarray
    truncated: bool
    ref_row: int
    base_row: int
    base_spans: tuple[np.ndarray, np.ndarray] | None  # the base's own token offsets (two tokenizers)


def encode_with_offsets(tokenizer: Any, text: str) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Token ids of `text` (no special tokens) and each token's [start, end) character offsets."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(f"{type(tokenizer).__name__} gives no character offsets: token cleaning needs a fast "
                         "(Rust) tokenizer")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = np.asarray(encoded["offset_mapping"], dtype=np.int64).reshape(-1, 2)
    return list(encoded["input_ids"]), offsets[:, 0], offsets[:, 1]


def carry_losses(src_starts: np.ndarray, src_ends: np.ndarray, src_losses: np.ndarray, dst_starts: np.ndarray,
                 dst_ends: np.ndarray, length: int) -> np.ndarray:
    """Losses of one tokenization carried onto another of the same text: each source token's loss is
    spread evenly over its characters, and a destination token gets the sum over its characters."""
    widths = np.maximum(src_ends - src_starts, 1)
    per_char = np.zeros(length + 1, dtype=np.float64)
    # Each source token adds loss/width from its start and takes it back at its end: a difference array.
    np.add.at(per_char, np.minimum(src_starts, length), src_losses / widths)
    np.add.at(per_char, np.minimum(np.maximum(src_ends, src_starts + 1), length), -src_losses / widths)
    cumulative = np.concatenate([[0.0], np.cumsum(np.cumsum(per_char)[:length])])
    return cumulative[np.minimum(dst_ends, length)] - cumulative[np.minimum(dst_starts, length)]


class TokenScorer:
    """Scores response tokens with a reference `CausalLMScorer` and, optionally, a base one.

    Batches on the reference's settings (`batch_size`, `max_batch_tokens`, `max_length`, device):
    rows sorted by length, one forward pass per batch, losses moved off the device once a batch.
    """

    def __init__(self, reference: CausalLMScorer, base: CausalLMScorer | None = None) -> None:
        self.reference, self.base = reference, base
        self.scored_tokens = 0  # response tokens scored so far, for rates

    @property
    def name(self) -> str:
        """How the scores were made, stored with the masks."""
        ref = model_label(self.reference.model_name)
        base = model_label(self.base.model_name) if self.base else "reference, instruction emptied"
        return f"igtc: loss(base={base}) - loss(reference={ref})"

    def score(self, samples: Sequence[Sample]) -> list[TurnScores]:
        """Scored assistant turns of the samples, in order (empty turns are skipped)."""
        ref_tok = self.reference.load()[0]
        ref_rows: list[Row] = []
        base_rows: list[Row] = []
        turns: list[_Turn] = []
        base_tok = self.base.load()[0] if self.base else None
        for i, sample in enumerate(samples):
            for k, message in enumerate(sample.messages):
                if message.role != "assistant" or not message.content.strip():
                    continue
                context = sample.model_copy(update={"messages": sample.messages[: k + 1]})
                row, starts, ends, truncated = self._row(self.reference, ref_tok, context, message.content)
                ref_rows.append(row)
                spans = None
                if self.base is None:  # the same answer tokens after the prompt without the instruction
                    prefix = self._without_instruction(ref_tok, sample, k)
                    base_rows.append((prefix + row[0][row[1]:], len(prefix)))
                else:
                    base_row, b_starts, b_ends, _ = self._row(self.base, base_tok, context, message.content)
                    base_rows.append(base_row)
                    spans = (b_starts, b_ends)
                turns.append(_Turn(i, k, starts, ends, truncated, len(ref_rows) - 1, len(base_rows) - 1, spans))
        ref_losses = self._losses(self.reference, ref_rows)
        base_losses = self._losses(self.base or self.reference, base_rows)
        out = []
        for t in turns:
            base, ref, starts, ends = base_losses[t.base_row], ref_losses[t.ref_row], t.starts, t.ends
            if t.base_spans is not None:
                content = samples[t.sample].messages[t.turn].content
                # Only the characters both models scored (the two may cut a long turn at different places).
                covered = ends <= (t.base_spans[1].max() if len(t.base_spans[1]) else 0)
                starts, ends, ref = starts[covered], ends[covered], ref[covered]
                base = carry_losses(*t.base_spans, base, starts, ends, len(content))
            out.append(TurnScores(t.sample, t.turn, starts, ends, ref, base, t.truncated))
            self.scored_tokens += len(t.starts)
        return out

    def _without_instruction(self, tokenizer: Any, sample: Sample, turn: int) -> list[int]:
        """The one-model base's prompt: the chat template with the sample's system turns (or the
        template's default system prompt) and one empty user turn; no earlier turns."""
        # origin dropped too: the Alpaca prompt would otherwise take the instruction from the record.
        emptied = sample.model_copy(update={"origin": None, "messages": (
            *[m for m in sample.messages[:turn] if m.role == "system"], Message(role="user", content=""),
            sample.messages[turn])})
        head, body, tail = self.reference.prompt_ids(tokenizer, emptied)
        return head + body + tail

    @staticmethod
    def _row(scorer: CausalLMScorer, tokenizer: Any, context: Sample,
             content: str) -> tuple[Row, np.ndarray, np.ndarray, bool]:
        """The scoring row of a sample's last assistant turn and the offsets of its kept tokens."""
        ids, starts, ends = encode_with_offsets(tokenizer, content)
        prompt, answer, truncated = fit_to_length(*scorer.prompt_ids(tokenizer, context), ids, scorer.max_length)
        n = len(answer)
        return (prompt + answer, len(prompt)), starts[:n], ends[:n], truncated

    @staticmethod
    def _losses(scorer: CausalLMScorer, rows: list[Row]) -> list[np.ndarray]:
        """Per-token answer losses of each row, in input order."""
        tokenizer, model = scorer.load()
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
        return token_losses(model, rows, pad_id, scorer.device, batch_size=scorer.batch_size,
                            max_batch_tokens=scorer.max_batch_tokens)


def score_in_chunks(scorer: TokenScorer, samples: Sequence[Sample], chunk: int,
                    advance: Callable[[int], None]) -> list[TurnScores]:
    """`scorer.score` over chunks of samples (so progress moves), sample indices kept global."""
    out: list[TurnScores] = []
    for start in range(0, len(samples), chunk):
        for t in scorer.score(samples[start : start + chunk]):
            out.append(TurnScores(t.sample + start, t.turn, t.starts, t.ends, t.reference, t.base, t.truncated))
        advance(len(samples[start : start + chunk]))
    return out
