"""MIG: pick the samples that maximise information gain over a label graph.

Chen et al. 2025, "MIG: Automatic Data Selection for Instruction Tuning by Maximizing
Information Gain in Semantic Space". The information of a selection S over labels is
X_S = Σ_{x∈S} I_x (I from `label_graph.information_matrix`), its value is
E(S) = Σ_labels Φ(X_S[l]) with a concave, increasing Φ (default (x + a)^b, a = 1e-6,
b = 0.8), and the sampler adds, one at a time, the candidate with the largest gain.

Gain, as in the paper's sampler and the reference code (yichengchen24/xsample
`MIGSampler`): the first-order gain ∇E(X_S) · I_x = Σ_l Φ'(X_S[l]) · I_x[l]. That is why Φ
carries the offset a: Φ'(0) must be finite. `gain="exact"` uses E(S ∪ {x}) − E(S) instead.

Otherwise as the reference: label graph, column-normalised propagation, the full quality
score on every label (its documented command leaves `--norm` off; `split_quality` turns it
on), first maximum on ties. It differs in arithmetic only: float64 and sparse, not float32
and dense, so near-ties within float32 rounding may order differently.

Both gains only shrink as S grows (I ≥ 0; Φ' decreases; Φ is concave), so a gain computed
earlier is an upper bound on the gain now. Lazy greedy keeps candidates in a heap by those
stale bounds and re-evaluates only the top: it picks exactly what plain greedy picks (ties
to the lowest index) with a few evaluations per pick instead of N. A pick updates X only on
the labels the picked row reaches, and an evaluation touches only its own row.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from assay.tools.selection.base import Admission, _gather_positions

Gain = Literal["gradient", "exact"]
_FIRST = np.zeros(1, dtype=np.int64)  # reduceat over one whole segment


@dataclass(frozen=True)
class PowerPhi:
    """Φ(x) = (x + a)^b: concave and increasing for 0 < b < 1."""

    a: float = 1e-6
    b: float = 0.8

    def value(self, x: np.ndarray) -> np.ndarray:
        """Φ(x)."""
        return (x + self.a) ** self.b

    def slope(self, x: np.ndarray) -> np.ndarray:
        """Φ'(x) = b (x + a)^(b − 1)."""
        return self.b * (x + self.a) ** (self.b - 1.0)


@dataclass(frozen=True)
class ExpPhi:
    """Φ(x) = 1 − e^(−αx), the reference code's other choice."""

    alpha: float = 1.0

    def value(self, x: np.ndarray) -> np.ndarray:
        """Φ(x)."""
        return 1.0 - np.exp(-self.alpha * x)

    def slope(self, x: np.ndarray) -> np.ndarray:
        """Φ'(x) = α e^(−αx)."""
        return self.alpha * np.exp(-self.alpha * x)


Phi = PowerPhi | ExpPhi


@dataclass
class MigRun:
    """Picks in order, the gain each had when picked, and how many gains were evaluated."""

    indices: np.ndarray
    gains: np.ndarray
    evaluations: int


