"""How the reports write a number: one place, so PERFORMANCE.md and the GPU rows of
COMPARISON.md read the same ('n/a' for what was not measured)."""

from __future__ import annotations


def num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage."""
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def pp(value: float | None) -> str:
    """A difference of fractions in percentage points, signed."""
    return "n/a" if value is None else f"{100 * value:+.1f} pp"
