"""Statistics over seeds and between frameworks, without SciPy.

The harness env must not need SciPy only to turn a few numbers into intervals, so the
Student t distribution is computed exactly here from the regularised incomplete beta
function (continued fraction, as in Numerical Recipes 6.4): for t >= 0,
``P(T > t) = I_x(df/2, 1/2) / 2`` with ``x = df / (df + t^2)``. Quantiles are found by
bisection on that tail, which stays accurate far into it.

Conventions:

* ``mean_ci`` uses the sample standard deviation (ddof=1); with one value the spread is
  unknown, so std and both bounds are NaN rather than a misleading zero-width interval.
* ``mcnemar`` counts ``b01`` = A wrong and B right, ``b10`` = A right and B wrong. Below
  25 discordant pairs it uses the exact two-sided binomial test (p = 2 P(X <= min)), as
  the chi-square approximation is poor there; from 25 up, chi-square with continuity
  correction, ``(|b01 - b10| - 1)^2 / (b01 + b10)``, 1 df.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EXACT_MCNEMAR_BELOW = 25


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta (modified Lentz)."""
    tiny, eps = 1e-300, 1e-16
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        for num in (m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
                    -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) for a, b > 0 and x in [0, 1]."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _t_tail(t: float, df: float) -> float:
    """P(T > |t|), computed directly so small p-values keep their digits."""
    return 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))


def t_cdf(t: float, df: float) -> float:
    """Student t cumulative distribution function."""
    if df <= 0:
        raise ValueError(f"df must be > 0, got {df}")
    tail = _t_tail(t, df)
    return 1.0 - tail if t > 0 else tail


def t_ppf(q: float, df: float) -> float:
    """Student t quantile (inverse CDF) by bisection on the tail probability."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q}")
    if df <= 0:
        raise ValueError(f"df must be > 0, got {df}")
    if q == 0.5:
        return 0.0
    tail = 1.0 - q if q > 0.5 else q
    lo, hi = 0.0, 1.0
    while _t_tail(hi, df) > tail:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _t_tail(mid, df) > tail:
            lo = mid
        else:
            hi = mid
    t = 0.5 * (lo + hi)
    return t if q > 0.5 else -t


def _finite_1d(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values; drop diverged runs first")
    return array


def mean_ci(
    values: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float, float]:
    """(mean, std, low, high): a two-sided t interval for the mean over seeds."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = _finite_1d(values, "values")
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan, math.nan
    std = float(x.std(ddof=1))
    half = t_ppf(0.5 + confidence / 2.0, x.size - 1) * std / math.sqrt(x.size)
    return mean, std, mean - half, mean + half


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_boot: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """(low, high) percentile-bootstrap interval for the mean.

    Seeded so a report regenerates identically; with a handful of seeds it is narrower
    than the t interval and is reported beside it, not instead of it.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1, got {n_boot!r}")
    x = _finite_1d(values, "values")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def paired_t_test(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Two-sided p-value of the paired t test on a - b (e.g. the same seeds per framework).

    Identical pairs give p = 1.0 (no evidence of a difference; SciPy would say NaN) and a
    constant non-zero difference gives p = 0.0, the limit of an infinite t.
    """
    x, y = _finite_1d(a, "a"), _finite_1d(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a and b must be paired (same length), got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError(f"a paired t test needs at least 2 pairs, got {x.size}")
    d = x - y
    mean, std = float(d.mean()), float(d.std(ddof=1))
    if std == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    t = mean / (std / math.sqrt(d.size))
    return min(1.0, 2.0 * _t_tail(t, d.size - 1))


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
        cdf = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
        return {"b01": b01, "b10": b10, "statistic": float(k),
                "p_value": min(1.0, 2.0 * cdf), "method": "exact_binomial"}
    statistic = (abs(b01 - b10) - 1.0) ** 2 / n
    return {"b01": b01, "b10": b10, "statistic": statistic,
            "p_value": math.erfc(math.sqrt(statistic / 2.0)), "method": "chi2_continuity"}
