"""The training protocol, written once for both twins (the MLCommons AlgoPerf pattern).

A framework comparison is only fair if everything but the framework is the same code: which
bytes are read, how they are split and augmented, the epoch loop, early stopping and the
learning-rate schedule, what is timed and how, and how metrics are computed. All of that is
here, framework-free; a twin (`pytorch_impl.twin`, `tf_impl.twin`) supplies only the `Twin`
hooks: build, one synchronised train step, predict, learning rate, state, memory.

Timing conventions (the record's `timing` section):

* a step is timed with `perf_counter` around `Twin.train_step`, which returns only after the
  device finished; the data wait is the time spent in the batch iterator before it;
* warm-up is the first step at each batch shape (tf.function, XLA and torch.compile trace or
  compile per shape, and the last partial batch is a new shape); warm-up steps are summed into
  `warmup_s` and left out of `step_ms_median`, `step_ms_p90` and `images_per_s`;
* `images_per_s` is the steady-state compute throughput: images of the timed steps over their
  step time; `device_s` is the time inside all train steps, warm-up included; `train_s` the
  wall time of the training phases (data waits included), `eval_s` that of validation.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import resource
import sys
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any, ClassVar

import numpy as np

from common_data.atomic import save_npz_atomic, write_json_atomic
from common_data.data import cache, discovery, faults, splits
from common_data.data.batches import iterate_batches
from common_data.data.datasets import resolve_data
from common_data.data.prefetch import prefetch
from common_data.data.preprocess import Preprocess
from common_data.environ import CONCURRENT_RUNS_ENV, NODE_ENV
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS
from common_data.model.dropout import DropoutLayer, Masks, draw_masks, dropout_layers, with_masks
from common_data.model.init_weights import INIT_SCHEME, init_weights, weights_digest
from common_data.model.parity_probe import train_mode_probe
from common_data.model.pretrained import init_description, pretrained_weights
from common_data.model.reference import softmax_cross_entropy
from common_data.model.spec import Spec, load_spec
from common_data.run.config import RunConfig, load_run_config, parse_mode_flags
from common_data.run.metrics import classification_metrics, softmax
from common_data.run.schema import SCHEMA_VERSION, file_sha256, validate_record

PROGRESS_PREFIX = "@@progress "
ERROR_TAIL_LINES = 15
WEIGHTS_FOLDER = "weights"
PARITY_BATCH = 8
PARITY_BATCH_SEED = 123
PARITY_LR = 1e-4


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


@dataclass
class Timing:
    """Accumulates the measurements described in the module docstring."""

    warmup_s: float = 0.0
    device_s: float = 0.0
    train_s: float = 0.0
    eval_s: float = 0.0
    timed_images: int = 0
    step_s: list[float] = field(default_factory=list)
    wait_s: list[float] = field(default_factory=list)
    seen_shapes: set[tuple[int, ...]] = field(default_factory=set)

    def add_step(self, shape: tuple[int, ...], seconds: float, waited: float) -> None:
        self.device_s += seconds
        self.wait_s.append(waited)
        if shape in self.seen_shapes:
            self.step_s.append(seconds)
            self.timed_images += shape[0]
        else:
            self.seen_shapes.add(shape)
            self.warmup_s += seconds

    def summary(self, total_s: float) -> dict[str, float | None]:
        steps = np.asarray(self.step_s)
        timed = bool(steps.size)
        return {
            "warmup_s": self.warmup_s,
            "step_ms_median": float(np.median(steps)) * 1e3 if timed else None,
            "step_ms_p90": float(np.percentile(steps, 90)) * 1e3 if timed else None,
            "images_per_s": self.timed_images / float(steps.sum()) if timed else None,
            "train_s": self.train_s,
            "device_s": self.device_s,
            "data_wait_ms_median": float(np.median(self.wait_s)) * 1e3 if self.wait_s else None,
            "data_wait_fraction": sum(self.wait_s) / self.train_s if self.train_s else None,
            "eval_s": self.eval_s,
            "total_s": total_s,
        }


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


@dataclass
class Fit:
    history: list[dict[str, Any]]
    diverged_at: int | None
    val_logits: np.ndarray | None


def run(twin: Twin, config: RunConfig, out_path: Path) -> int:
    """Train, evaluate and write the record; returns the process exit code.

    Whatever happens after the config was accepted ends in a record: 'ok', 'diverged', or
    'failed' with the error's last lines (exit code 1). The record is written atomically, so a
    killed run leaves either no file or a complete one.
    """
    clock = perf_counter()
    out_path = Path(out_path).resolve()
    record = new_record(config, out_path.stem)
    timing = Timing()
    try:
        execute(twin, config, out_path, record, timing)
    except Exception:
        error = error_tail(traceback.format_exc())
        print(error, file=sys.stderr, flush=True)
        record.update(status="failed", error=error, metrics=None, diverged_at_epoch=None)
    record["timing"] = timing.summary(perf_counter() - clock)
    device_peak = twin.device_peak_memory_mb() if record["environment"] else None
    record["memory"] = {"peak_rss_mb": peak_rss_mb(), "device_peak_mb": device_peak}
    record["finished_at"] = now()
    problems = validate_record(record)
    if problems and record["status"] != "failed":
        record.update(status="failed", metrics=None, diverged_at_epoch=None,
                      error="the record failed validation: " + "; ".join(problems[:5]))
    write_json_atomic(out_path, record)
    return 1 if record["status"] == "failed" else 0


def new_record(config: RunConfig, run_id: str) -> dict[str, Any]:
    """Every schema field, with the sections a run fills in as it gets to them left None."""
    return {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "status": "failed",
        "framework": config.framework, "config": config.to_dict(), "config_hash": config.hash(),
        "environment": None, "model": None, "data": None, "history": None,
        "diverged_at_epoch": None, "metrics": None, "predictions_file": None,
        "predictions_sha256": None, "weights_file": None, "timing": None, "memory": None,
        "error": None,
        "started_at": now(), "finished_at": None,
    }


def execute(
    twin: Twin, config: RunConfig, out_path: Path, record: dict[str, Any], timing: Timing
) -> None:
    """The run proper; fills `record` section by section so a failure keeps what was done."""
    images, split = load_data(config, record)
    spec = load_spec(config.spec, image_size=config.image_size)
    weights = initial_weights(spec, config)
    twin.build(spec, weights, config)
    record["environment"] = environment(twin)
    record["model"] = model_section(twin, spec, weights)
    record["model"]["init_scheme"] = init_description(pretrained_path(config), config.transfer)
    fit = train(twin, config, images, split, timing, dropout_layers(spec))
    record["history"] = fit.history
    if fit.diverged_at is not None:
        record.update(status="diverged", diverged_at_epoch=fit.diverged_at)
        return
    assert fit.val_logits is not None
    y_val = images.labels[split.val]
    proba = softmax(fit.val_logits)
    record["metrics"] = classification_metrics(y_val, proba)
    predictions = out_path.with_name(f"{out_path.stem}.predictions.npz")
    save_npz_atomic(predictions, val_indices=split.val, y_true=y_val, proba=proba)
    record["predictions_file"] = predictions.name
    record["predictions_sha256"] = file_sha256(predictions)
    if config.save_weights:
        folder = out_path.parent / WEIGHTS_FOLDER / record["run_id"]
        folder.mkdir(parents=True, exist_ok=True)
        record["weights_file"] = twin.save_weights(folder).relative_to(out_path.parent).as_posix()
    record["status"] = "ok"


def pretrained_path(config: RunConfig) -> Path | None:
    return Path(config.pretrained) if config.pretrained else None


def initial_weights(spec: Spec, config: RunConfig) -> dict[str, np.ndarray]:
    """The shared seed-drawn weights, or for a transfer run the user's ImageNet weights with
    a seed-drawn head (common_data.model.pretrained): the same bytes for both twins either way."""
    weights = init_weights(spec, config.seed)
    path = pretrained_path(config)
    return weights if path is None else pretrained_weights(spec, weights, path, config.transfer)


def load_data(config: RunConfig, record: dict[str, Any]) -> tuple[cache.Images, splits.Split]:
    """The same bytes, preprocessing and split for both twins, through common_data only."""
    root = resolve_data(config.data)
    dataset = discovery.discover(root)
    images = cache.load(dataset, Preprocess(size=config.image_size, hud=config.hud),
                        skip_bad=config.skip_bad)
    fold = config.fold if config.split == "loso" else None
    split = splits.make_split(images, config.split, fold=fold, seed=config.split_seed)
    images, split = faults.inject(config.fault, images, split, config.seed)
    record["data"] = {
        "dataset": str(root), "dataset_hash": images.dataset_hash, "cache_key": images.cache_key,
        "split": config.split, "fold": fold, "split_hash": split.hash,
        "n_train": len(split.train), "n_val": len(split.val),
        "image_size": config.image_size, "hud": config.hud,
        "val_digest": validation_digest(images, split.val, config),
    }
    return images, split


def concurrent_runs() -> int:
    """How many runs (this one included) the harness let share the machine. Timings taken
    beside other runs are not comparable with timings taken alone, so the record says so."""
    value = os.environ.get(CONCURRENT_RUNS_ENV, "1")
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"{CONCURRENT_RUNS_ENV}={value!r}: expected an integer >= 1")
    return int(value)


def environment(twin: Twin) -> dict[str, Any]:
    """The twin's framework facts plus the host facts, which are the same for both twins.

    The host name (and, under Ray, the node id) says which machine took the timings, so a
    report never pools timings from different machines without saying so."""
    info = twin.environment()
    return {
        "framework": twin.framework, "framework_version": info["framework_version"],
        "python": platform.python_version(), "os": platform.platform(), "cpu": cpu_name(),
        "gpu": info["gpu"], "device": info["device"], "threads": info["threads"],
        "concurrent_runs": concurrent_runs(), "host": platform.node(),
        **({"node": os.environ[NODE_ENV]} if os.environ.get(NODE_ENV) else {}),
    }


def model_section(twin: Twin, spec: Spec, weights: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Parameter counts as the framework sees them, after checking they are the spec's: a
    twin that built a different network must fail here, not produce a plausible record."""
    built = twin.parameter_shapes()
    expected = dict(spec.param_shapes())
    if built != expected:
        names = built.keys() | expected.keys()
        differ = sorted(k for k in names if built.get(k) != expected.get(k))
        raise RuntimeError(
            f"the {twin.framework} twin built parameters that differ from spec {spec.name!r}: "
            + ", ".join(f"{k} {built.get(k)} vs spec {expected.get(k)}" for k in differ)
        )
    return {
        "spec": spec.name, "spec_hash": spec.hash(), "init_scheme": INIT_SCHEME,
        "weights_digest": weights_digest(weights),
        "params_total": sum(math.prod(s) for s in built.values()),
        "params_trainable": twin.trainable_params(),
        "params_per_layer": spec.param_counts(),
    }


