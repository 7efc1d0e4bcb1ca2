"""The deliberate faults break exactly what they claim to, and nothing when off."""

import numpy as np

from common_data.data import faults
from common_data.data.datasets import load_for_run
from common_data.data.splits import make_split


def _synthetic():
    images = load_for_run("synthetic", image_size=32)
    return images, make_split(images, "session")


def test_no_fault_changes_nothing() -> None:
    images, split = _synthetic()
    same_images, same_split = faults.inject("none", images, split, seed=0)
    assert same_images is images and same_split is split
    assert not faults.augments_validation("none")
    assert faults.augments_validation("augment_val")


def test_shuffled_labels_touch_only_training_frames() -> None:
    images, split = _synthetic()
    broken, same_split = faults.inject("shuffle_labels", images, split, seed=0)
    assert same_split is split
    assert np.array_equal(broken.labels[split.val], images.labels[split.val])
    assert not np.array_equal(broken.labels[split.train], images.labels[split.train])
    assert np.array_equal(np.sort(broken.labels[split.train]),
                          np.sort(images.labels[split.train]))


def test_burst_leak_puts_validation_bursts_on_both_sides() -> None:
    images, split = _synthetic()
    _, leaky = faults.inject("burst_leak", images, split, seed=0)
    bursts = lambda idx: {images.records[int(i)].burst for i in idx}  # noqa: E731
    assert not bursts(split.train) & bursts(split.val)
    shared = bursts(leaky.train) & bursts(leaky.val)
    assert shared and len(leaky.train) + len(leaky.val) == len(split.train) + len(split.val)
    assert leaky.hash != split.hash
