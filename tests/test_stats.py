"""Statistics over seeds and between frameworks (SciPy), checked against published table
values, so the intervals and p-values in the report are the textbook ones."""

import math
from statistics import NormalDist

import numpy as np
import pytest

from benchmarks.stats import mcnemar, mean_ci, paired_t_test


@pytest.mark.parametrize(
    ("n", "t_975"),
    [(2, 12.706205), (3, 4.302653), (5, 2.776445), (10, 2.262157), (31, 2.042272)],
)
def test_mean_ci_half_width_is_the_tabled_t_quantile(n, t_975):
    values = np.linspace(0.0, 1.0, n)
    mean, std, low, high = mean_ci(values)
    assert (high - mean) == pytest.approx(t_975 * std / math.sqrt(n), rel=1e-6)
    assert (mean - low) == pytest.approx(high - mean, rel=1e-12)


def test_mean_ci_is_t_based_with_sample_std():
    mean, std, low, high = mean_ci([1, 2, 3, 4, 5])
    assert mean == 3.0
    assert std == pytest.approx(math.sqrt(2.5))
    half = 2.776445105 * math.sqrt(2.5) / math.sqrt(5)
    assert (low, high) == (pytest.approx(3 - half), pytest.approx(3 + half))
    _, _, low90, high90 = mean_ci([1, 2, 3, 4, 5], confidence=0.90)
    assert low < low90 < high90 < high


def test_mean_ci_of_one_value_has_no_spread():
    mean, std, low, high = mean_ci([0.8])
    assert mean == 0.8 and math.isnan(std) and math.isnan(low) and math.isnan(high)


def test_mean_ci_rejects_empty_and_nan():
    with pytest.raises(ValueError, match="non-empty"):
        mean_ci([])
    with pytest.raises(ValueError, match="NaN"):
        mean_ci([0.8, float("nan")])


def test_paired_t_test_reaches_alpha_at_the_critical_t():
    base = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    target_mean = 2.776445105 * base.std(ddof=1) / math.sqrt(5)  # t = t_{0.975, 4}
    b = np.array([0.7, 0.8, 0.75, 0.9, 0.85])
    a = b + base + target_mean
    assert paired_t_test(a, b) == pytest.approx(0.05, abs=1e-8)
    assert paired_t_test(b, a) == pytest.approx(0.05, abs=1e-8)


def test_paired_t_test_degenerate_cases():
    assert paired_t_test([0.8, 0.9], [0.8, 0.9]) == 1.0
    assert paired_t_test([0.9, 1.0], [0.8, 0.9]) == 0.0
    with pytest.raises(ValueError, match="same length"):
        paired_t_test([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2 pairs"):
        paired_t_test([1], [2])


def _disagreeing(b01, b10, agree=5):
    """b01 samples only B gets right, b10 only A gets right, then `agree` both get right."""
    y = np.zeros(b01 + b10 + agree, dtype=int)
    pred_a = np.array([1] * b01 + [0] * b10 + [0] * agree)
    pred_b = np.array([0] * b01 + [1] * b10 + [0] * agree)
    return y, pred_a, pred_b


def test_mcnemar_exact_for_few_discordant_pairs():
    result = mcnemar(*_disagreeing(10, 2))
    assert result["b01"] == 10 and result["b10"] == 2
    assert result["method"] == "exact_binomial"
    assert result["p_value"] == pytest.approx(0.03857421875, abs=1e-12)  # 2 * 79 / 4096
    assert mcnemar(*_disagreeing(2, 10))["p_value"] == result["p_value"]
    assert mcnemar(*_disagreeing(0, 0))["p_value"] == 1.0
    assert mcnemar(*_disagreeing(12, 12))["p_value"] == 1.0


def test_mcnemar_chi_square_with_continuity_correction_from_25_pairs():
    result = mcnemar(*_disagreeing(30, 15))
    assert result["method"] == "chi2_continuity"
    assert result["statistic"] == pytest.approx(196 / 45)
    # chi-square with 1 df is a squared standard normal.
    expected = 2 * (1 - NormalDist().cdf(math.sqrt(196 / 45)))
    assert result["p_value"] == pytest.approx(expected, rel=1e-9)
    assert result["p_value"] == pytest.approx(0.036888, abs=1e-6)


def test_mcnemar_requires_aligned_predictions():
    with pytest.raises(ValueError, match="one length"):
        mcnemar(np.zeros(3), np.zeros(3), np.zeros(2))
