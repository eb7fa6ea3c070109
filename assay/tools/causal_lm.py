"""A causal LM's losses on answer tokens: loading a model, length-bucketed batches, one forward pass.

Shared by IFD (tools/ifd.py: a mean loss per answer) and token cleaning (tools/token_scores.py:
a loss per answer token). torch and transformers are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

Row = tuple[list[int], int]  # token ids, index of the first scored (answer) token


def load_causal_lm(name: str | None, *, device: str | None = None, dtype: Any = None) -> tuple[Any, Any]:
    """(tokenizer, model) for a Hugging Face name or folder, or a .gguf file (default: the embedded
    SmolLM2 GGUF), in eval mode on `device` (default cuda when available) in `dtype` (a torch dtype
    or its name; default float32)."""
    import torch

    from assay.core.hf import prepare_hf

    prepare_hf()
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, kwargs = _where(name)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype or torch.float32
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    # Loaded in the target dtype (a 7B model in float32 would not fit first), then moved.
    dtype_kwarg = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs, **{dtype_kwarg: dtype})
    return tokenizer, model.to(device=device, dtype=dtype).eval()


def _where(name: str | None) -> tuple[str, dict[str, str]]:
    """The folder `from_pretrained` loads and its keyword arguments (a .gguf file's name)."""
    if name is None or str(name).endswith(".gguf"):
        from assay.core.model_files import find_gguf

        gguf = Path(name) if name else find_gguf()
        return str(gguf.parent), {"gguf_file": gguf.name}
    return name, {}


def load_tokenizer(name: str | None) -> Any:
    """The tokenizer of a Hugging Face name or folder, or of a .gguf file (default: the embedded SmolLM2)."""
    from assay.core.hf import prepare_hf

    prepare_hf()
    from transformers import AutoTokenizer

    folder, kwargs = _where(name)
    return AutoTokenizer.from_pretrained(folder, **kwargs)


def model_label(name: str | None) -> str:
    """A model's name as outputs record it: the name given, or the embedded GGUF's file name."""
    if name:
        return str(name)
    from assay.core.model_files import find_gguf

    return f"embedded:{find_gguf().name}"


def length_batches(lengths: Sequence[int], *, batch_size: int, max_batch_tokens: int) -> list[list[int]]:
    """Row indices grouped into batches of similar length (sorted), so padding stays small: at most
    `batch_size` rows and `max_batch_tokens` padded tokens a batch (a longer row goes alone)."""
    order = sorted(range(len(lengths)), key=lambda k: lengths[k])
    batches: list[list[int]] = []
    batch: list[int] = []
    for k in order:
        # Sorted ascending, so the newest row is the widest: the padded size is rows x its length.
        if batch and (len(batch) == batch_size or (len(batch) + 1) * lengths[k] > max_batch_tokens):
            batches.append(batch)
            batch = []
        batch.append(k)
    if batch:
        batches.append(batch)
    return batches


def answer_nll(model: Any, rows: Sequence[Row], pad_id: int, device: Any = "cpu") -> tuple[Any, Any]:
    """Cross-entropy of every answer token of every row, in one forward pass.

    Returns (nll, counts): nll a 1-D float32 tensor on the model's device holding row 0's answer
    tokens in order, then row 1's, ...; counts the number of answer tokens of each row. Rows are
    right-padded; a causal model never attends to later padding, so a row's losses do not depend
    on its batch.
    """
    import torch
    import torch.nn.functional as F

    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    # predicts[b, p]: position p predicts an answer token (the one at p + 1).
    predicts = torch.zeros((len(rows), width), dtype=torch.bool)
    for b, (ids, start) in enumerate(rows):
        if not 1 <= start < len(ids):
            raise ValueError(f"row {b}: answer start {start} outside 1..{len(ids) - 1}")
        input_ids[b, : len(ids)] = torch.tensor(ids)
        attention[b, : len(ids)] = 1
        predicts[b, start - 1 : len(ids) - 1] = True
    input_ids, attention, predicts = input_ids.to(device), attention.to(device), predicts.to(device)
    # Logits only from the earliest position that predicts an answer token: an int
    # logits_to_keep is understood by every recent transformers model.
    first = min(start for _, start in rows) - 1
    keep = width - first
    with torch.inference_mode():
        try:
            logits = model(input_ids=input_ids, attention_mask=attention, logits_to_keep=keep).logits
        except TypeError:  # a model without logits_to_keep: all positions
            logits = model(input_ids=input_ids, attention_mask=attention).logits
        predicts = predicts[:, first:]
        logits = logits[:, -keep:][predicts]  # also right for a model that ignored logits_to_keep
        targets = input_ids.roll(-1, dims=1)[:, first:][predicts]
        nll = F.cross_entropy(logits.float(), targets, reduction="none")
        return nll, predicts.sum(dim=1)


def token_losses(model: Any, rows: Sequence[Row], pad_id: int, device: Any = "cpu", *, batch_size: int,
                 max_batch_tokens: int) -> list[Any]:
    """Per-token answer losses of each row (float64 numpy arrays), in input order, computed in
    length-sorted batches: one forward pass and one device-to-host copy a batch, split with numpy."""
    import numpy as np

    losses: list[Any] = [np.zeros(0)] * len(rows)
    for batch in length_batches([len(ids) for ids, _ in rows], batch_size=batch_size,
                                max_batch_tokens=max_batch_tokens):
        nll, counts = answer_nll(model, [rows[j] for j in batch], pad_id, device)
        parts = np.split(nll.double().cpu().numpy(), np.cumsum(counts.cpu().numpy())[:-1])
        for j, part in zip(batch, parts, strict=True):
            losses[j] = part
    return losses
