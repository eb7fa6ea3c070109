"""`assay judge --verify`: where reference passages come from, and how verifications are written and summed up."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.core.config import Config
from assay.core.errors import AssayError


@dataclass(frozen=True)
class VerifyOptions:
    """--verify: where reference passages come from (a Chroma folder or server URL), and how many per claim."""

    references: str | None = None
    collection: str | None = None
    k: int = 3


def reference_query(options: VerifyOptions, config: Config, env: Mapping[str, str]) -> Any:
    """A query function over the user's reference collection (a Chroma folder or server URL).

    Queries are embedded with assay's embedder (all-MiniLM-L6-v2 by default, the same model
    as Chroma's default), so the collection must have been built with that model.
    """
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings

    from assay.agents.verifier import chroma_query
    from assay.session.embeddings import embedder_for
    from assay.session.store import chroma_client

    target = str(options.references)
    if target.startswith(("http://", "https://")):
        client = chroma_client(Path("."), target)
    elif Path(target).is_dir():
        client = chromadb.PersistentClient(path=target, settings=Settings(anonymized_telemetry=False))
    else:
        raise AssayError(f"{target}: not a Chroma folder (nor an http(s) URL of a Chroma server)")
    names = sorted(c if isinstance(c, str) else c.name for c in client.list_collections())
    name = options.collection or (names[0] if len(names) == 1 else None)
    if name not in names:
        raise AssayError(f"{target}: pick a collection with --collection: {', '.join(names) or 'it holds none'}")
    embedder = embedder_for(config.store, env)  # claims repeat across runs: the shared cache answers them
    return chroma_query(client.get_collection(name, embedding_function=None), embed=embedder.encode)


def verification_json(verified: Any, stopped: str | None) -> dict[str, Any]:
    """A sample's `_assay.verify`: its factuality and labelled claims, or why it was not verified."""
    if verified is None:
        return {"factuality": None, "claims": [], "error": f"not verified: {stopped}"}
    return {"factuality": verified.factuality, "error": verified.error,
            "claims": [{"claim": c.claim, "label": c.label, "reason": c.reason} for c in verified.checks]}


def verify_summary(verifications: Sequence[Any]) -> dict[str, Any]:
    """Counts over every verification: verified, without claims, failed, mean factuality, claims by label."""
    done = [v for v in verifications if v.ok]
    return {"verified": sum(v.factuality is not None for v in done), "no_claims": sum(not v.checks for v in done),
            "failed": len(verifications) - len(done), "mean_factuality": _mean([v.factuality for v in done if v.checks]),
            "labels": dict(Counter(c.label for v in done for c in v.checks))}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
