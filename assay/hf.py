"""Hugging Face library settings shared by every model assay loads."""

from __future__ import annotations

import os


def prepare_hf() -> None:
    """Offline by default, and without transformers' own progress bars under assay's display."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
