"""The soak eval's provider: an OpenAI-wire server that answers the agents' schemas and injects faults.

It wraps `assay.testing.openai_server.OpenAIWireServer` (by composition: its `default` reply
function). 30 % of requests get a fault: 429 with Retry-After, 500/503, an answer slower
than the client's timeout, malformed JSON, JSON that violates the schema, or (rarely) a
401/400 whose body echoes the planted API key, as some providers do. Whether a request gets
a fault, and which, is a function of (request key, attempt number for that key), so two
runs see the same faults; the answer itself depends on the request key only, so a retried
request gets the same answer. Every request is logged with its key and whether it was paid.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from assay.llm.dry_run import narrowed, value_type
from assay.testing.openai_server import OpenAIWireServer, Reply

SCHEMA_MARKER = "valid against this JSON Schema:\n"
# Body fields that change how a request travels, not what it asks: not in the key.
NOT_IN_KEY = {"stream", "stream_options", "timeout", "user", "extra_headers"}
# (fault, share of all requests); the shares add up to the 30 % fault rate.
FAULTS = (("429", 0.07), ("500", 0.045), ("503", 0.045), ("slow", 0.04), ("malformed", 0.04),
          ("schema", 0.04), ("echo401", 0.01), ("echo400", 0.01))
PAID_FAULTS = (None, "malformed", "schema")  # a 200: the provider charges for it
WORDS = ("the answer explains each step clearly and gives a short worked example that a reader can check "
         "against the instruction while keeping the tone plain direct and accurate for a general audience").split()


@dataclass(frozen=True)
class Pricing:
    """Fixed usage per paid answer, so each paid call costs the same known amount."""

    prompt_tokens: int = 2000
    completion_tokens: int = 500


def request_key(body: Any) -> str:
    """The cache-relevant key of a request body: everything that shapes the answer."""
    shaping = {k: v for k, v in body.items() if k not in NOT_IN_KEY} if isinstance(body, dict) else body
    canonical = json.dumps(shaping, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def fault_for(seed: int, key: str, attempt: int, rate_scale: float = 1.0) -> str | None:
    """The fault for this key's `attempt`-th request (1-based), or None: deterministic."""
    digest = hashlib.sha256(f"{seed}:{key}:{attempt}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for name, share in FAULTS:
        edge += share * rate_scale
        if u < edge:
            return name
    return None


def schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a request asks for: from response_format, else from the gateway's instruction."""
    rf = body.get("response_format") or {}
    if isinstance(rf, dict) and isinstance(rf.get("json_schema"), dict) and "schema" in rf["json_schema"]:
        return rf["json_schema"]["schema"]
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str) and SCHEMA_MARKER in content:
            start = content.index(SCHEMA_MARKER) + len(SCHEMA_MARKER)
            return json.JSONDecoder().raw_decode(content, start)[0]
    return None


def instance(schema: dict[str, Any], rng: random.Random, defs: dict[str, Any]) -> Any:
    """A value valid against a pydantic-style JSON schema, chosen with `rng`."""
    if "$ref" in schema:
        return instance(defs[schema["$ref"].rsplit("/", 1)[-1]], rng, defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    inner = narrowed(schema, defs, rng.choice)
    if inner is not None:
        return instance(inner, rng, defs)
    kind = value_type(schema)
    if kind == "object":
        props = schema.get("properties", {})
        return {name: instance(sub, rng, defs) for name, sub in props.items()}
    if kind == "array":
        low = schema.get("minItems", 0)
        high = max(low, min(schema.get("maxItems", low + 2), low + 2))
        size = low if rng.random() < 0.6 else rng.randint(low, high)  # most verdicts list no issue
        return [instance(schema.get("items", {"type": "string"}), rng, defs) for _ in range(size)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 10))
        value = low + (high - low) * rng.random() ** 0.4  # skewed high, like real judges: few samples need repair
        return min(int(high), round(value)) if kind == "integer" else round(value, 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 24))).capitalize() + "."
    text = text.ljust(schema.get("minLength", 0), ".")
    return text[: schema["maxLength"]] if "maxLength" in schema else text


