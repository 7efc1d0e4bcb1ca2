"""One training run, from an accepted config to its record: data, weights, the twin's build,
the epoch loop, metrics, predictions and weights, written once for both twins.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

from common_data.atomic import save_npz_atomic, write_json_atomic
from common_data.model.dropout import dropout_layers
from common_data.model.init_weights import init_weights
from common_data.model.pretrained import init_description, pretrained_weights
from common_data.model.spec import Spec, load_spec
from common_data.run.config import RunConfig
from common_data.run.host import environment, now, peak_rss_mb
from common_data.run.inputs import data_section, load_run_data
from common_data.run.loop import train
from common_data.run.metrics import classification_metrics, softmax
from common_data.run.record import error_tail, model_section, new_record
from common_data.run.schema import file_sha256, validate_record
from common_data.run.timing import Timing
from common_data.run.twin import Twin

WEIGHTS_FOLDER = "weights"


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


def execute(
    twin: Twin, config: RunConfig, out_path: Path, record: dict[str, Any], timing: Timing
) -> None:
    """The run proper; fills `record` section by section so a failure keeps what was done."""
    images, split = load_run_data(config)
    record["data"] = data_section(config, images, split)
    spec = load_spec(config.spec, image_size=config.image_size, num_classes=len(images.classes))
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
    record["metrics"] = classification_metrics(y_val, proba, images.classes)
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
    """The user's ImageNet weights for a transfer run, None for a run from scratch."""
    return Path(config.pretrained) if config.pretrained else None


def initial_weights(spec: Spec, config: RunConfig) -> dict[str, np.ndarray]:
    """The shared seed-drawn weights, or for a transfer run the user's ImageNet weights with
    a seed-drawn head (common_data.model.pretrained): the same bytes for both twins either way."""
    weights = init_weights(spec, config.seed)
    path = pretrained_path(config)
    return weights if path is None else pretrained_weights(spec, weights, path, config.transfer)
