"""The parity probe's fixed batch, and the training-mode half of a twin's probe (the inference
half is `common_data.run.entry.parity_main`, which calls this).

Batch norm computes a different function in training (batch statistics, running-statistic
updates) than in inference, and dropout applies masks, so the probe also trains a second copy
of the twin, built from the same shared weights, in training mode: each step with the shared
dropout masks of (seed, epoch 0, that step), so both twins and the reference drop the same
units. It records the logits of the first step (the training-mode forward from the initial
weights, which the float64 reference computes exactly), the running statistics after that
step (the reference computes those too) and after the last, and the loss before each step.

The training-mode steps use lr 1e-8 (TRAIN_MODE_LR), not the inference check's 1e-4. Adam's
first update moves every weight by about lr whatever its gradient's size, and batch norm on
the batch's statistics makes a fresh ResNet so steep that at 1e-4 one batch of 8 is memorised
in three steps (loss 3.15 -> 0.06 at 64 px) and the trajectory is chaotic: the torch twin in
float32 and in float64 already differ by 1.2 % at step 2 and 28 % at step 3, so no threshold
could tell the twins apart from rounding. At 1e-8 the loss descends smoothly (4.50 -> 3.97 in
ten steps at 32 px) and float32 vs float64 of one twin differ by at most 4.5e-4 relative.
"""

from __future__ import annotations

import numpy as np

from common_data.model.dropout import draw_masks, dropout_layers
from common_data.model.spec import Spec
from common_data.run.config import RunConfig
from common_data.run.twin import Twin

PARITY_BATCH = 8
PARITY_BATCH_SEED = 123
PARITY_LR = 1e-4  # the inference check's Adam steps; why not 1e-3: entry.parity_main
TRAIN_MODE_LR = 1e-8


def parity_batch(spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """The fixed probe batch: uniform images in [0, 1] and every class at least once."""
    rng = np.random.default_rng(PARITY_BATCH_SEED)
    x = rng.uniform(0.0, 1.0, size=(PARITY_BATCH, *spec.input_shape)).astype(np.float32)
    y = (np.arange(PARITY_BATCH) % spec.num_classes).astype(np.int64)
    return x, y


def running_names(spec: Spec) -> list[str]:
    """The spec's non-trainable tensors (batch-norm running statistics), in name order."""
    return sorted(p.name for p in spec.params() if not p.param.trainable)


def flat_state(state: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    """The named tensors as one float64 vector, in `names` order (empty if none)."""
    if not names:
        return np.zeros(0)
    return np.concatenate([np.asarray(state[n], np.float64).ravel() for n in names])


def train_mode_probe(
    twin: Twin, spec: Spec, weights: dict[str, np.ndarray], config: RunConfig,
    x: np.ndarray, y: np.ndarray, steps: int,
) -> dict[str, np.ndarray]:
    """Build `twin` fresh and take max(steps, 1) Adam steps at TRAIN_MODE_LR in training
    mode; the arrays go into the probe's NPZ under these names."""
    twin.build(spec, weights, config)
    twin.set_training(True)
    twin.set_lr(TRAIN_MODE_LR)
    layers, names = dropout_layers(spec), running_names(spec)
    losses, first_logits, first_running = [], np.zeros(0), np.zeros(0)
    for step in range(max(steps, 1)):
        loss, logits = twin.train_step(x, y, draw_masks(layers, config.seed, 0, step, len(y)))
        losses.append(loss)
        if step == 0:
            first_logits, first_running = logits, flat_state(twin.canonical_state(), names)
    return {
        "train_mode_logits": first_logits, "train_mode_losses": np.asarray(losses),
        "running_step1": first_running,
        "running_final": flat_state(twin.canonical_state(), names),
        "trainable_params": np.asarray(twin.trainable_params()),
        "train_mode_lr": np.asarray(TRAIN_MODE_LR),
    }
