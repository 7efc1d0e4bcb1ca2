"""The framework half of a cross-dataset evaluation, written once for both twins.

`python -m <twin>.evaluate --record R --data D --out out.npz` scores a stored run on another
dataset folder. As in training, everything but the framework is shared: which record and
weights, which frames and labels (common_data's discovery, aliases, decode cache and the run's
own `Preprocess`), the batches (`iterate_batches`, unshuffled, unaugmented) and the softmax. A
twin supplies only `load_predictor`: the network built from the spec with the stored weights
in it, as a function from a batch to logits. Metrics are not computed here; the harness
computes them from the saved probabilities with `common_data.run.metrics`, as for every run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from common_data.atomic import save_npz_atomic
from common_data.data.aliases import load_aliases
from common_data.data.batches import iterate_batches
from common_data.data.cache import load
from common_data.data.datasets import discover_for_model, preprocess_for, resolve_data
from common_data.errors import BenchError, ConfigError, DataError
from common_data.frameworks import FRAMEWORKS
from common_data.model.spec import Spec, load_spec
from common_data.run.config import RunConfig, load_run_config
from common_data.run.metrics import softmax
from common_data.run.schema import read_record
from common_data.safe_files import inside

Predictor = Callable[[np.ndarray], np.ndarray]
LoadPredictor = Callable[[Spec, Path, RunConfig], Predictor]

RETRAIN_HINT = "retrain the run with the same `python -m benchmarks compare` flags plus --force"


def evaluable(record: dict[str, Any], record_path: Path) -> tuple[Spec, Path]:
    """The spec and weights file of a run that can be evaluated; one-line errors otherwise.

    The spec is reloaded by name, so a spec file edited since training would build another
    network than the weights belong to: its hash must still be the recorded one.
    """
    run = record["run_id"]
    if record["status"] != "ok":
        raise DataError(
            f"run {run} ended with status {record['status']!r}, so it has no trained weights "
            f"to evaluate: expected a run with status 'ok'"
        )
    if record["weights_file"] is None:
        raise DataError(
            f"run {run} saved no weights (save_weights = false): {RETRAIN_HINT} and "
            f"save_weights = true"
        )
    weights = inside(Path(record_path).resolve().parent, record["weights_file"], "weights file")
    if not weights.is_file():
        raise DataError(
            f"weights file {weights} of run {run} is missing (weights are not kept in git): "
            f"{RETRAIN_HINT}"
        )
    spec = load_spec(record["config"]["spec"], image_size=record["data"]["image_size"],
                     num_classes=len(record["metrics"]["classes"]))
    if spec.hash() != record["model"]["spec_hash"]:
        raise ConfigError(
            f"spec {record['config']['spec']!r} changed since run {run} was trained (spec hash "
            f"{spec.hash()[:12]}..., recorded {record['model']['spec_hash'][:12]}...): expected "
            f"the spec the weights were trained with"
        )
    return spec, weights


def weights_error(weights: Path, spec: Spec, exc: BaseException) -> DataError:
    """What a twin raises when its framework refuses the weights file: one line, not a trace."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(
        f"weights file {weights} cannot be loaded into spec {spec.name!r} ({first[:200]}): "
        f"expected the weights saved by this run; {RETRAIN_HINT}"
    )


def predict_all(predict: Predictor, images: np.ndarray, labels: np.ndarray,
                batch_size: int) -> np.ndarray:
    """Logits (float64) for every frame in file order, through the shared batch iterator."""
    indices = np.arange(len(labels), dtype=np.int64)
    parts = [predict(x) for x, _ in iterate_batches(
        images, labels, indices, batch_size=batch_size, seed=0, epoch=0,
        shuffle=False, augment=False,
    )]
    return np.concatenate(parts).astype(np.float64)


def evaluate_main(framework: str, load_predictor: LoadPredictor,
                  argv: Sequence[str] | None) -> int:
    """Everything is checked before the framework is imported (inside `load_predictor`), so a
    bad argument fails fast with one line on stderr and exit code 2."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {FRAMEWORKS[framework].module('evaluate')}",
        description="Predict every mapped frame of a dataset folder with a stored run's "
                    "weights and save val_indices, y_true and proba (NPZ).")
    parser.add_argument("--record", type=Path, required=True, help="the run's result record")
    parser.add_argument("--data", required=True, help="'synthetic' or a dataset folder")
    parser.add_argument("--out", type=Path, required=True, help="predictions to write (.npz)")
    parser.add_argument("--aliases", type=Path, help="TOML file with an [aliases] table")
    parser.add_argument("--skip-bad", action="store_true", help="skip undecodable images")
    args = parser.parse_args(argv)
    try:
        record = read_record(args.record)
        if record["framework"] != framework:
            raise ConfigError(
                f"--record {args.record}: run {record['run_id']} was trained with "
                f"{record['framework']!r}, but this evaluator loads {framework!r} weights"
            )
        spec, weights = evaluable(record, args.record)
        # 'auto': the training host's device may be absent here, and inference needs no
        # bitwise match with training, only the stored weights.
        config = replace(load_run_config(record["config"]), device="auto")
        classes = record["metrics"]["classes"]
        aliases = load_aliases(args.aliases, classes) if args.aliases else None
        if not args.out.parent.is_dir():
            raise ConfigError(f"--out {args.out}: folder {args.out.parent} does not exist")
        dataset = discover_for_model(resolve_data(args.data), record, aliases)
        images = load(dataset, preprocess_for(dataset, record["data"]["image_size"],
                                              record["data"]["hud"]), skip_bad=args.skip_bad)
        predict = load_predictor(spec, weights, config)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logits = predict_all(predict, images.images, images.labels, config.batch_size)
    save_npz_atomic(
        args.out, val_indices=np.arange(len(images), dtype=np.int64), y_true=images.labels,
        proba=softmax(logits), cache_key=np.asarray(images.cache_key),
    )
    return 0
