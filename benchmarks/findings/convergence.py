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


IMPROVING_WINDOW = 3       # the last epochs looked at
IMPROVING_GAIN = 0.01      # validation accuracy (absolute), or validation loss (relative)
RULE = (f"a run is *still improving at the last epoch* when its best validation accuracy of "
        f"the last {IMPROVING_WINDOW} epochs beats every earlier epoch's by at least "
        f"{100 * IMPROVING_GAIN:.0f} pp, or its lowest validation loss of those epochs is at "
        f"least {100 * IMPROVING_GAIN:.0f} % under every earlier epoch's; *plateau epochs* are "
        f"the epochs whose training loss stayed within {100 * PLATEAU_TOLERANCE:.0f} % of the "
        "first epoch's")


def still_improving(history: Sequence[Mapping[str, Any]]) -> bool:
    """Whether validation accuracy or loss was still moving the right way at the end: such a
    run had not converged, and a verdict that rests on it compares unfinished models."""
    if len(history) <= IMPROVING_WINDOW:
        return True  # too short to have levelled off
    last, earlier = history[-IMPROVING_WINDOW:], history[:-IMPROVING_WINDOW]
    accuracy_gain = (max(float(e["val_accuracy"]) for e in last)
                     - max(float(e["val_accuracy"]) for e in earlier))
    best_earlier_loss = min(float(e["val_loss"]) for e in earlier)
    loss_drop = best_earlier_loss - min(float(e["val_loss"]) for e in last)
    return (accuracy_gain >= IMPROVING_GAIN
            or loss_drop >= IMPROVING_GAIN * abs(best_earlier_loss))