def violate(value: Any) -> Any:
    """Valid JSON of the wrong shape: every field gets a value of another type."""
    if isinstance(value, dict) and value:
        return {k: ("not an object" if isinstance(v, dict) else {"unexpected": [v]}) for k, v in value.items()}
    return {"unexpected": value}


class FaultyProvider:
    """The local provider; `log` holds one dict per chat request, in arrival order.

    `force` replaces the seeded faults by these, in turn, on every request (the echo-only
    server of the secret check); `fault_scale` scales the fault rate (0: no faults).
    """

    def __init__(self, *, seed: int, planted_key: str, timeout_s: float, pricing: Pricing = Pricing(),
                 fault_scale: float = 1.0, force: tuple[str, ...] = ()) -> None:
        self.seed, self.planted_key, self.timeout_s, self.force = seed, planted_key, timeout_s, force
        self.pricing, self.fault_scale = pricing, fault_scale
        self.log: list[dict[str, Any]] = []
        self._faults: dict[str, int] = {}  # unpaid faults so far, per key
        self._paid: dict[str, str | None] = {}  # the paid answer's fault (None: a good answer), per key
        self._lock = threading.Lock()
        self.server = OpenAIWireServer(default=self._reply)

    def __enter__(self) -> FaultyProvider:
        self.server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        """The api_base to give the client."""
        return self.server.base_url

    def _reply(self, body: Any) -> Reply:
        key = request_key(body)
        with self._lock:
            # The attempt number counts the faults this key has had: a kill that loses an answer
            # in flight does not shift the key's fault sequence, so killed and uninterrupted
            # runs see the same faults; once a key has succeeded, it keeps succeeding.
            attempt = self._faults.get(key, 0) + 1
            fault = self.force[len(self.log) % len(self.force)] if self.force else fault_for(
                self.seed, key, attempt, self.fault_scale)
            if key in self._paid:  # a paid answer is final, malformed or not, as from a seeded model
                fault = self._paid[key]
            elif fault in PAID_FAULTS:
                self._paid[key] = fault
            else:
                self._faults[key] = attempt
            self.log.append({"key": key, "attempt": attempt, "fault": fault, "t": time.monotonic(),
                             "paid": fault in PAID_FAULTS})
        rng = random.Random(key)  # the answer depends on the request only, never on the attempt
        schema = schema_of(body) if isinstance(body, dict) else None
        value = instance(schema, rng, schema.get("$defs", {})) if schema else None
        text = json.dumps(value, ensure_ascii=False) if schema else "A plain answer."
        usage = {"prompt_tokens": self.pricing.prompt_tokens, "completion_tokens": self.pricing.completion_tokens}
        delay = 0.02 + rng.random() * 0.2  # calls overlap, so a kill finds some in flight
        if fault in ("429", "500", "503"):
            return Reply.error(int(fault), retry_after=1 if fault == "429" else None, delay_s=delay)
        if fault == "slow":
            return Reply.hang(self.timeout_s + 1.5, content=text, **usage)
        if fault == "echo401":  # masked, the way api.openai.com echoes a key
            masked = f"{self.planted_key[:6]}{'*' * 20}{self.planted_key[-4:]}"
            return Reply.error(401, message=f"Incorrect API key provided: {masked}. See your account settings.")
        if fault == "echo400":
            return Reply.error(400, message=f"Invalid request from key {self.planted_key}: quota group not found.")
        if fault == "malformed":
            text = text[: max(1, len(text) // 2)]
        elif fault == "schema":
            text = json.dumps(violate(value))
        return Reply.text(text, delay_s=delay, **usage)

    def key_sent(self) -> bool:
        """Whether the client sent the planted key (so an echo of it was possible at all)."""
        return any(self.planted_key in r.headers.get("Authorization", "") for r in self.server.requests)

    def repeated_paid(self) -> tuple[list[tuple[float, float]], int]:
        """(each request that arrived again after a paid answer for the same key, as the times of
        that paid answer and of the repeat; the number of paid requests)."""
        paid_at: dict[str, float] = {}
        repeats: list[tuple[float, float]] = []
        paid = 0
        for entry in self.log:
            if entry["key"] in paid_at:
                repeats.append((paid_at[entry["key"]], entry["t"]))
            if entry["paid"]:
                paid += 1
                paid_at.setdefault(entry["key"], entry["t"])
        return repeats, paid