def train(
    twin: Twin, config: RunConfig, images: cache.Images, split: splits.Split, timing: Timing,
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
    twin: Twin, config: RunConfig, images: cache.Images, indices: np.ndarray, epoch: int,
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
        while True:
            waiting = perf_counter()
            batch = next(batches, None)
            if batch is None:
                break
            x, y, masks = batch
            stepping = perf_counter()
            loss, logits = twin.train_step(x, y, masks)
            timing.add_step(x.shape, perf_counter() - stepping, stepping - waiting)
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
    config: RunConfig, images: cache.Images, indices: np.ndarray, epoch: int,
    dropouts: list[DropoutLayer],
) -> Iterator[tuple[np.ndarray, np.ndarray, Masks | None]]:
    """The epoch's (x, y, masks): masks are the shared dropout masks of the spec's
    `dropouts` when the config asks for them, None when each framework draws its own."""
    batches = iterate_batches(
        images.images, images.labels, indices, batch_size=config.batch_size, seed=config.seed,
        epoch=epoch - 1, shuffle=True, augment=config.variant == "augmented",
    )
    if config.dropout == "framework":
        return ((x, y, None) for x, y in batches)
    return with_masks(batches, dropouts, config.seed, epoch - 1)


def predict(
    twin: Twin, images: cache.Images, indices: np.ndarray, config: RunConfig, timing: Timing
) -> np.ndarray:
    """Logits (float64) for `indices` in order; validation is never shuffled or augmented
    (unless the `augment_val` fault is injected on purpose)."""
    started = perf_counter()
    parts = [twin.predict_logits(x) for x, _ in validation_batches(images, indices, config)]
    timing.eval_s += perf_counter() - started
    return np.concatenate(parts).astype(np.float64)


