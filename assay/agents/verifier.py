"""The claim verifier: each atomic claim judged supported, unsupported or unverifiable.

Claims (from the decomposer; `verify_sample` runs both steps) are checked against reference
passages when there are any, else against well-established knowledge; factuality =
supported / total. Passages can come from any retriever given as a query function
`(text, k) -> passages`; `chroma_query` makes one from a Chroma collection the user loaded
(for instance a reference corpus).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model, field_validator

from assay.agents.base import AgentContext, ask
from assay.core.records import Sample

Label = Literal["supported", "unsupported", "unverifiable"]
LABELS: tuple[Label, ...] = ("supported", "unsupported", "unverifiable")
# Longer lists are split: verdicts stay easy to align, and a constrained decoder's longest
# answer (8 reasons at the schema-only length hint, as in the judge) fits in 512 tokens.
MAX_CLAIMS_PER_CALL = 8
REASON_HINT_CHARS = 160
QueryFn = Callable[[str, int], list[str]]


class ClaimVerdict(BaseModel):
    """The verdict on one claim, with a short reason."""

    reason: str = Field(description="one sentence: what confirms, contradicts or fails to settle it",
                        json_schema_extra={"maxLength": REASON_HINT_CHARS})
    label: Label = Field(description="supported, unsupported or unverifiable")

    @field_validator("label", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower().replace(" ", "_").replace("not_supported", "unsupported") if isinstance(value, str) else value


class ClaimVerdicts(BaseModel):
    """One verdict per claim, in the order the claims were given."""

    verdicts: list[ClaimVerdict]


@functools.cache
def verdicts_type(n: int) -> type[ClaimVerdicts]:
    """The output model for exactly `n` claims (length enforced by schema and validation)."""
    return create_model("ClaimVerdicts", __base__=ClaimVerdicts,
                        verdicts=(list[ClaimVerdict], Field(min_length=n, max_length=n,
                                                            description="one verdict per claim, in order")))


@dataclass(frozen=True)
class ClaimCheck:
    """A claim and its verdict."""

    claim: str
    label: Label
    reason: str


@dataclass(frozen=True)
class Verification:
    """Per-claim verdicts and the factuality they give (None when failed or when there are no claims)."""

    checks: list[ClaimCheck] = field(default_factory=list)
    error: str | None = None
    call_ids: tuple[int, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether every claim got a verdict."""
        return self.error is None

    @property
    def factuality(self) -> float | None:
        """Supported claims / all claims."""
        if self.error is not None or not self.checks:
            return None
        return sum(c.label == "supported" for c in self.checks) / len(self.checks)

    @property
    def labels(self) -> list[Label]:
        """The labels, in claim order."""
        return [c.label for c in self.checks]

    def plus(self, spent: Any) -> Verification:
        """This verification with the calls, tokens and cost of `spent` (an LLMResult or Verification) added."""
        return replace(self, call_ids=self.call_ids + tuple(spent.call_ids),
                       prompt_tokens=self.prompt_tokens + spent.prompt_tokens,
                       completion_tokens=self.completion_tokens + spent.completion_tokens,
                       cost_usd=self.cost_usd + spent.cost_usd)


async def verify_claims(ctx: AgentContext, claims: list[str], *, context: str = "",
                        passages: list[str] | None = None, sample_ids: Sequence[str] = (),
                        query: QueryFn | None = None, k: int = 3) -> Verification:
    """Judge every claim; one call per `MAX_CLAIMS_PER_CALL` claims. Any failed call fails the whole.

    With `query`, each call also gets the top-`k` passages retrieved for its own claims.
    """
    claims = [c.strip() for c in claims if c.strip()]
    checks: list[ClaimCheck] = []
    spent = Verification()
    for start in range(0, len(claims), MAX_CLAIMS_PER_CALL):
        chunk = claims[start : start + MAX_CLAIMS_PER_CALL]
        retrieved = passages_for(chunk, query, k) if query is not None else []
        given = list(passages or []) + [p for p in retrieved if p not in (passages or [])]
        result = await ask(ctx, agent="verifier", prompt="verify_claims", output_type=verdicts_type(len(chunk)),
                           sample_ids=sample_ids, claims=chunk, context=context, passages=given)
        spent = spent.plus(result)
        if result.value is None:
            return replace(spent, error=result.error)
        checks += [ClaimCheck(claim, v.label, v.reason) for claim, v in zip(chunk, result.value.verdicts, strict=True)]
    return replace(spent, checks=checks)


async def verify_sample(decomposer_ctx: AgentContext, verifier_ctx: AgentContext, sample: Sample, *,
                        query: QueryFn | None = None, k: int = 3) -> Verification:
    """The sample's factuality: its response split into atomic claims (the decomposer), each verified.

    A response with no factual claims gets no factuality (None), not a perfect one.
    """
    from assay.agents.decomposer import extract_claims

    extracted = await extract_claims(decomposer_ctx, sample)
    spent = Verification().plus(extracted)
    if extracted.value is None:
        return replace(spent, error=f"claim extraction failed: {extracted.error}")
    verified = await verify_claims(verifier_ctx, list(extracted.value.claims), context=sample.instruction,
                                   sample_ids=[sample.id], query=query, k=k)
    return replace(verified.plus(spent), checks=verified.checks, error=verified.error)


def passages_for(claims: Iterable[str], query: QueryFn, k: int = 3) -> list[str]:
    """The top-`k` passages for each claim, pooled without repeats, in retrieval order."""
    pooled: list[str] = []
    for claim in claims:
        for passage in query(claim, k):
            if passage not in pooled:
                pooled.append(passage)
    return pooled


def chroma_query(collection: Any, embed: Callable[[list[str]], Any] | None = None) -> QueryFn:
    """A query function over a Chroma collection's documents.

    With `embed` (e.g. assay's bundled embedder's `encode`), queries are embedded here, which
    must match how the collection was built; without it the collection's own embedding
    function embeds them.
    """

    def query(text: str, k: int) -> list[str]:
        n = min(k, collection.count())
        if n <= 0:
            return []
        if embed is not None:
            found = collection.query(query_embeddings=[list(map(float, embed([text])[0]))], n_results=n,
                                     include=["documents"])
        else:
            found = collection.query(query_texts=[text], n_results=n, include=["documents"])
        return [doc for doc in found["documents"][0] if doc]

    return query