class GainState:
    """X_S and the per-label slope Φ'(X_S); gains of any rows at the current state.

    Every gain is computed by the same code (products summed with np.add.reduceat), so a
    row's gain does not depend on which other rows were evaluated with it: plain and lazy
    greedy see bit-identical values, and identical rows tie exactly.
    """

    def __init__(self, information: sp.csr_matrix, phi: Phi, gain: Gain) -> None:
        if gain not in ("gradient", "exact"):
            raise ValueError(f"gain must be 'gradient' or 'exact', got {gain!r}")
        matrix = sp.csr_matrix(information, dtype=np.float64)
        if matrix.nnz and matrix.data.min() < 0:
            raise ValueError("MIG needs non-negative information (quality scores ≥ 0)")
        matrix.sort_indices()
        self.data, self.indices, self.indptr = matrix.data, matrix.indices, matrix.indptr.astype(np.int64)
        self.phi, self.gain_kind = phi, gain
        self.totals = np.zeros(matrix.shape[1], dtype=np.float64)  # X_S
        self.slopes = np.asarray(phi.slope(self.totals), dtype=np.float64)

    def gains(self, rows: np.ndarray) -> np.ndarray:
        """Gains of these rows at the current state."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        result = np.zeros(len(rows), dtype=np.float64)
        filled = lengths > 0
        if not filled.any():
            return result
        positions = _gather_positions(starts[filled], lengths[filled])
        contributions = self._contributions(self.data[positions], self.indices[positions])
        offsets = np.zeros(int(filled.sum()), dtype=np.int64)
        np.cumsum(lengths[filled][:-1], out=offsets[1:])
        result[filled] = np.add.reduceat(contributions, offsets)
        return result

    def gain(self, row: int) -> float:
        """The gain of one row: `gains([row])[0]`, the same arithmetic with less overhead."""
        start, end = self.indptr[row], self.indptr[row + 1]
        if start == end:
            return 0.0
        contributions = self._contributions(self.data[start:end], self.indices[start:end])
        return float(np.add.reduceat(contributions, _FIRST)[0])

    def _contributions(self, values: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Per (row, label) entry: Φ'(X_l)·I (gradient) or Φ(X_l + I) − Φ(X_l) (exact)."""
        if self.gain_kind == "gradient":
            return values * self.slopes[labels]
        before = self.totals[labels]
        return self.phi.value(before + values) - self.phi.value(before)

    def add(self, row: int) -> None:
        """Add a row's information to X_S; only the labels it reaches change."""
        start, end = self.indptr[row], self.indptr[row + 1]
        labels = self.indices[start:end]
        self.totals[labels] += self.data[start:end]
        if self.gain_kind == "gradient":
            self.slopes[labels] = self.phi.slope(self.totals[labels])


def lazy_greedy(information: sp.csr_matrix, n: int, admission: Admission, *, phi: Phi = PowerPhi(),
                gain: Gain = "gradient") -> MigRun:
    """Lazy greedy: a heap of (−stale gain, index, when computed); re-evaluate the top only."""
    state = GainState(information, phi, gain)
    candidates = np.flatnonzero(admission.eligible)
    initial = state.gains(candidates)
    heap = list(zip((-initial).tolist(), candidates.tolist(), [0] * len(candidates), strict=True))
    heapq.heapify(heap)
    picked: list[int] = []
    picked_gains: list[float] = []
    evaluations = len(candidates)
    while len(picked) < n and heap:
        negative, i, stamp = heapq.heappop(heap)
        if admission.has_quotas and not admission.admits(i):
            continue  # quotas only fill up: it can never be admitted again
        if stamp != len(picked):
            current = state.gain(i)
            evaluations += 1
            if heap and (-current, i) > heap[0][:2]:
                heapq.heappush(heap, (-current, i, len(picked)))
                continue
            negative = -current
        picked.append(i)
        picked_gains.append(-negative)
        admission.take(i)
        state.add(i)
    return MigRun(np.asarray(picked, dtype=np.int64), np.asarray(picked_gains, dtype=np.float64), evaluations)


def plain_greedy(information: sp.csr_matrix, n: int, admission: Admission, *, phi: Phi = PowerPhi(),
                 gain: Gain = "gradient") -> MigRun:
    """Plain greedy: evaluate every remaining candidate at every step (a check on lazy greedy)."""
    state = GainState(information, phi, gain)
    remaining = np.flatnonzero(admission.eligible)
    picked: list[int] = []
    picked_gains: list[float] = []
    evaluations = 0
    while len(picked) < n and len(remaining):
        values = state.gains(remaining)
        evaluations += len(remaining)
        best = int(np.argmax(values))  # first maximum: the lowest index among ties
        i = int(remaining[best])
        remaining = np.delete(remaining, best)
        if admission.has_quotas and not admission.admits(i):
            continue
        picked.append(i)
        picked_gains.append(float(values[best]))
        admission.take(i)
        state.add(i)
    return MigRun(np.asarray(picked, dtype=np.int64), np.asarray(picked_gains, dtype=np.float64), evaluations)


def information_value(information: sp.csr_matrix, rows: np.ndarray, phi: Phi = PowerPhi()) -> float:
    """E(S) = Σ_l Φ(X_S[l]) for the selection `rows` (to compare selections)."""
    totals = np.asarray(sp.csr_matrix(information)[np.asarray(rows, dtype=np.int64)].sum(axis=0)).ravel()
    return float(np.sum(phi.value(totals)))
