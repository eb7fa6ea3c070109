"""Marginal distributions of two datasets, one feature at a time: how far apart, and a plot's data.

A numeric feature (length in tokens or words, turns, a judge score) gets two distances:
- Jensen-Shannon distance (base 2, in [0, 1]) between histograms on shared bins. The bins are
  quantiles of the two sets pooled, so a skewed length distribution still fills every bin.
- Wasserstein-1 (earth mover's) distance divided by the pooled standard deviation, so it reads
  in standard deviations whatever the unit (a shift of half an SD is 0.5).
A categorical feature (language, cluster) gets the Jensen-Shannon distance between its shares.
Identical multisets, in any order, give exactly 0 on every distance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_BINS = 20


@dataclass(frozen=True)
class Marginal:
    """One feature compared: its distances, summary statistics and the histogram to plot."""

    name: str
    kind: str  # "numeric" | "categorical"
    js: float
    wasserstein: float | None = None  # numeric only: in pooled standard deviations
    mean_a: float | None = None
    mean_b: float | None = None
    median_a: float | None = None
    median_b: float | None = None
    labels: list[str] = field(default_factory=list)  # bin or category names, in plot order
    shares_a: list[float] = field(default_factory=list)
    shares_b: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON."""
        return dict(self.__dict__)


def js_distance(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
    """Jensen-Shannon distance (square root of the divergence, base 2) of two count or share vectors."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("Jensen-Shannon distance needs two non-empty distributions")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        inside = x > 0
        return float((x[inside] * np.log2(x[inside] / m[inside])).sum())

    # max(): rounding can leave a tiny negative divergence for identical inputs
    return float(np.sqrt(max(0.0, (kl(p) + kl(q)) / 2)))


def shared_edges(a: np.ndarray, b: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Bin edges at the pooled quantiles (repeated edges merged), so every bin holds data."""
    pooled = np.concatenate([a, b])
    edges = np.unique(np.quantile(pooled, np.linspace(0, 1, bins + 1)))
    if len(edges) == 1:  # one value throughout: one bin around it
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges


def binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin; the last bin includes its right edge, values outside are clipped into the end bins."""
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(index, minlength=len(edges) - 1)


def wasserstein_sd(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance between the two samples in units of their pooled standard deviation."""
    from scipy.stats import wasserstein_distance

    spread = float(np.concatenate([a, b]).std())
    if spread == 0:
        return 0.0
    return float(wasserstein_distance(a, b)) / spread


def compare_numeric(name: str, a: Sequence[float], b: Sequence[float], bins: int = DEFAULT_BINS) -> Marginal:
    """Distances and histograms of a numeric feature in two sets (each must hold a value)."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if not len(x) or not len(y):
        raise ValueError(f"{name}: both sets need values to compare")
    edges = shared_edges(x, y, bins)
    counts_a, counts_b = binned(x, edges), binned(y, edges)
    return Marginal(
        name=name, kind="numeric", js=js_distance(counts_a, counts_b), wasserstein=wasserstein_sd(x, y),
        mean_a=float(x.mean()), mean_b=float(y.mean()), median_a=float(np.median(x)), median_b=float(np.median(y)),
        labels=[_edge_label(lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)],
        shares_a=(counts_a / len(x)).tolist(), shares_b=(counts_b / len(y)).tolist())


def compare_categorical(name: str, a: Sequence[Hashable], b: Sequence[Hashable], top: int = 12) -> Marginal:
    """Jensen-Shannon distance of the category shares; the plot keeps the `top` commonest, the rest as "other"."""
    counts_a, counts_b = Counter(a), Counter(b)
    if not counts_a or not counts_b:
        raise ValueError(f"{name}: both sets need values to compare")
    categories = sorted(counts_a.keys() | counts_b.keys(), key=lambda c: (-(counts_a[c] + counts_b[c]), str(c)))
    js = js_distance([counts_a[c] for c in categories], [counts_b[c] for c in categories])
    shown, rest = categories[:top], categories[top:]
    shares_a = [counts_a[c] / len(a) for c in shown]
    shares_b = [counts_b[c] / len(b) for c in shown]
    labels = [str(c) for c in shown]
    if rest:
        labels.append("other")
        shares_a.append(sum(counts_a[c] for c in rest) / len(a))
        shares_b.append(sum(counts_b[c] for c in rest) / len(b))
    return Marginal(name=name, kind="categorical", js=js, labels=labels, shares_a=shares_a, shares_b=shares_b)


def _edge_label(lo: float, hi: float) -> str:
    def fmt(v: float) -> str:
        return f"{v:g}" if float(v).is_integer() else f"{v:.2f}"

    return f"{fmt(lo)}–{fmt(hi)}"
