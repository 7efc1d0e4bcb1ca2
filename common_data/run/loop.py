"""The epoch loop, written once for both twins: batches in, Keras-equivalent callbacks,
validation after every epoch, restore-best, and one progress line per epoch for the harness.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import numpy as np

from common_data.data.batches import iterate_batches
from common_data.data.cache import Images
from common_data.data.prefetch import prefetch
from common_data.data.splits import Split
from common_data.model.dropout import DropoutLayer, Masks, with_masks
from common_data.model.reference import softmax_cross_entropy
from common_data.regimes import VARIANTS
from common_data.run.callbacks import EarlyStopping, ReduceOnPlateau
from common_data.run.config import RunConfig
from common_data.run.inputs import validation_batches
from common_data.run.timing import Timing, timed_steps
from common_data.run.twin import Twin
from common_data.wire import PROGRESS_PREFIX


@dataclass
class Fit:
    """What training produced: every epoch's logs, the epoch it diverged at (None if it did
    not) and the validation logits the metrics are computed from (the best epoch's under
    restore_best)."""

    history: list[dict[str, Any]]
    diverged_at: int | None
    val_logits: np.ndarray | None


def train(
    twin: Twin, config: RunConfig, images: Images, split: Split, timing: Timing,
    dropouts: list[DropoutLayer],
) -> Fit:
    """The epoch loop, with Keras' EarlyStopping, ReduceLROnPlateau and TerminateOnNaN
    semantics implemented here once, so both twins stop and decay at the same epochs. As in
    Keras 3, restore_best puts the best epoch's weights back at the end even when training
    ran to the last epoch."""
    es, rop = config.early_stopping, config.reduce_on_plateau
    stopper = EarlyStopping(es.monitor, es.patience) if es.enabled else None
    plateau = None
    if rop.enabled:
        plateau = ReduceOnPlateau(rop.monitor, rop.patience, rop.factor, rop.min_lr)
    best: tuple[Any, np.ndarray] | None = None
    lr = config.optimizer.lr
    y_val = images.labels[split.val]
    history: list[dict[str, Any]] = []
    val_logits = None
    for epoch in range(1, config.epochs + 1):
        started = perf_counter()
        twin.set_lr(lr)
        loss, accuracy = train_epoch(twin, config, images, split.train, epoch, timing, dropouts)
        logs: dict[str, Any] = {"epoch": epoch, "loss": loss, "accuracy": accuracy,
                                "val_loss": None, "val_accuracy": None, "lr": lr}
        if loss is not None:
            val_logits = predict(twin, images, split.val, config, timing)
            val_loss = softmax_cross_entropy(val_logits, y_val)
            if math.isfinite(val_loss):
                logs["val_loss"] = val_loss
                logs["val_accuracy"] = float(np.mean(np.argmax(val_logits, axis=1) == y_val))
        logs["seconds"] = perf_counter() - started
        history.append(logs)
        report_progress(logs, config.epochs)
        if logs["val_loss"] is None:
            return Fit(history, epoch, None)
        if plateau is not None:
            lr = plateau.update(logs, lr)
        if stopper is not None:
            improved, stop = stopper.update(epoch, logs)
            if improved and es.restore_best:
                best = (twin.get_state(), val_logits)
            if stop:
                break
    if best is not None:
        twin.set_state(best[0])
        val_logits = best[1]
    return Fit(history, None, val_logits)


def train_epoch(
    twin: Twin, config: RunConfig, images: Images, indices: np.ndarray, epoch: int,
    timing: Timing, dropouts: list[DropoutLayer],
) -> tuple[float | None, float | None]:
    """(mean loss, accuracy) over the epoch's samples, or (None, None) at the first
    non-finite loss: the run has diverged and further steps would only spread NaN. The next
    batch is prepared in a background thread while the current one trains (same bytes, same
    order), so augmentation does not show up as data wait."""
    batches = prefetch(training_batches(config, images, indices, epoch, dropouts))
    started = perf_counter()
    loss_sum, correct, seen = 0.0, 0, 0
    try:
        for (x, y, _), (loss, logits), waited, seconds in timed_steps(
            batches, lambda batch: twin.train_step(*batch)
        ):
            timing.add_step(x.shape, seconds, waited)
            if not math.isfinite(loss):
                return None, None
            loss_sum += loss * len(y)
            correct += int(np.sum(np.argmax(logits, axis=1) == y))
            seen += len(y)
    finally:
        batches.close()
        timing.train_s += perf_counter() - started
    return loss_sum / seen, correct / seen


def training_batches(
    config: RunConfig, images: Images, indices: np.ndarray, epoch: int,
    dropouts: list[DropoutLayer],
) -> Iterator[tuple[np.ndarray, np.ndarray, Masks | None]]:
    """The epoch's (x, y, masks): masks are the shared dropout masks of the spec's
    `dropouts` when the config asks for them, None when each framework draws its own."""
    batches = iterate_batches(
        images.images, images.labels, indices, batch_size=config.batch_size, seed=config.seed,
        epoch=epoch - 1, shuffle=True, augment=VARIANTS[config.variant].augment,
    )
    if config.dropout == "framework":
        return ((x, y, None) for x, y in batches)
    return with_masks(batches, dropouts, config.seed, epoch - 1)


def predict(
    twin: Twin, images: Images, indices: np.ndarray, config: RunConfig, timing: Timing
) -> np.ndarray:
    """Logits (float64) for `indices` in order; validation is never shuffled or augmented
    (unless the `augment_val` fault is injected on purpose)."""
    started = perf_counter()
    parts = [twin.predict_logits(x) for x, _ in validation_batches(images, indices, config)]
    timing.eval_s += perf_counter() - started
    return np.concatenate(parts).astype(np.float64)


def report_progress(entry: Mapping[str, Any], epochs: int) -> None:
    """One JSON line per epoch on stderr; the harness turns these into a live line with ETA."""
    keys = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")
    line = {"epoch": entry["epoch"], "epochs": epochs, **{k: entry[k] for k in keys[1:]}}
    print(PROGRESS_PREFIX + json.dumps(line), file=sys.stderr, flush=True)
