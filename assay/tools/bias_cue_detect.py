"""Bias-cue detection: which surface cues of a response are associated with the outcome beyond
cluster and length (the detection half of RAZOR-style cue repair).

For each candidate cue (`tools/bias_cue_candidates.py`) the statistic is the stratum-weighted
difference of mean outcome between responses with and without the cue, with Cochran-Mantel-
Haenszel-style weights n1*n0/n per stratum. Strata are cluster x length quintile, so a cue that
only marks long answers, or one topic, has no effect of its own; the length cue itself is
stratified by cluster only. Its p-value comes from a seeded permutation test that shuffles the
outcome within strata (the same as shuffling cue presence within strata, and one shuffle serves
every cue at once). Multiple testing over all candidates is controlled by Westfall-Young
single-step max-T (family-wise error): each cue's statistic is standardised by its permutation
standard deviation, and its adjusted p-value is the share of permutations whose largest |T| over
all candidates reaches its own. The length cue is shuffled within clusters in the same draws,
independently of the others, which makes the max slightly conservative.

What this finds is a cue *associated with the outcome beyond cluster and length*, not proof that
the judge is biased: the cue may still stand for content the strata do not capture. Pure
functions over arrays, deterministic under a seed; LLM-free; imports core only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assay.core.bias_cue import Cue
from assay.tools.bias_cue_candidates import Candidate, candidates

METHOD = "westfall-young max-T"
KIND_ORDER = {"opener": 0, "closer": 0, "phrase": 0, "format": 1, "length": 2}
BLOCK = 200  # permutations per matrix product: bounds memory at n * BLOCK floats


@dataclass(frozen=True)
class CueTest:
    """One candidate's result. `effect` is in outcome units (with the cue minus without)."""

    cue: Cue
    effect: float
    p: float
    adjusted_p: float
    prevalence: float
    n: int
    carriers: int
    t: float = 0.0  # |effect| over its permutation standard deviation (what max-T compares)


@dataclass(frozen=True)
class Detection:
    """All tested candidates, smallest adjusted p first (then largest standardised |effect|)."""

    tests: list[CueTest]
    n: int
    permutations: int
    seed: int
    method: str = METHOD

    def significant(self, alpha: float) -> list[CueTest]:
        """The cues whose adjusted p-value is within `alpha`."""
        return [t for t in self.tests if t.adjusted_p <= alpha]


def length_quintiles(words: np.ndarray) -> np.ndarray:
    """Each response's length quintile (0..4) by words; ties share a quintile."""
    edges = np.quantile(words, [0.2, 0.4, 0.6, 0.8])
    return np.searchsorted(edges, words, side="right")


def _labels(values: Sequence[object] | np.ndarray) -> np.ndarray:
    """Dense integer labels for any hashable labels (cluster ids, strata pairs)."""
    array = np.asarray(values)
    if array.ndim == 1:  # labels of any type (None, str, int): compared as text
        array = np.asarray([str(v) for v in array.tolist()])
        return np.unique(array, return_inverse=True)[1].reshape(-1)
    return np.unique(array, return_inverse=True, axis=0)[1].reshape(-1)


def _centred(y: np.ndarray, strata: np.ndarray) -> np.ndarray:
    means = np.bincount(strata, weights=y) / np.maximum(np.bincount(strata), 1)
    return y - means[strata]


def _weights(x: np.ndarray, strata: np.ndarray) -> np.ndarray:
    """Sum over strata of n1*n0/n per cue (rows of x)."""
    sizes = np.bincount(strata).astype(float)
    n1 = np.stack([np.bincount(strata, weights=row, minlength=sizes.size) for row in x]) if len(x) else np.zeros((0, sizes.size))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sizes > 0, n1 * (sizes - n1) / sizes, 0.0).sum(axis=1)


