"""Builds a session's gateway from its config: transport, cache, budget, settings."""

from __future__ import annotations

import random
import sqlite3

from assay.budget import BudgetLedger
from assay.config import AgentRole, Config
from assay.llm import Gateway, GatewaySettings
from assay.llm_cache import ResponseCache
from assay.llm_transport import DRY_RUN_MODEL, LiteLLMTransport, Transport, resolve_model
from assay.trace import Trace


def model_name(config: Config, role: AgentRole | None = None) -> str:
    """The litellm model string for a role (the dry-run model when the session is a dry run)."""
    if config.dry_run:
        return DRY_RUN_MODEL
    chosen = config.models.for_role(role) if role else config.models.default
    return DRY_RUN_MODEL if chosen == DRY_RUN_MODEL else resolve_model(chosen)


def build_transport(config: Config) -> Transport:
    """The dry-run model, or litellm (which also serves the embedded local model)."""
    if config.dry_run or config.models.default == DRY_RUN_MODEL:
        from assay.dry_run import DryRunTransport

        return DryRunTransport()
    return LiteLLMTransport(api_base=config.llm.api_base, structured_output=config.llm.structured_output)


def build_gateway(config: Config, trace: Trace, conn: sqlite3.Connection, *, seed: int = 0,
                  transport: Transport | None = None) -> Gateway:
    """A gateway whose budget counts what this session already spent."""
    budget = BudgetLedger(config.budget.max_calls, config.budget.max_tokens, config.budget.max_usd)
    budget.restore(conn)
    settings = GatewaySettings(
        concurrency=config.llm.concurrency, max_attempts=config.llm.max_attempts, timeout_s=config.llm.timeout_s
    )
    cache = ResponseCache(conn, trace.clock, trace.redactor) if config.llm.cache else None
    return Gateway(transport=transport or build_transport(config), trace=trace, cache=cache, budget=budget,
                   settings=settings, rng=random.Random(seed))
