"""What the fast encoder (`encoder_fast.py`) needs from a model folder, and its length-bucketed batches.

A sentence-transformers folder says in `modules.json` which modules it chains. The fast path
handles only a plain Transformer, then Pooling (mean or CLS), then optionally Normalize: that
is what `read_recipe` accepts; anything else returns None and the caller keeps
sentence-transformers. Nothing here imports torch or transformers at module level.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# The legacy pooling flags sentence-transformers wrote before its `pooling_mode` key.
_LEGACY_POOLING = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                   "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                   "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}
SUPPORTED_POOLING = ("mean", "cls")


@dataclass(frozen=True)
class Recipe:
    """How a folder's sentence-transformers pipeline turns tokens into one vector."""

    transformer: Path  # the folder holding config.json, the weights and the tokenizer
    pooling: str  # "mean" or "cls"
    normalize: bool  # the folder ends in a Normalize module
    max_seq_length: int | None  # sentence_bert_config.json's truncation length, if stated


def _module_kind(entry: dict[str, Any]) -> str:
    return str(entry.get("type", "")).rsplit(".", 1)[-1]


def _pooling_mode(config: dict[str, Any]) -> str | None:
    mode = config.get("pooling_mode")
    if mode is None:
        active = [name for key, name in _LEGACY_POOLING.items() if config.get(key)]
        mode = active[0] if len(active) == 1 else None
    if isinstance(mode, list) and len(mode) == 1:
        mode = mode[0]
    if not isinstance(mode, str) or mode not in SUPPORTED_POOLING or config.get("include_prompt") is False:
        return None
    return mode


def read_recipe(folder: str | Path) -> Recipe | None:
    """The fast path's recipe for a local sentence-transformers folder, or None where it does not apply.

    None for a folder without modules.json, or whose modules are anything but Transformer,
    Pooling (mean or CLS) and an optional Normalize, or that lowercases outside its tokenizer.
    """
    root = Path(folder)
    modules_file = root / "modules.json"
    if not modules_file.is_file():
        return None
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    kinds = [_module_kind(m) for m in modules]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return None
    transformer = root / modules[0].get("path", "")
    pooling_file = root / modules[1].get("path", "") / "config.json"
    if not pooling_file.is_file():
        return None
    pooling = _pooling_mode(json.loads(pooling_file.read_text(encoding="utf-8")))
    sbert_file = transformer / "sentence_bert_config.json"
    sbert = json.loads(sbert_file.read_text(encoding="utf-8")) if sbert_file.is_file() else {}
    if pooling is None or sbert.get("do_lower_case"):
        return None
    max_len = sbert.get("max_seq_length")
    return Recipe(transformer, pooling, kinds[-1] == "Normalize", int(max_len) if max_len else None)


@dataclass
class Batch:
    """One forward pass: padded token ids, each row's true length, and its row in the output buffer."""

    ids: Any  # int64 [rows, width]: numpy, or a (pinned) torch tensor once `pin` ran
    lengths: Any  # int64 [rows]
    rows: Any  # int64 [rows]: where each vector goes in the chunk's buffer


def bucket(encodings_ids: list[list[int]], rows: np.ndarray, *, token_budget: int, pad_id: int,
           width_multiple: int = 8, max_width: int | None = None) -> list[Batch]:
    """Batches of the given token id lists, sorted by token length, each under `token_budget`
    tokens with padding; widths are rounded up to `width_multiple` (tensor cores and the
    attention kernels like aligned rows; the extra columns are masked) but never past `max_width`.
    """
    lengths = np.fromiter(map(len, encodings_ids), dtype=np.int64, count=len(encodings_ids))
    order = np.argsort(-lengths, kind="stable")  # longest first: each batch's width is its first row
    batches: list[Batch] = []
    start = 0
    while start < len(order):
        width = -(-max(int(lengths[order[start]]), 1) // width_multiple) * width_multiple
        if max_width is not None:
            width = max(min(width, max_width), int(lengths[order[start]]))
        take = order[start : start + max(1, token_budget // width)]
        own = lengths[take]
        flat = np.fromiter(itertools.chain.from_iterable(encodings_ids[i] for i in take), dtype=np.int64,
                           count=int(own.sum()))
        ids = np.full((len(take), width), pad_id, dtype=np.int64)
        ids[np.arange(width)[None, :] < own[:, None]] = flat  # row-major fill: each row's ids, then padding
        batches.append(Batch(ids, own, rows[take]))
        start += len(take)
    return batches


def pin(batch: Batch) -> Batch:
    """The batch as page-locked torch tensors, so the copies to the GPU can run asynchronously."""
    import torch

    return Batch(*(torch.from_numpy(part).pin_memory() for part in (batch.ids, batch.lengths, batch.rows)))
