"""Cluster membership for samples that arrive after the pool was clustered."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from assay.core.records import Sample


def nearest_clusters(session: Any, samples: Sequence[Sample]) -> dict[str, int]:
    """Each sample's nearest cluster centroid (the mean of the cluster's stored members).

    New samples join the clusters found at screening instead of re-clustering the pool, so
    cluster ids stay stable across rounds and coverage is comparable from round to round.
    """
    if not samples:
        return {}
    members: dict[int, list[str]] = defaultdict(list)
    for row in session.conn.execute("SELECT id, tags FROM samples WHERE tags LIKE '%\"cluster\"%'"):
        for label in json.loads(row["tags"]).get("cluster", []):
            members[int(label)].append(row["id"])
    if not members:
        return {}
    store = session.store
    labels = sorted(members)
    centroids = np.stack([store.vectors(members[c]).mean(axis=0) for c in labels])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    store.add(list(samples))
    vectors = store.vectors([s.id for s in samples])
    nearest = np.argmax(vectors @ centroids.T, axis=1)
    return {s.id: labels[int(k)] for s, k in zip(samples, nearest, strict=True)}
