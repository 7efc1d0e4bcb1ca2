"""How the reports write a number: one place, so PERFORMANCE.md and the GPU rows of
COMPARISON.md read the same ('n/a' for what was not measured)."""

from __future__ import annotations

import math


def num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage."""
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def pp(value: float | None) -> str:
    """A difference of fractions in percentage points, signed."""
    return "n/a" if value is None else f"{100 * value:+.1f} pp"


def percent(value: float | None, digits: int = 2) -> str:
    """A fraction as a bare percentage for COMPARISON.md's table cells (the column heading
    carries the %); a missing or NaN metric (no ROC AUC for a class never predicted) is n/a."""
    return "n/a" if value is None or math.isnan(value) else f"{100 * value:.{digits}f}"
