"""The training JSONL of token masks: one line per sample, spans and tokenized ids/labels.

A line: `id`, `messages` (each assistant turn with `mask_spans`, the [start, end) character spans
of its content left out of the loss), `tokenizer`, `input_ids`, `labels` (-100 on the prompt and
on masked tokens, tools/token_labels.py), `scored_tokens`, `masked_tokens`. The spans are the
truth; ids and labels are derived from them under the named tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from assay.core.records import Sample
from assay.core.writers import write_jsonl
from assay.session.token_masks import TokenMask
from assay.tools.token_labels import labelled_ids


def mask_rows(samples: Sequence[Sample], masks: Sequence[TokenMask], tokenizer: Any,
              tokenizer_name: str) -> Iterator[dict[str, Any]]:
    """The JSONL lines of the samples and their masks (same order)."""
    for sample, mask in zip(samples, masks, strict=True):
        spans = {k: mask.spans(k) for k, m in enumerate(sample.messages) if m.role == "assistant"}
        messages = [{"role": m.role, "content": m.content} for m in sample.messages]
        for k, turn_spans in spans.items():
            messages[k]["mask_spans"] = [list(span) for span in turn_spans]
        input_ids, labels = labelled_ids(tokenizer, messages, spans)
        yield {"id": sample.id, "messages": messages, "tokenizer": tokenizer_name, "input_ids": input_ids,
               "labels": labels, "scored_tokens": mask.total, "masked_tokens": mask.masked}


def write_masks(path: Path, samples: Sequence[Sample], masks: Sequence[TokenMask], tokenizer: Any,
                tokenizer_name: str) -> int:
    """Write the JSONL atomically; returns the number of lines."""
    return write_jsonl(path, mask_rows(samples, masks, tokenizer, tokenizer_name))
