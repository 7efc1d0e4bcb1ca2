"""Convergence, stated: which runs were still improving at their last epoch, and how long a
run sat on the loss plateau (benchmarks/findings/convergence.py), as the report's tables show
them."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.findings.convergence import plateau_epochs, still_improving


def _history(val_accuracy: list[float], val_loss: list[float] | None = None,
             loss: list[float] | None = None) -> list[dict[str, Any]]:
    n = len(val_accuracy)
    val_loss = val_loss or [1.0] * n
    loss = loss or [1.6 - 0.05 * i for i in range(n)]
    return [{"epoch": i + 1, "val_accuracy": a, "val_loss": v, "loss": t}
            for i, (a, v, t) in enumerate(zip(val_accuracy, val_loss, loss, strict=True))]


@pytest.mark.parametrize(("accuracy", "val_loss", "expected"), [
    ([0.2, 0.4, 0.5, 0.6, 0.7, 0.8], None, True),                 # accuracy still climbing
    ([0.2, 0.6, 0.8, 0.8, 0.805, 0.79], None, False),             # levelled off (< 1 pp)
    ([0.2, 0.6, 0.8, 0.81, 0.82, 0.811], None, True),             # +2 pp in the last three
    ([0.2, 0.6, 0.8, 0.8, 0.8, 0.8], [1.0, 0.8, 0.7, 0.69, 0.68, 0.6], True),  # loss falling
    ([0.2, 0.6, 0.8, 0.8, 0.8, 0.8], [1.0, 0.8, 0.7, 0.75, 0.8, 0.9], False),  # overfitting
    ([0.2, 0.3], None, True),                                     # too short to have levelled
])
def test_a_run_is_still_improving_when_its_last_epochs_beat_every_earlier_one(
        accuracy: list[float], val_loss: list[float] | None, expected: bool) -> None:
    assert still_improving(_history(accuracy, val_loss)) is expected


def test_plateau_epochs_count_the_epochs_whose_training_loss_stayed_within_one_percent() -> None:
    loss = [1.609, 1.605, 1.600, 1.59, 1.40, 1.0]   # 1.593 is the 1 % bound
    assert plateau_epochs(_history([0.2] * 6, loss=loss)) == 3
    assert plateau_epochs([]) == 0


@pytest.mark.cross_env   # the report needs the harness env's matplotlib
def test_the_results_table_flags_runs_still_improving_and_counts_plateau_epochs() -> None:
    import copy
    import json
    from pathlib import Path

    from benchmarks.matrix.records import group_rows
    from benchmarks.report.render import results_table

    runs = Path(__file__).resolve().parent.parent / "results" / "runs"
    template = json.loads((runs / "torch-baseline-random-full-128px-s0-e9f7ddde30.json")
                          .read_text())
    finished = copy.deepcopy(template)
    finished["history"] = _history([0.2, 0.6, 0.8, 0.8, 0.8, 0.8],
                                   loss=[1.6, 1.6, 1.6, 1.0, 0.8, 0.7])
    rising = copy.deepcopy(template)
    rising["config"]["seed"] = 1
    rising["history"] = _history([0.2, 0.4, 0.5, 0.6, 0.7, 0.8])
    (row,) = group_rows([finished, rising])
    header, _, line = results_table([row])
    cells = dict(zip(header.strip("| ").split(" | "), line.strip("| ").split(" | "),
                     strict=True))
    assert cells["still improving"] == "**1 of 2**"
    assert cells["plateau epochs"] == "3"   # the most of any run in the row
