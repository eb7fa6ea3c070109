"""Token ids for the fast encoder, with the Rust tokenizer's normalizer skipped where that is exact.

On a 16-core H200 host the fast tokenizer was the fast encoder's bound (about 27k Alpaca texts/s
with every core busy; the GPU ran the model at 83k/s). For a BERT-style tokenizer most of that
time is its BertNormalizer: clean control characters, split CJK characters, strip accents,
lowercase, each step keeping character alignments we never read. On ASCII text without
control characters the first three do nothing and lowercasing is `str.lower`, so such texts go
to a copy of the tokenizer without a normalizer after `str.lower` (1.4-1.7x faster per core,
same ids); every other text goes to the full tokenizer. Any other normalizer: no shortcut.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

from assay.session.encoder_batches import Batch, bucket

# What BertNormalizer's clean_text removes from ASCII (tab, newline and carriage return it turns
# into spaces, which the pre-tokenizer splits on anyway). NUL and DEL included.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TokenIds:
    """Token id lists for texts, truncated to `max_length` (special tokens included), unpadded."""

    def __init__(self, spec_json: str, max_length: int) -> None:
        """`spec_json`: the model's Rust tokenizer as JSON (`backend_tokenizer.to_str()`)."""
        from tokenizers import Tokenizer

        self.spec_json, self.max_length = spec_json, max_length
        spec = json.loads(spec_json)
        self.full = self._configured(Tokenizer.from_str(json.dumps(spec)), max_length)
        normalizer = spec.get("normalizer") or {}
        self.plain: Any = None
        self.lower = bool(normalizer.get("lowercase"))
        if normalizer.get("type") == "BertNormalizer":
            spec["normalizer"] = None
            self.plain = self._configured(Tokenizer.from_str(json.dumps(spec)), max_length)

    @staticmethod
    def _configured(tokenizer: Any, max_length: int) -> Any:
        tokenizer.no_padding()  # each batch is padded to its own width later
        tokenizer.enable_truncation(max_length)
        return tokenizer

    def __call__(self, texts: list[str]) -> list[list[int]]:
        """Each text's ids, in order. The Rust calls release the GIL and use every core."""
        if self.plain is None:
            return [e.ids for e in self.full.encode_batch(texts)]
        simple = [t.isascii() and _CONTROL.search(t) is None for t in texts]
        easy = [(t.lower() if self.lower else t) for t, s in zip(texts, simple, strict=True) if s]
        hard = [t for t, s in zip(texts, simple, strict=True) if not s]
        easy_ids = iter([e.ids for e in self.plain.encode_batch(easy)] if easy else [])
        hard_ids = iter([e.ids for e in self.full.encode_batch(hard)] if hard else [])
        return [next(easy_ids) if s else next(hard_ids) for s in simple]


# Tokenizer worker processes (`FastEncoder` on CUDA). Each Rust call returns one Python object
# per text whose creation, reading and freeing hold the GIL; on an H200 host that serial work,
# not the tokenizer, bounded a thread pool at ~27k texts/s. Processes each have their own GIL.
_WORKER: TokenIds | None = None


def start_worker(spec_json: str, max_length: int, rayon_threads: int) -> None:
    """Process-pool initializer: this process's tokenizer, sharing the cores with its siblings."""
    global _WORKER
    os.environ["RAYON_NUM_THREADS"] = str(rayon_threads)  # read by the Rust pool on its first use
    _WORKER = TokenIds(spec_json, max_length)


def tokenize_in_worker(texts: list[str], rows: np.ndarray, token_budget: int, pad_id: int,
                       max_width: int | None) -> list[Batch]:
    """One window, tokenized and bucketed in a worker process (numpy batches travel back pickled)."""
    if _WORKER is None:
        raise RuntimeError("tokenize_in_worker runs only in a process started with start_worker")
    return bucket(_WORKER(texts), rows, token_budget=token_budget, pad_id=pad_id, max_width=max_width)