def _shuffled(yc: np.ndarray, strata: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` copies of yc (columns), each shuffled within strata."""
    order = np.argsort(strata, kind="stable")
    keys = strata[:, None] + rng.random((strata.size, count))  # sorts by stratum, randomly within
    out = np.empty((strata.size, count), dtype=np.float64)
    out[order] = yc[np.argsort(keys, axis=0, kind="stable")]
    return out


def associate(presence: np.ndarray, outcome: np.ndarray, strata: np.ndarray, *, permutations: int = 1000,
              seed: int = 0, length_row: int | None = None, clusters: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Effects, raw p-values, max-T adjusted p-values and standardised |T| of each row of `presence` (cues x responses).

    `strata` are the integer strata of the lexical and format cues; the row `length_row`, if any, is
    tested within `clusters` instead. A cue with no stratum holding both carriers and non-carriers
    has effect nan and p-values 1."""
    x = presence.astype(np.float64)
    y = outcome.astype(np.float64)
    k = x.shape[0]
    groups = [(np.array([r for r in range(k) if r != length_row], dtype=np.int64), strata)]
    if length_row is not None:
        groups.append((np.array([length_row]), clusters if clusters is not None else np.zeros_like(strata)))
    effect, perm = np.full(k, np.nan), np.zeros((k, permutations))
    rng = np.random.default_rng(seed)
    for rows, s in groups:
        if rows.size == 0:
            continue
        yc, w = _centred(y, s), _weights(x[rows], s)
        with np.errstate(divide="ignore", invalid="ignore"):
            effect[rows] = np.where(w > 0, x[rows] @ yc / w, np.nan)
        # One generator stream per group, so adding or removing the length cue changes nothing else.
        group_rng = np.random.default_rng(rng.integers(2**63))
        for start in range(0, permutations, BLOCK):
            count = min(BLOCK, permutations - start)
            with np.errstate(divide="ignore", invalid="ignore"):
                perm[rows, start:start + count] = (x[rows] @ _shuffled(yc, s, count, group_rng)) / w[:, None]
    testable = np.isfinite(effect)
    perm[~testable] = 0.0
    obs = np.abs(np.where(testable, effect, 0.0))
    p = (1 + (np.abs(perm) >= obs[:, None] - 1e-12).sum(axis=1)) / (1 + permutations)
    sd = perm.std(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_obs = np.where(sd > 0, obs / sd, 0.0)
        t_perm = np.where(sd[:, None] > 0, np.abs(perm) / sd[:, None], 0.0)
    max_t = t_perm.max(axis=0) if k else np.zeros(permutations)
    adjusted = (1 + (max_t[None, :] >= t_obs[:, None] - 1e-12).sum(axis=1)) / (1 + permutations)
    p[~testable] = adjusted[~testable] = 1.0
    return effect, p, adjusted, t_obs


def detect(texts: Sequence[str], outcome: Sequence[float] | np.ndarray, clusters: Sequence[object] | None = None, *,
           min_share: float = 0.01, min_count: int = 20, permutations: int = 1000, seed: int = 0,
           found: list[Candidate] | None = None) -> Detection:
    """Test every candidate cue of `texts` against `outcome` (one number per text: a score, or 1/0),
    controlled for `clusters` (one label per text; None = one cluster) and length quintile."""
    n = len(texts)
    y = np.asarray(outcome, dtype=np.float64)
    if y.shape != (n,) or not np.all(np.isfinite(y)):
        raise ValueError(f"need one finite outcome per response ({n}), got shape {y.shape}")
    cluster = _labels(list(clusters)) if clusters is not None else np.zeros(n, dtype=np.int64)
    if cluster.shape != (n,):
        raise ValueError(f"need one cluster per response ({n}), got {cluster.shape}")
    cands = candidates(texts, min_share=min_share, min_count=min_count, seed=seed) if found is None else found
    if not cands:
        return Detection([], n, permutations, seed)
    words = np.asarray([len(t.split()) for t in texts])
    strata = _labels(np.stack([cluster, length_quintiles(words)], axis=1))
    presence = np.zeros((len(cands), n), dtype=bool)
    for row, c in enumerate(cands):
        presence[row, c.carriers] = True
    length_rows = [r for r, c in enumerate(cands) if c.cue.kind == "length"]
    effect, p, adjusted, t = associate(presence, y, strata, permutations=permutations, seed=seed,
                                    length_row=length_rows[0] if length_rows else None, clusters=cluster)
    tests = [CueTest(c.cue, float(effect[r]) if np.isfinite(effect[r]) else 0.0, float(p[r]), float(adjusted[r]),
                     c.support / n, n, c.support, float(t[r])) for r, c in enumerate(cands)]
    # Ties in adjusted p (common at its floor 1/(permutations+1)) go to the stronger statistic, then
    # to a word cue over a format or length cue carried by the same responses (it names more).
    tests.sort(key=lambda c: (c.adjusted_p, -c.t, KIND_ORDER[c.cue.kind], c.cue.key()))
    return Detection(tests, n, permutations, seed)
