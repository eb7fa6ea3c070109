"""Transports: the one place a model is actually called (litellm, or the dry-run model).

The gateway sees only `CompletionRequest -> Completion` and two error kinds:
`TransientError` (retry it: 429, 5xx, timeouts, dropped connections, honouring
Retry-After) and `FatalError` (do not retry: bad key, bad request, unknown model).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from assay.llm.model_names import DRY_RUN_MODEL, LOCAL_MODEL_ALIASES  # DRY_RUN_MODEL: re-exported
from assay.llm.pricing import FREE, Price

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}


@dataclass(frozen=True)
class CompletionRequest:
    """What the gateway asks of a model."""

    model: str
    messages: list[dict[str, Any]]
    schema: dict[str, Any] | None = None
    schema_name: str = "output"
    params: dict[str, Any] = field(default_factory=dict)
    timeout_s: float = 120.0


@dataclass(frozen=True)
class Completion:
    """What a model answered, and what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class TransientError(Exception):
    """A failure worth retrying; `retry_after` is the server's requested wait in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(Exception):
    """A failure that retrying will not fix."""


Transport = Callable[[CompletionRequest], Awaitable[Completion]]


def resolve_model(model: str | None) -> str:
    """The litellm model string for a configured name (None or 'local' → the embedded model)."""
    if model is None or model.lower() in LOCAL_MODEL_ALIASES:
        from assay.llm.local_model import LOCAL_MODEL_NAME

        return LOCAL_MODEL_NAME
    return model


class LiteLLMTransport:
    """Calls any litellm provider; registers the embedded local model on first use."""

    def __init__(self, *, api_base: str | None = None, api_key: str | None = None, structured_output: str = "auto") -> None:
        self.api_base = api_base
        self.api_key = api_key
        self.structured_output = structured_output
        self._litellm: Any = None

    def _load(self) -> Any:
        if self._litellm is None:
            os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            import litellm

            from assay.llm.local_model import register_local_provider

            litellm.suppress_debug_info = True
            register_local_provider()
            self._litellm = litellm
        return self._litellm

    def price_of(self, model: str) -> Any:
        """The Price litellm knows for `model` (the embedded model is free), or None."""
        from assay.llm.local_model import LOCAL_MODEL_NAME

        if model == LOCAL_MODEL_NAME:
            return FREE
        litellm = self._load()
        try:
            info = litellm.get_model_info(model=model)
        except Exception:  # litellm raises a bare Exception for a model it does not know
            return None
        prompt, completion = info.get("input_cost_per_token"), info.get("output_cost_per_token")
        if prompt is None or completion is None:
            return None
        return Price(float(prompt) * 1000, float(completion) * 1000)

    def _response_format(self, litellm: Any, request: CompletionRequest) -> dict[str, Any] | None:
        if request.schema is None or self.structured_output == "prompt":
            return None
        from assay.llm.local_model import LOCAL_MODEL_NAME

        native = request.model == LOCAL_MODEL_NAME or self.structured_output == "json_schema"
        if self.structured_output == "auto" and not native:
            try:
                native = bool(litellm.supports_response_schema(model=request.model))
            except Exception:  # unknown model: the schema stays in the prompt only
                native = False
        if not native:
            return {"type": "json_object"} if self.structured_output == "json_object" else None
        return {"type": "json_schema", "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": False}}

    async def __call__(self, request: CompletionRequest) -> Completion:
        litellm = self._load()
        kwargs: dict[str, Any] = dict(request.params)
        response_format = self._response_format(litellm, request)
        if response_format:
            kwargs["response_format"] = response_format
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        try:
            # Our own retry loop is the only one, so litellm's and the OpenAI client's are off.
            response = await litellm.acompletion(
                model=request.model, messages=request.messages, timeout=request.timeout_s,
                num_retries=0, max_retries=0, **kwargs,
            )
        except Exception as err:
            raise classify_error(litellm, err) from err
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        return Completion(
            text=text,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cost_usd=_cost(litellm, response),
        )


def classify_error(litellm: Any, err: Exception) -> Exception:
    """Map a litellm exception to TransientError (with Retry-After) or FatalError."""
    message = f"{type(err).__name__}: {err}"
    if isinstance(err, (litellm.Timeout, litellm.APIConnectionError)):
        return TransientError(message)
    status = getattr(err, "status_code", None)
    if status in RETRYABLE_STATUS:
        return TransientError(message, retry_after=retry_after_seconds(err))
    return FatalError(message)


def retry_after_seconds(err: Exception) -> float | None:
    """The Retry-After the server sent with an error, in seconds, if any."""
    candidates = [getattr(err, "litellm_response_headers", None), getattr(err, "headers", None)]
    response = getattr(err, "response", None)
    candidates.append(getattr(response, "headers", None))
    for headers in candidates:
        if not headers:
            continue
        for name in ("retry-after-ms", "retry-after"):
            value = headers.get(name) if hasattr(headers, "get") else None
            if value is None:
                continue
            seconds = _parse_retry_after(str(value))
            if seconds is not None:
                return seconds / 1000 if name == "retry-after-ms" else seconds
    return None


def _parse_retry_after(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:  # an HTTP date
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _cost(litellm: Any, response: Any) -> float:
    hidden = getattr(response, "_hidden_params", None) or {}
    if "response_cost" in hidden:  # litellm priced it already; None means the model has no known price
        return float(hidden["response_cost"] or 0.0)
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception:  # models with no price (local, self-hosted) cost nothing we can know
        return 0.0
