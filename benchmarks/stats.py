"""Statistics over seeds and between frameworks, from SciPy.

Conventions:

* ``mean_ci`` uses the sample standard deviation (ddof=1) and Student's t quantile
  (``scipy.stats.t``); with one value the spread is unknown, so std and both bounds are NaN
  rather than a misleading zero-width interval. The t interval is symmetric and knows nothing
  of a quantity's range: three seeds of 81, 87 and 96 % give [67.9, 108.0]. An accuracy or any
  other proportion is therefore passed ``within=PROPORTION`` and its bounds are clipped to
  [0, 1], which is the part of the interval a reader can act on; a difference of two
  accuracies is not clipped.
* ``paired_t_test`` is ``scipy.stats.ttest_rel`` except at its two degenerate points, where
  SciPy says NaN: identical pairs give p = 1.0 (no evidence of a difference) and a constant
  non-zero difference gives p = 0.0, the limit of an infinite t.
* ``mcnemar`` counts ``b01`` = A wrong and B right, ``b10`` = A right and B wrong. Below
  25 discordant pairs it uses the exact two-sided binomial test (``scipy.stats.binomtest``),
  as the chi-square approximation is poor there; from 25 up, chi-square with continuity
  correction, ``(|b01 - b10| - 1)^2 / (b01 + b10)``, 1 df.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

EXACT_MCNEMAR_BELOW = 25
PROPORTION = (0.0, 1.0)  # the range of an accuracy, an F1 or a ROC AUC


def _finite_1d(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values; drop diverged runs first")
    return array


def mean_ci(
    values: Sequence[float] | np.ndarray, confidence: float = 0.95,
    within: tuple[float, float] | None = None,
) -> tuple[float, float, float, float]:
    """(mean, std, low, high): a two-sided t interval for the mean over seeds, its bounds
    clipped to `within` (the quantity's possible range) where one is given."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = _finite_1d(values, "values")
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, x.size - 1)) * std / math.sqrt(x.size)
    low, high = mean - half, mean + half
    if within is not None:
        low, high = max(low, within[0]), min(high, within[1])
    return mean, std, low, high


def seed_summary(values: list[float]) -> dict[str, object]:
    """Mean, spread and t interval over seeds of an accuracy, as a finding's JSON holds them;
    one seed has no spread (null)."""
    mean, std, low, high = mean_ci(values, within=PROPORTION)
    if len(values) < 2:
        return {"mean": mean, "std": None, "ci95": [None, None], "per_seed": values}
    return {"mean": mean, "std": std, "ci95": [low, high], "per_seed": values}


def paired_t_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Two-sided p-value of the paired t test on a - b (e.g. the same seeds per framework)."""
    x, y = _finite_1d(a, "a"), _finite_1d(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b must be paired (same length), got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError(f"a paired t test needs at least 2 pairs, got {x.size}")
    d = x - y
    if float(d.std(ddof=1)) == 0.0:
        return 1.0 if float(d.mean()) == 0.0 else 0.0
    return float(stats.ttest_rel(x, y).pvalue)


def mcnemar(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray
) -> dict[str, float | int | str]:
    """McNemar's test on two classifiers' predictions for the same samples."""
    y, pa, pb = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    if not y.ndim == 1 or y.shape != pa.shape or y.shape != pb.shape:
        raise ValueError(
            f"y_true, pred_a and pred_b must be 1-D of one length, "
            f"got {y.shape}, {pa.shape}, {pb.shape}"
        )
    right_a, right_b = pa == y, pb == y
    b01 = int(np.sum(~right_a & right_b))
    b10 = int(np.sum(right_a & ~right_b))
    n = b01 + b10
    if n < EXACT_MCNEMAR_BELOW:
        k = min(b01, b10)
        p_value = 1.0 if n == 0 else float(stats.binomtest(k, n, 0.5).pvalue)
        return {"b01": b01, "b10": b10, "statistic": float(k),
                "p_value": min(1.0, p_value), "method": "exact_binomial"}
    statistic = (abs(b01 - b10) - 1.0) ** 2 / n
    return {"b01": b01, "b10": b10, "statistic": statistic,
            "p_value": float(stats.chi2.sf(statistic, 1)), "method": "chi2_continuity"}
