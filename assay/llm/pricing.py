"""What a model call costs: the user's price, or the price the transport knows, or none.

A USD budget needs a price: a model with none would be charged $0 and the cap would do
nothing, so such a budget is refused before any call (`require_price`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assay.core.errors import ConfigError
from assay.llm.model_names import DRY_RUN_MODEL

CHARS_PER_TOKEN = 4  # a rough, cautious rate: estimates only size a reservation, never a charge
DEFAULT_COMPLETION_TOKENS = 256
PRICE_HELP = ("give one with --price-usd-per-1k-tokens, or in the recipe as [llm] price_per_1k_input and "
              "price_per_1k_output")


@dataclass(frozen=True)
class Price:
    """US dollars per 1,000 prompt and per 1,000 completion tokens."""

    input_per_1k: float
    output_per_1k: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The price of a call that used these tokens."""
        return (prompt_tokens * self.input_per_1k + completion_tokens * self.output_per_1k) / 1000


FREE = Price(0.0, 0.0)


def known_price(transport: Any, model: str) -> Price | None:
    """The price the transport knows for `model` (the dry-run model is free), or None."""
    if model == DRY_RUN_MODEL:
        return FREE
    price_of = getattr(transport, "price_of", None)
    return price_of(model) if price_of is not None else None


def require_price(model: str, user_price: Price | None, transport: Any) -> Price:
    """The price a USD budget charges `model` at; ConfigError when there is none."""
    price = user_price or known_price(transport, model)
    if price is None:
        raise unpriced(model)
    return price


def unpriced(model: str) -> ConfigError:
    """The error for a USD budget on a model with no price (it would be charged $0: no cap at all)."""
    return ConfigError(f"model {model} has no known price, so a USD budget cannot cap it; {PRICE_HELP}")


def estimate_prompt_tokens(messages: Sequence[dict[str, Any]]) -> int:
    """A rough token count of a request, from its length."""
    return len(json.dumps(messages, ensure_ascii=False, default=str)) // CHARS_PER_TOKEN + 1
