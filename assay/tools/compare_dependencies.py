"""Pairwise dependencies compared between two datasets (instruction length vs response length, score vs length).

Two sets can share every marginal and still pair them differently: long answers to short
questions in one, to long questions in the other. Each dependency is measured two ways:
- Spearman's rank correlation in each set, and their difference (robust to the long tails
  of text lengths);
- the Jensen-Shannon distance between the two joint distributions, binned on a grid of the
  pooled quantiles of each variable, which catches a change of shape a correlation misses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assay.tools.compare_marginals import js_distance, shared_edges

JOINT_BINS = 5  # per axis: 25 cells stay filled with a few hundred samples per set
MIN_PAIRS = 3


@dataclass(frozen=True)
class Dependency:
    """One dependency in both sets: the rank correlations, their gap and the joint distance."""

    name: str
    spearman_a: float | None  # None: fewer than MIN_PAIRS pairs, or one variable constant
    spearman_b: float | None
    difference: float | None  # spearman_b - spearman_a
    joint_js: float
    n_a: int
    n_b: int

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON."""
        return dict(self.__dict__)


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho, or None where it is undefined (too few pairs, a constant variable)."""
    from scipy.stats import spearmanr

    x_arr, y_arr = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x_arr) < MIN_PAIRS or np.ptp(x_arr) == 0 or np.ptp(y_arr) == 0:
        return None
    rho = float(spearmanr(x_arr, y_arr).statistic)
    return None if math.isnan(rho) else rho


def joint_js(xa: np.ndarray, ya: np.ndarray, xb: np.ndarray, yb: np.ndarray, bins: int = JOINT_BINS) -> float:
    """Jensen-Shannon distance of the two joint distributions on a shared quantile grid."""
    x_edges, y_edges = shared_edges(xa, xb, bins), shared_edges(ya, yb, bins)

    def cells(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        columns = len(y_edges) - 1
        ix = np.clip(np.searchsorted(x_edges, x, side="right") - 1, 0, len(x_edges) - 2)
        iy = np.clip(np.searchsorted(y_edges, y, side="right") - 1, 0, columns - 1)
        return np.bincount(ix * columns + iy, minlength=(len(x_edges) - 1) * columns)

    return js_distance(cells(xa, ya), cells(xb, yb))


def compare_dependency(name: str, xa: Sequence[float], ya: Sequence[float], xb: Sequence[float],
                       yb: Sequence[float]) -> Dependency:
    """Compare the dependency of y on x between set A (xa, ya) and set B (xb, yb)."""
    arrays = [np.asarray(v, dtype=np.float64) for v in (xa, ya, xb, yb)]
    if len(arrays[0]) != len(arrays[1]) or len(arrays[2]) != len(arrays[3]):
        raise ValueError(f"{name}: x and y differ in length")
    if not len(arrays[0]) or not len(arrays[2]):
        raise ValueError(f"{name}: both sets need pairs to compare")
    rho_a, rho_b = spearman(arrays[0], arrays[1]), spearman(arrays[2], arrays[3])
    return Dependency(name=name, spearman_a=rho_a, spearman_b=rho_b,
                      difference=None if rho_a is None or rho_b is None else rho_b - rho_a,
                      joint_js=joint_js(*arrays), n_a=len(arrays[0]), n_b=len(arrays[2]))
