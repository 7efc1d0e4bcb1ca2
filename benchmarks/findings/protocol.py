"""The published training protocol, read from its one statement: `profiles/paper.toml`.

The report's protocol notes, the finding's early-stopping schedule and the wording
"published setting" all depend on what the published study did; reading it from the paper
profile (the matrix that re-runs it) keeps one statement of it, so the words cannot drift
from the runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from benchmarks.matrix.cells import load_matrix_profile


@dataclass(frozen=True)
class PublishedProtocol:
    image_size: int
    batch_size: int
    lr: float
    baseline_epochs: int
    augmented_epochs: int
    augmented_schedule: dict[str, Any]   # early_stopping and reduce_on_plateau tables
    seeds: int                           # the published ensemble's model count
    threads: int                         # how the paper matrix runs it (not the study's)
    dropout: str
    framework: dict[str, Any]            # each twin's tuned modes

    def describe(self) -> str:
        return (f"{self.image_size}x{self.image_size}, batch {self.batch_size}, Adam {self.lr:g}, "
                f"baseline {self.baseline_epochs} epochs, augmented <= {self.augmented_epochs} "
                f"with early stopping and reduce-on-plateau")

    def departures(self, image_size: int, baseline_epochs: int | None,
                   augmented_epochs: int | None = None,
                   early_stopping: bool | None = None) -> list[str]:
        """How a protocol differs from this one, in words (empty: it is the published one)."""
        out = []
        if image_size != self.image_size:
            out.append(f"input {image_size}x{image_size} instead of "
                       f"{self.image_size}x{self.image_size}")
        if baseline_epochs is not None and baseline_epochs != self.baseline_epochs:
            out.append(f"baseline trained {baseline_epochs} epochs instead of "
                       f"{self.baseline_epochs}")
        if augmented_epochs is not None and augmented_epochs != self.augmented_epochs:
            out.append(f"augmented trained {augmented_epochs} epochs instead of up to "
                       f"{self.augmented_epochs}")
        if early_stopping is False:
            out.append("no early stopping or reduce-on-plateau for the augmented variant")
        return out


@cache
def published_protocol() -> PublishedProtocol:
    paper = load_matrix_profile("paper")
    augmented = paper["variant"]["augmented"]
    return PublishedProtocol(
        image_size=paper["run"]["image_size"],
        batch_size=paper["run"]["batch_size"],
        lr=paper["run"]["optimizer"]["lr"],
        baseline_epochs=paper["run"]["epochs"],
        augmented_epochs=augmented["epochs"],
        augmented_schedule={k: augmented[k] for k in ("early_stopping", "reduce_on_plateau")},
        seeds=len(paper["seeds"]),
        threads=paper["run"]["threads"],
        dropout=paper["run"]["dropout"],
        framework=paper.get("framework", {}),
    )
