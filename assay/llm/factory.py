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
    """The dry-run model, or litellm (which also serves the embedded local model), called from this
    process or, with `[llm] engine = "ray"`, from Ray actors (the dry-run and embedded models stay here)."""
    if config.dry_run or config.models.default == DRY_RUN_MODEL:
        from assay.llm.dry_run import DryRunTransport

        return DryRunTransport()
    if config.llm.engine == "ray":
        from assay.llm.ray_transport import RayTransport, TransportSettings

        actors = config.llm.ray_actors
        return RayTransport(TransportSettings(config.llm.api_base, config.llm.structured_output), actors=actors,
                            max_concurrency=-(-config.llm.concurrency // actors), address=config.llm.ray_address)
    return LiteLLMTransport(api_base=config.llm.api_base, structured_output=config.llm.structured_output)


def check_engine(config: Config) -> None:
    """With `engine = "ray"`: Ray is installed and this process joins the cluster (or starts a local Ray) now,
    before any work, so a missing extra or a wrong address is one line (ConfigError) and nothing is left behind."""
    if config.llm.engine != "ray" or config.dry_run or config.models.default == DRY_RUN_MODEL:
        return
    from assay.llm.ray_transport import connect, import_ray

    ray = import_ray()
    if not ray.is_initialized():
        connect(ray, config.llm.ray_address)


def stays_local(config: Config) -> str | None:
    """Why `engine = "ray"` sends some or all of this config's calls from this process anyway, or None."""
    if config.llm.engine != "ray":
        return None
    if config.dry_run or config.models.default == DRY_RUN_MODEL:
        return "the dry-run model answers in this process, not on Ray actors"
    from assay.llm.local_model import LOCAL_MODEL_NAME

    local = sorted({role for role in get_args(AgentRole) if model_name(config, role) == LOCAL_MODEL_NAME})
    if local:
        return f"the embedded local model ({', '.join(local)}) runs in this process, not on Ray actors"
    return None


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
