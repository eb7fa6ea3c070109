"""Sentence embeddings near the hardware: the model's transformer run directly, without
sentence-transformers' per-batch work in the way.

`SentenceTransformer.encode` tokenizes, pads, runs and copies each batch back to the host in
turn, so on a GPU the per-batch CPU work bounds it and the device idles (issue 14: 3.5-4.2k
texts/s for MiniLM on an H200). Here:
- worker threads tokenize windows of texts with the fast tokenizer's batch call (Rust, which
  releases the GIL; `encoder_tokens.py` skips its normalizer where that is exact) while the
  main thread runs the model on earlier windows;
- each window is sorted by token length and cut into batches under a token budget, so batches
  are large and pad little (`encoder_batches.bucket`);
- batches go to the GPU from pinned memory without blocking, the vectors stay on the GPU, and
  one copy back per chunk of texts is the only synchronisation (it overlaps the next chunk);
- fp16 weights on CUDA by default (bf16 on request), fp32 on CPU; pooling runs in fp32.
Truncation follows the folder's max_seq_length as sentence-transformers does (256 for MiniLM).
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from assay.core.hf import prepare_hf
from assay.session.encoder_batches import Batch, Recipe, bucket, pin, read_recipe
from assay.session.encoder_tokens import TokenIds, start_worker, tokenize_in_worker

DTYPES = ("float16", "bfloat16", "float32")
# Per device kind: tokens per forward pass, texts per tokenization job, texts per copy back
# (and per progress report). A GPU wants few, large steps; a CPU wants progress often.
_CUDA_SHAPE = (65536, 8192, 65536)
_CPU_SHAPE = (16384, 2048, 2048)


class FastEncoder:
    """Unit-length (or raw pooled) float32 vectors from a local sentence-transformers folder."""

    def __init__(self, folder: str | Path, *, device: str | None = None, dtype: str | None = None,
                 token_budget: int | None = None, batch_size: int | None = None, window: int | None = None,
                 chunk: int | None = None, threads: int | None = None, processes: bool | None = None) -> None:
        """`token_budget` caps the tokens (padding included) of one forward pass; `batch_size`
        instead sets it to that many texts of the full max_seq_length, the same memory bound a
        sentence-transformers batch of that size has. `window`: texts per tokenization job;
        `chunk`: texts per copy back and progress report; `threads`: tokenization workers, which
        are processes where `processes` (default: on CUDA, where the host is the bound), else threads."""
        recipe = read_recipe(folder)
        if recipe is None:
            raise ValueError(f"{folder} is not a Transformer + Pooling (mean or CLS) [+ Normalize] model folder")
        import torch

        self.recipe: Recipe = recipe
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        on_cuda = self.device.type == "cuda"
        self.dtype_name = dtype or ("float16" if on_cuda else "float32")
        if self.dtype_name not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {self.dtype_name!r}")
        budget, default_window, default_chunk = _CUDA_SHAPE if on_cuda else _CPU_SHAPE
        self.window = window or default_window
        self.chunk = max(chunk or default_chunk, self.window)
        cores = os.cpu_count() or 2
        self.processes = on_cuda if processes is None else processes
        # 4 processes on a 16-core H200 host ran fastest (35.7k texts/s; 8: 34.2k, 12: 24.6k; evals/README.md).
        self.threads = threads or (max(2, min(8, cores // 4)) if self.processes else max(1, min(4, cores - 1)))
        self._process_pool: ProcessPoolExecutor | None = None
        self.model, self.tokenizer, self.pad_id, self.max_length = self._load()
        self.dimension = int(self.model.config.hidden_size)
        self.token_budget = token_budget or (batch_size * self.max_length if batch_size else budget)

    @classmethod
    def supports(cls, folder: str | Path) -> bool:
        """Whether `folder` is a local model folder this encoder can run (on transformers 5 or later)."""
        return Path(folder).is_dir() and read_recipe(folder) is not None and _transformers_major() >= 5

    def _load(self) -> tuple[Any, TokenIds, int, int]:
        prepare_hf()
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = str(self.recipe.transformer)
        model = AutoModel.from_pretrained(path, dtype=getattr(torch, self.dtype_name), attn_implementation="sdpa")
        model = model.to(self.device).eval()
        hf_tokenizer = AutoTokenizer.from_pretrained(path)
        limit = self.recipe.max_seq_length or hf_tokenizer.model_max_length
        max_length = int(min(limit, getattr(model.config, "max_position_embeddings", limit)))
        tokenizer = TokenIds(hf_tokenizer.backend_tokenizer.to_str(), max_length)  # truncates as sentence-transformers does
        pad_id = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else 0
        return model, tokenizer, int(pad_id), max_length

    def tokenize(self, texts: list[str], rows: np.ndarray) -> list[Batch]:
        """Tokenize one window (in a worker thread) into length-bucketed numpy batches."""
        return bucket(self.tokenizer(texts), rows, token_budget=self.token_budget, pad_id=self.pad_id,
                      max_width=self._width_cap())

    def _width_cap(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)

    def _workers(self) -> Executor:
        """The tokenizer pool: the encoder's own worker processes, or fresh threads for one call."""
        if not self.processes:
            return ThreadPoolExecutor(self.threads, thread_name_prefix="assay-tokenize")
        if self._process_pool is None:
            import multiprocessing

            # spawn: forking a process that holds CUDA and Rust thread pools is unsafe.
            rayon = max(1, (os.cpu_count() or 2) // self.threads)
            self._process_pool = ProcessPoolExecutor(
                self.threads, mp_context=multiprocessing.get_context("spawn"), initializer=start_worker,
                initargs=(self.tokenizer.spec_json, self.max_length, rayon))
        return self._process_pool

    def _submit(self, pool: Executor, texts: list[str], rows: np.ndarray) -> Future[list[Batch]]:
        if self.processes:
            return pool.submit(tokenize_in_worker, texts, rows, self.token_budget, self.pad_id, self._width_cap())
        return pool.submit(self.tokenize, texts, rows)

    def to_torch(self, batch: Batch) -> Batch:
        """A numpy batch as torch tensors: page-locked on CUDA, so the copies to the GPU run asynchronously."""
        return pin(batch) if self.device.type == "cuda" else _as_tensors(batch)

    def close(self) -> None:
        """Stop the tokenizer processes, if any were started."""
        if self._process_pool is not None:
            self._process_pool.shutdown()
            self._process_pool = None

    def _forward(self, batch: Batch, normalize: bool) -> Any:
        """Pooled float32 vectors for one batch, left on the device (no host synchronisation)."""
        import torch

        ids = batch.ids.to(self.device, non_blocking=True)
        lengths = batch.lengths.to(self.device, non_blocking=True)
        keep = torch.arange(ids.shape[1], device=self.device)[None, :] < lengths[:, None]
        # A ready 4D additive mask: transformers passes it through as is, where a 2D one makes it
        # ask the GPU whether anything is padded (a sync every batch).
        bias = (~keep).to(self.model.dtype)[:, None, None, :] * torch.finfo(self.model.dtype).min
        hidden = self.model(input_ids=ids, attention_mask=bias).last_hidden_state
        if self.recipe.pooling == "mean":
            summed = torch.bmm(keep.to(hidden.dtype)[:, None, :], hidden)[:, 0].float()
            pooled = summed / lengths.clamp(min=1)[:, None].float()
        else:
            pooled = hidden[:, 0].float()
        return torch.nn.functional.normalize(pooled, p=2, dim=1) if normalize else pooled

    def encode(self, texts: Sequence[str], *, normalize: bool = True,
               on_chunk: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for `texts`, rows in input order; `on_chunk(n)` after each chunk of n texts lands."""
        import torch

        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return vectors
        # Longest first over the whole input, as sentence-transformers does, so each window
        # holds texts of similar length; windows then sort by tokens.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        windows = [order[s : s + self.window] for s in range(0, len(order), self.window)]
        per_chunk = max(1, self.chunk // self.window)
        prefetch = self.threads + 1
        pool = self._workers()
        with torch.inference_mode(), contextlib.ExitStack() as stack:
            if not self.processes:
                stack.enter_context(pool)  # this call's threads end with it
            ahead: deque[Future[list[Batch]]] = deque()

            def submit(w: int) -> None:
                rows = np.arange(len(windows[w]), dtype=np.int64) + (w % per_chunk) * self.window
                ahead.append(self._submit(pool, [texts[i] for i in windows[w]], rows))

            for w in range(min(prefetch, len(windows))):
                submit(w)
            landing: tuple[Any, Any, np.ndarray] | None = None
            buffer: Any = None
            for w in range(len(windows)):
                if w % per_chunk == 0:
                    size = sum(len(x) for x in windows[w : w + per_chunk])
                    buffer = torch.empty((size, self.dimension), dtype=torch.float32, device=self.device)
                batches = ahead.popleft().result()
                if w + prefetch < len(windows):
                    submit(w + prefetch)
                for batch in map(self.to_torch, batches):
                    buffer.index_copy_(0, batch.rows.to(self.device, non_blocking=True), self._forward(batch, normalize))
                if (w + 1) % per_chunk == 0 or w == len(windows) - 1:
                    started = (*self._copy_back(buffer), np.concatenate(windows[w - w % per_chunk : w + 1]))
                    if landing is not None:  # the previous chunk's copy ran while this one computed
                        self._land(landing, vectors, on_chunk)
                    landing = started
            if landing is not None:
                self._land(landing, vectors, on_chunk)
        return vectors

    def _copy_back(self, buffer: Any) -> tuple[Any, Any]:
        """Start copying a chunk's vectors to the host; returns the host tensor and its done-event."""
        import torch

        if self.device.type != "cuda":
            return buffer, None
        host = torch.empty(buffer.shape, dtype=buffer.dtype, pin_memory=True)
        host.copy_(buffer, non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        return host, done

    @staticmethod
    def _land(landing: tuple[Any, Any, np.ndarray], vectors: np.ndarray,
              on_chunk: Callable[[int], None] | None) -> None:
        host, done, rows = landing
        if done is not None:
            done.synchronize()
        vectors[rows] = host.numpy()
        if on_chunk is not None:
            on_chunk(len(rows))


def _transformers_major() -> int:
    """The installed transformers' major version: before 5, BERT rejects the prepared 4D attention
    mask and the `dtype=` keyword this encoder passes, so older versions keep sentence-transformers."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("transformers").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 0


def _as_tensors(batch: Batch) -> Batch:
    import torch

    return Batch(*(torch.from_numpy(part) for part in (batch.ids, batch.lengths, batch.rows)))
