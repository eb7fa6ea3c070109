"""Builds a session's gateway from its config: transport, cache, budget, settings."""

from __future__ import annotations

import random
import sqlite3
from typing import get_args

from assay.llm.budget import BudgetLedger
from assay.core.config import AgentRole, Config
from assay.core.errors import ConfigError
from assay.llm.gateway import Gateway, GatewaySettings
from assay.llm.cache import ResponseCache
from assay.llm.pricing import Price, require_price
from assay.llm.model_names import DRY_RUN_MODEL
from assay.llm.transport import LiteLLMTransport, Transport, resolve_model
from assay.trace.log import Trace


def model_name(config: Config, role: AgentRole | None = None) -> str:
    """The litellm model string for a role (the dry-run model when the session is a dry run)."""
    if config.dry_run:
        return DRY_RUN_MODEL
    chosen = config.models.for_role(role) if role else config.models.default
    return DRY_RUN_MODEL if chosen == DRY_RUN_MODEL else resolve_model(chosen)


def build_transport(config: Config) -> Transport:
    """The dry-run model, or litellm (which also serves the embedded local model)."""
    if config.dry_run or config.models.default == DRY_RUN_MODEL:
        from assay.llm.dry_run import DryRunTransport

        return DryRunTransport()
    return LiteLLMTransport(api_base=config.llm.api_base, structured_output=config.llm.structured_output)


def user_price(config: Config) -> Price | None:
    """The price the user gave (recipe or --price-usd-per-1k-tokens), or None."""
    given = (config.llm.price_per_1k_input, config.llm.price_per_1k_output)
    if given == (None, None):
        return None
    if None in given:
        raise ConfigError("[llm] price_per_1k_input and price_per_1k_output go together: give both")
    return Price(*given)


def check_prices(config: Config, transport: Transport | None = None) -> None:
    """Refuse a USD budget when a model the session uses has no price (it would be charged $0)."""
    if config.budget.max_usd is None:
        return
    price = user_price(config)
    if price is not None:
        return
    transport = transport or build_transport(config)
    for model in sorted({model_name(config, role) for role in get_args(AgentRole)}):
        require_price(model, None, transport)


def build_gateway(config: Config, trace: Trace, conn: sqlite3.Connection, *, seed: int = 0,
                  transport: Transport | None = None) -> Gateway:
    """A gateway whose budget counts what this session already spent, calls lost at a kill included."""
    transport = transport or build_transport(config)
    check_prices(config, transport)
    budget = BudgetLedger(config.budget.max_calls, config.budget.max_tokens, config.budget.max_usd)
    budget.restore(conn)
    settings = GatewaySettings(
        concurrency=config.llm.concurrency, max_attempts=config.llm.max_attempts, timeout_s=config.llm.timeout_s,
        price=user_price(config),
    )
    cache = ResponseCache(conn, trace.clock, trace.redactor) if config.llm.cache else None
    return Gateway(transport=transport, trace=trace, cache=cache, budget=budget, settings=settings, rng=random.Random(seed))
