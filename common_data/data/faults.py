"""Deliberately broken pipelines, so the finding's regression suite can prove it can fail.

A regression check that never fails guards nothing. Each fault breaks the pipeline the way
real bugs do, and `tests/test_finding_regression.py` shows each one trips the suite. The
`fault` run-config key defaults to "none"; records carry it in their config, so a faulted run
can never be mistaken for a real one.
"""

import dataclasses

import numpy as np

from common_data.data.cache import Images
from common_data.data.splits import Split, split_hash

FAULTS: tuple[str, ...] = ("none", "augment_val", "shuffle_labels", "burst_leak")


def augments_validation(fault: str) -> bool:
    """`augment_val`: augmentation leaks into the validation frames."""
    return fault == "augment_val"


def inject(fault: str, images: Images, split: Split, seed: int) -> tuple[Images, Split]:
    """Apply a data-side fault: shuffled training labels, or one burst on both sides."""
    if fault == "shuffle_labels":
        labels = images.labels.copy()
        rng = np.random.default_rng([seed, 0xFA17])
        labels[split.train] = rng.permutation(labels[split.train])
        return dataclasses.replace(images, labels=labels), split
    if fault == "burst_leak":
        return images, _leak_bursts(images, split)
    return images, split


def _leak_bursts(images: Images, split: Split) -> Split:
    """Move every other frame of each validation burst into training."""
    seen: dict[str, int] = {}
    moved = []
    for index in split.val:
        burst = images.records[int(index)].burst
        seen[burst] = seen.get(burst, 0) + 1
        if seen[burst] % 2 == 1:
            moved.append(int(index))
    train = np.sort(np.concatenate([split.train, np.array(moved, dtype=np.int64)]))
    val = np.setdiff1d(split.val, moved).astype(np.int64)
    return dataclasses.replace(split, train=train, val=val,
                               hash=split_hash(images, split.kind, train, val))
