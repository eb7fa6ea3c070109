"""A cheap quality model: predicts the judge's overall score from embeddings and tool scores.

Trained on the LLM judge's verdicts for a sample of the pool, it scores the rest and says how
sure it is, so only the doubtful samples cost an LLM call (`assay run --judge-sample K`).

Features, built over every sample of the pass at once (no labels involved, so nothing leaks):
the stored embedding reduced by PCA to a few components (at most one per two verdicts; scaled so
the first has unit variance, the others keep their relative scale), and each numeric tool
score (signed log1p, because counts such as response_words are heavy-tailed; missing → the
column mean; constant columns dropped), standardised. `judge_*` scores are never features.

Model: ridge regression on the overall score, its strength chosen by leave-one-out. Its
uncertainty for one sample is sigma = sqrt(spread² + cv_rmse²): `spread` is the standard
deviation of the predictions of ridge models fitted on bootstrap resamples (large for samples
unlike the training set), `cv_rmse` the cross-validated error every prediction carries anyway.

With a quality floor, a logistic model of "verdict >= floor" is fitted beside it (see
`QualityModel`); the chance that the LLM's verdict lies on the other side of the floor from
the predicted score is read from it, or, without enough verdicts on both sides to fit it,
taken as Phi(-|prediction - floor| / sigma).

Routing (`route`): a prediction is doubtful when its spread exceeds `max_spread`, or when that
wrong-side chance exceeds `max_wrong_side`. Doubt = the larger of the two
ratios to their limits; doubtful samples go to the LLM, most doubtful first, as long as the
pass's LLM calls (sampled ones included) stay within `max_llm_share` of its samples; the
rest keep the classifier's verdict with its (low) confidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

EXCLUDED_PREFIXES = ("judge_",)  # the targets themselves, never features


@dataclass(frozen=True)
class QualityModelSettings:
    """How the classifier is built and when its prediction is trusted."""

    min_verdicts: int = 8  # LLM verdicts needed to train at all
    embedding_components: int = 32  # at most; and at most one per `verdicts_per_component` verdicts
    verdicts_per_component: int = 2
    bootstrap: int = 25
    cv_folds: int = 5
    alphas: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
    max_spread: float = 0.5  # points on the 1–5 scale
    max_wrong_side: float = 0.1  # chance of the wrong side of the quality floor
    max_llm_share: float = 0.3  # of the pass's samples, sampled ones included
    min_per_side: int = 3  # verdicts needed on each side of the floor for the floor classifier
    floor_cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)

    def components_for(self, verdicts: int) -> int:
        """Embedding components to use with this many training verdicts."""
        return min(self.embedding_components, verdicts // self.verdicts_per_component)


@dataclass(frozen=True)
class Features:
    """The feature matrix of a pass (one row per sample) and what its columns are."""

    matrix: np.ndarray
    components: int
    score_names: tuple[str, ...]

    def describe(self) -> str:
        """The columns in words, for rationales and the trace."""
        scores = ", ".join(self.score_names) or "none"
        return f"{self.components} embedding components + scores ({scores})"


def build_features(vectors: np.ndarray, scores: Sequence[Mapping[str, float]], *,
                   components: int = 32, seed: int = 0) -> Features:
    """Features for samples given their embeddings (rows) and their scores (same order)."""
    from sklearn.decomposition import PCA

    n = len(scores)
    parts = []
    k = min(components, n - 1, vectors.shape[1]) if n > 1 else 0
    if k > 0:
        reduced = PCA(n_components=k, svd_solver="covariance_eigh", random_state=seed).fit_transform(vectors)
        # Not whitened: the leading components keep their larger scale, so ridge shrinks the
        # minor (noisier) ones harder; whitening them all to unit variance overfit on few verdicts.
        parts.append((reduced - reduced.mean(axis=0)) / max(float(reduced[:, 0].std()), 1e-9))
    names = sorted({name for s in scores for name in s if not name.startswith(EXCLUDED_PREFIXES)})
    table = np.array([[s.get(name, np.nan) for name in names] for s in scores], dtype=np.float64).reshape(n, len(names))
    table = np.sign(table) * np.log1p(np.abs(table))
    means = np.nanmean(table, axis=0) if n else np.zeros(len(names))
    table = np.where(np.isnan(table), means, table)
    varying = [i for i in range(len(names)) if np.std(table[:, i]) > 1e-9]
    if varying:
        parts.append(_standardise(table[:, varying]))
    matrix = np.hstack(parts) if parts else np.zeros((n, 0))
    return Features(matrix, k, tuple(names[i] for i in varying))


def _standardise(columns: np.ndarray) -> np.ndarray:
    std = columns.std(axis=0)
    return (columns - columns.mean(axis=0)) / np.where(std > 1e-9, std, 1.0)


@dataclass(frozen=True)
class Predictions:
    """Predicted overall scores (clipped to 1–5) and their uncertainty, one per row."""

    overall: np.ndarray
    spread: np.ndarray
    sigma: np.ndarray
    above: np.ndarray | None = None  # P(verdict >= floor), from the floor classifier when there is one

    def wrong_side(self, floor: float | None) -> np.ndarray:
        """Chance that the verdict lies on the other side of the floor from the predicted score."""
        if floor is None:
            return np.zeros(len(self.overall))
        if self.above is not None:
            return np.where(self.overall >= floor, 1.0 - self.above, self.above)
        from scipy.special import erfc

        return 0.5 * erfc(np.abs(self.overall - floor) / (np.maximum(self.sigma, 1e-9) * math.sqrt(2)))

    def confidence(self, floor: float | None) -> np.ndarray:
        """With a floor: the chance the prediction is on the right side of it; else the chance it is within a point."""
        if floor is not None:
            return 1.0 - self.wrong_side(floor)
        from scipy.special import erf

        return erf(1.0 / (np.maximum(self.sigma, 1e-9) * math.sqrt(2)))


@dataclass
class QualityModel:
    """A ridge model on the overall score with a bootstrap ensemble for its spread.

    Given a quality floor (and `min_per_side` verdicts on each side of it), a logistic model of
    "verdict >= floor" is fitted beside it: when good (or bad) samples are rare, the regression
    pulls them toward the mean, and a Gaussian around it says too confidently that they are on
    the common side; the logistic model's probability says how likely the rare side is.
    """

    alpha: float
    coef: np.ndarray
    intercept: float
    ensemble: list[tuple[np.ndarray, float]]
    n: int
    cv_mae: float
    cv_rmse: float
    mean_mae: float  # the same folds, predicting the training mean: the bar to beat
    mean_rmse: float
    floor_model: tuple[np.ndarray, float] | None = None

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, *, floor: float | None = None,
            settings: QualityModelSettings = QualityModelSettings(), seed: int = 0) -> QualityModel:
        """Fit on LLM verdicts (rows of x, overall scores y); deterministic for a seed."""
        from sklearn.linear_model import Ridge, RidgeCV
        from sklearn.model_selection import KFold

        y = np.asarray(y, dtype=np.float64)
        alpha = float(RidgeCV(alphas=settings.alphas).fit(x, y).alpha_)
        full = Ridge(alpha=alpha).fit(x, y)
        folds = KFold(min(settings.cv_folds, len(y)), shuffle=True, random_state=seed)
        predicted, baseline = np.empty_like(y), np.empty_like(y)
        for train, test in folds.split(x):
            inner = float(RidgeCV(alphas=settings.alphas).fit(x[train], y[train]).alpha_)
            predicted[test] = Ridge(alpha=inner).fit(x[train], y[train]).predict(x[test])
            baseline[test] = y[train].mean()
        predicted = np.clip(predicted, 1, 5)
        rng = np.random.default_rng(seed)
        ensemble = []
        for _ in range(settings.bootstrap):
            rows = rng.integers(0, len(y), len(y))
            member = Ridge(alpha=alpha).fit(x[rows], y[rows])
            ensemble.append((member.coef_.copy(), float(member.intercept_)))
        return cls(alpha, full.coef_.copy(), float(full.intercept_), ensemble, len(y),
                   float(np.mean(np.abs(predicted - y))), float(np.sqrt(np.mean((predicted - y) ** 2))),
                   float(np.mean(np.abs(baseline - y))), float(np.sqrt(np.mean((baseline - y) ** 2))),
                   _fit_floor_model(x, y, floor, settings, seed))

    def predict(self, x: np.ndarray) -> Predictions:
        """Predictions with their spread, total uncertainty and (with a floor model) P(>= floor)."""
        overall = np.clip(x @ self.coef + self.intercept, 1, 5)
        members = np.array([x @ coef + intercept for coef, intercept in self.ensemble]).reshape(len(self.ensemble), len(x))
        spread = members.std(axis=0) if len(self.ensemble) > 1 else np.zeros(len(x))
        above = None
        if self.floor_model is not None:
            coef, intercept = self.floor_model
            above = 1.0 / (1.0 + np.exp(-(x @ coef + intercept)))
        return Predictions(overall, spread, np.sqrt(spread**2 + self.cv_rmse**2), above)

    @property
    def beats_mean(self) -> bool:
        """Whether it predicts held-out verdicts better than their mean does (else it has no signal)."""
        return self.cv_rmse < self.mean_rmse

    def fit_summary(self) -> dict[str, float | bool]:
        """Fit quality for the trace."""
        return {"trained_on": self.n, "alpha": self.alpha, "cv_mae": round(self.cv_mae, 3),
                "cv_rmse": round(self.cv_rmse, 3), "mean_mae": round(self.mean_mae, 3),
                "mean_rmse": round(self.mean_rmse, 3), "floor_classifier": self.floor_model is not None}


def _fit_floor_model(x: np.ndarray, y: np.ndarray, floor: float | None, settings: QualityModelSettings,
                     seed: int) -> tuple[np.ndarray, float] | None:
    """Logistic regression of verdict >= floor, its strength chosen by cross-validated log loss."""
    if floor is None:
        return None
    above = y >= floor
    smaller_side = int(min(above.sum(), (~above).sum()))
    if smaller_side < settings.min_per_side:
        return None
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(min(settings.cv_folds, smaller_side), shuffle=True, random_state=seed).split(x, above))

    def held_out_loss(c: float) -> float:
        probabilities = np.empty(len(above))
        for train, test in folds:
            fitted = LogisticRegression(C=c, max_iter=1000).fit(x[train], above[train])
            probabilities[test] = fitted.predict_proba(x[test])[:, 1]
        return float(log_loss(above, probabilities, labels=[False, True]))

    best = min(settings.floor_cs, key=held_out_loss)
    model = LogisticRegression(C=best, max_iter=1000).fit(x, above)
    return model.coef_[0].copy(), float(model.intercept_[0])


@dataclass(frozen=True)
class Routing:
    """Row indices of the predicted samples: those sent to the LLM, and those the classifier keeps."""

    to_llm: list[int]
    by_classifier: list[int]
    doubt: list[float]
    over_cap: int  # doubtful samples the cap left with the classifier


def route(predictions: Predictions, *, floor: float | None, llm_slots: int,
          settings: QualityModelSettings = QualityModelSettings()) -> Routing:
    """Send doubtful predictions to the LLM, most doubtful first, at most `llm_slots` of them."""
    doubt = np.maximum(predictions.spread / settings.max_spread, predictions.wrong_side(floor) / settings.max_wrong_side)
    doubtful = sorted((i for i, d in enumerate(doubt) if d > 1.0), key=lambda i: (-doubt[i], i))
    chosen = set(doubtful[: max(0, llm_slots)])
    return Routing(sorted(chosen), [i for i in range(len(doubt)) if i not in chosen], [float(d) for d in doubt],
                   len(doubtful) - len(chosen))