def validation_batches(
    images: cache.Images, indices: np.ndarray, config: RunConfig
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The validation inputs exactly as `predict` feeds them to a twin."""
    return iterate_batches(
        images.images, images.labels, indices, batch_size=config.batch_size, seed=config.seed,
        epoch=0, shuffle=False, augment=faults.augments_validation(config.fault),
    )


def validation_digest(images: cache.Images, indices: np.ndarray, config: RunConfig) -> str:
    """sha256 over the validation inputs and labels a run is scored on. The finding's checks
    compare it with the clean pipeline's, so a leak into validation cannot pass unnoticed."""
    digest = hashlib.sha256()
    for x, y in validation_batches(images, indices, config):
        digest.update(x.tobytes())
        digest.update(y.tobytes())
    return digest.hexdigest()


def report_progress(entry: Mapping[str, Any], epochs: int) -> None:
    """One JSON line per epoch on stderr; the harness turns these into a live line with ETA."""
    keys = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")
    line = {"epoch": entry["epoch"], "epochs": epochs, **{k: entry[k] for k in keys[1:]}}
    print(PROGRESS_PREFIX + json.dumps(line), file=sys.stderr, flush=True)


def error_tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-ERROR_TAIL_LINES:])


def peak_rss_mb() -> float:
    """ru_maxrss is in KiB on Linux and in bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------- entry points of the twins


def load_config(path: Path, framework: str) -> RunConfig:
    """The runner's config, refused (ConfigError) when it names the other framework."""
    config = load_run_config(path)
    if config.framework != framework:
        raise ConfigError(
            f"run config {path}: key 'framework' is {config.framework!r}, but this runner "
            f"trains {framework!r} (use the other twin's runner or set framework = {framework!r})"
        )
    return config


