"""Hugging Face library settings shared by every model assay loads."""

from __future__ import annotations

import functools
import os


def prepare_hf() -> None:
    """Offline by default, and without transformers' own progress bars under assay's display."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    _quiet_gguf_conversion()


def _quiet_gguf_conversion() -> None:
    """The GGUF loader draws its own tqdm bar, which disable_progress_bar does not reach;
    it would print over assay's progress display on every first load of the embedded model."""
    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_loading
    except ImportError:  # no gguf package: no GGUF models, no bar
        return
    if not isinstance(gguf_loading.tqdm, functools.partial):
        gguf_loading.tqdm = functools.partial(gguf_loading.tqdm, disable=True)
