"""How far a run's training got: the loss plateau it may have sat on.

A run that starts on a plateau (the loss of a network that predicts the class prior) and
leaves it late has had fewer useful epochs than its schedule says; the seed study and the
results tables count those epochs rather than hide them in a mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PLATEAU_TOLERANCE = 0.01   # "within 1 % of its initial value"


def plateau_epochs(history: Sequence[Mapping[str, Any]]) -> int:
    """Epochs whose training loss stayed within 1 % of the first epoch's."""
    if not history:
        return 0
    first = float(history[0]["loss"])
    return sum(abs(float(epoch["loss"]) - first) <= PLATEAU_TOLERANCE * abs(first)
               for epoch in history)
