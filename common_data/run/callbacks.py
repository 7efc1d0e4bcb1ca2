"""Keras 3's EarlyStopping and ReduceLROnPlateau, written once in NumPy so both twins stop and
decay the learning rate at the same epochs (the frameworks' own callbacks differ in detail).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


class Monitor:
    """The best value so far of val_loss (minimised) or val_accuracy (maximised). As in
    Keras with min_delta 0, only a strict improvement counts."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sign = -1.0 if name == "val_accuracy" else 1.0
        self.best = math.inf

    def improved(self, logs: Mapping[str, Any]) -> bool:
        value = self.sign * logs[self.name]
        if value < self.best:
            self.best = value
            return True
        return False


class EarlyStopping:
    """Keras 3 EarlyStopping (min_delta 0, no baseline, start_from_epoch 0)."""

    def __init__(self, monitor: str, patience: int) -> None:
        self.monitor = Monitor(monitor)
        self.patience = patience
        self.wait = 0

    def update(self, epoch: int, logs: Mapping[str, Any]) -> tuple[bool, bool]:
        """(improved, stop) after `epoch` (1-based). Keras counts the epoch before testing
        it and never stops after the first one."""
        self.wait += 1
        if self.monitor.improved(logs):
            self.wait = 0
            return True, False
        return False, self.wait >= self.patience and epoch > 1


class ReduceOnPlateau:
    """Keras 3 ReduceLROnPlateau with min_delta 0 and cooldown 0: after `patience` epochs
    without improvement multiply the rate by `factor`, never below `min_lr`."""

    def __init__(self, monitor: str, patience: int, factor: float, min_lr: float) -> None:
        self.monitor = Monitor(monitor)
        self.patience, self.factor, self.min_lr = patience, factor, min_lr
        self.wait = 0

    def update(self, logs: Mapping[str, Any], lr: float) -> float:
        """The rate for the next epoch."""
        if self.monitor.improved(logs):
            self.wait = 0
            return lr
        self.wait += 1
        # Keras compares against min_lr rounded to float32, the dtype it keeps the rate in.
        if self.wait >= self.patience and lr > float(np.float32(self.min_lr)):
            self.wait = 0
            return max(lr * self.factor, self.min_lr)
        return lr