def run_main(
    framework: str, make_twin: Callable[[RunConfig], Twin], argv: Sequence[str] | None
) -> int:
    """`python -m <twin>.run --config run.json --out result.json`.

    The config is validated before the framework is imported, so a bad config fails fast
    with one line on stderr and exit code 2, and writes no record.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {FRAMEWORKS[framework].module('run')}",
                                     description="Train one run and write its result record.")
    parser.add_argument("--config", type=Path, required=True, help="run config (JSON or TOML)")
    parser.add_argument("--out", type=Path, required=True, help="result record to write (JSON)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, framework)
        if not args.out.parent.is_dir():
            raise ConfigError(f"--out {args.out}: folder {args.out.parent} does not exist")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(make_twin(config), config, args.out)


def parity_batch(spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """The fixed probe batch: uniform images in [0, 1] and every class at least once."""
    rng = np.random.default_rng(PARITY_BATCH_SEED)
    x = rng.uniform(0.0, 1.0, size=(PARITY_BATCH, *spec.input_shape)).astype(np.float32)
    y = (np.arange(PARITY_BATCH) % spec.num_classes).astype(np.int64)
    return x, y


def parity_main(
    framework: str, make_twin: Callable[[RunConfig], Twin], argv: Sequence[str] | None
) -> int:
    """`python -m <twin>.parity --out parity.npz`: what the harness compares across twins.

    From the shared initial weights, on the fixed batch: the logits (inference), the logits
    with the shared dropout masks of step 0 (`masked_logits`), the loss before each of
    `--steps` Adam steps on that same batch with dropout off, and the parameters as the
    framework holds them (canonical names and shapes); then the training-mode probe of a
    fresh copy (`common_data.model.parity_probe`). `--mode KEY=BOOL` runs the probe under
    a tuned mode, so a mode is shown faithful (or not) by the same figures.

    The steps use lr 1e-4, not the runs' 1e-3: at 1e-3 the first step on one small batch
    overshoots (loss 1.63 -> 2.69 at 128 px) and ten steps amplify float32 rounding to a few
    1e-3 between twins that compute the same update, which would hide a real difference of
    algorithm; at 1e-4 the loss descends smoothly and identical updates agree within 4e-5.
    """
    parser = argparse.ArgumentParser(prog=f"python -m {FRAMEWORKS[framework].module('parity')}",
                                     description="Write the twin's parity probe (NPZ).")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--spec", default="baseline_cnn")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--lr", type=float, default=PARITY_LR)
    parser.add_argument("--device", choices=("cpu", "auto", "gpu"), default="cpu",
                        help="cpu by default: GPU kernels are not bitwise float32-faithful")
    parser.add_argument("--mode", action="append", default=[], metavar="KEY=BOOL",
                        help="tuned mode to probe under, e.g. onednn=true (repeatable)")
    args = parser.parse_args(argv)
    try:
        config = load_run_config({
            "framework": framework, "spec": args.spec, "seed": args.seed,
            "image_size": args.image_size, "device": args.device, "optimizer": {"lr": args.lr},
            "mode": parse_mode_flags(args.mode),
        })
        spec = load_spec(config.spec, image_size=config.image_size)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    weights = init_weights(spec, config.seed)
    x, y = parity_batch(spec)
    twin = make_twin(config)
    try:
        twin.build(spec, weights, config)
    except ConfigError as exc:  # e.g. --device gpu on a machine without one
        print(f"error: {exc}", file=sys.stderr)
        return 2
    twin.set_training(False)
    logits = twin.predict_logits(x)
    masks = draw_masks(dropout_layers(spec), args.seed, 0, 0, len(y))
    masked_logits = twin.predict_logits(x, masks)
    losses = [twin.train_step(x, y)[0] for _ in range(args.steps)]
    shapes = twin.parameter_shapes()
    names = sorted(shapes)
    train_mode = train_mode_probe(make_twin(config), spec, weights, config, x, y, args.steps)
    save_npz_atomic(
        args.out, **train_mode,
        x=x, y=y, logits=logits, masked_logits=masked_logits, losses=np.asarray(losses),
        weights_digest=np.asarray(weights_digest(weights)), param_names=np.asarray(names),
        param_shapes=np.asarray(json.dumps([shapes[n] for n in names])),
        environment=np.asarray(json.dumps({**environment(twin), "modes": asdict(config.mode)})),
    )
    return 0
