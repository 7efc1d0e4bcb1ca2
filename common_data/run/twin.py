"""The `Twin` contract: the framework half of a run, and all a twin supplies.

A framework comparison is only fair if everything but the framework is the same code (the
MLCommons AlgoPerf pattern): which bytes are read, how they are split and augmented, the
epoch loop, early stopping and the learning-rate schedule, what is timed and how, and how
metrics are computed all live in `common_data`. A twin (`pytorch_impl.twin`, `tf_impl.twin`)
implements only these hooks: build, one synchronised train step, predict, learning rate,
state, memory.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from common_data.model.dropout import Masks
from common_data.model.spec import Spec
from common_data.run.config import RunConfig


class Twin(ABC):
    """The framework half of a run. Every array crossing this boundary is NumPy: images NHWC
    float32 in [0, 1], labels int64, weights and shapes in the canonical Keras layout."""

    framework: ClassVar[str]

    @abstractmethod
    def build(self, spec: Spec, weights: Mapping[str, np.ndarray], config: RunConfig) -> None:
        """Set threads, precision, device and seeds before the first framework op, build the
        network from the spec, load the shared weights and create Adam from the config."""

    @abstractmethod
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter as the framework holds it, renamed and reshaped to the canonical
        '<layer>.kernel' / '<layer>.bias' layout (batch-norm running statistics included),
        so it can be checked against the spec."""

    @abstractmethod
    def trainable_params(self) -> int:
        """How many parameter values the optimizer updates."""

    @abstractmethod
    def train_step(
        self, x: np.ndarray, y: np.ndarray, masks: Masks | None = None
    ) -> tuple[float, np.ndarray]:
        """One Adam step on the mean softmax cross-entropy; returns the loss and the batch's
        logits (training mode), and only once the device has finished the update. With
        `masks` (common_data.model.dropout, canonical layout) each dropout layer multiplies by its
        mask; without, the framework draws its own. Ignored while `set_training(False)`."""

    @abstractmethod
    def predict_logits(self, x: np.ndarray, masks: Masks | None = None) -> np.ndarray:
        """Logits without an update: inference mode (no dropout), whatever `set_training`
        says, or, given `masks`, the forward pass with exactly those dropout masks (parity
        checks a twin's use of the shared masks this way)."""

    @abstractmethod
    def set_lr(self, lr: float) -> None:
        """The learning rate for the following steps (the schedule lives in the protocol)."""

    @abstractmethod
    def set_training(self, training: bool) -> None:
        """Whether `train_step` applies dropout; parity switches it off."""

    @abstractmethod
    def canonical_state(self) -> dict[str, np.ndarray]:
        """Every tensor the network holds (weights and batch-norm running statistics) by
        canonical name, in the canonical layout, as float32 NumPy: parity compares the
        running statistics with the reference's this way."""

    @abstractmethod
    def get_state(self) -> Any:
        """An in-memory copy of the weights, for restore-best."""

    @abstractmethod
    def set_state(self, state: Any) -> None:
        """Put back weights taken by `get_state`."""

    @abstractmethod
    def save_weights(self, folder: Path) -> Path:
        """Write the weights in the framework's own safe format; returns the file."""

    @abstractmethod
    def environment(self) -> dict[str, Any]:
        """framework_version, gpu (name or None), device ('cpu' or the GPU name) and the
        threads {intra_op, inter_op} the framework actually uses."""

    @abstractmethod
    def device_peak_memory_mb(self) -> float | None:
        """Peak device memory of the run, None on CPU."""
