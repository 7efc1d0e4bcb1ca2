"""`python -m benchmarks evaluate --run RUN_ID --data FOLDER`: score a stored run on other data.

The harness does everything a user can get wrong before a framework starts: it finds the
record, checks the weights, reads the alias file and decodes the folder through common_data
(which fills the shared decode cache, so the twin's evaluator only reads it back). The twin then
predicts in its own tox env (`<twin>.evaluate`), and the metrics are computed here from its
probabilities with `common_data.run.metrics`, exactly as for a training run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from benchmarks.report.evaluation_summary import render
from common_data.atomic import write_json_atomic
from common_data.data.aliases import load_aliases
from common_data.data.cache import Images, load
from common_data.data.datasets import (
    SYNTHETIC,
    discover_for_model,
    preprocess_for,
    resolve_data,
)
from common_data.data.discovery import Dataset
from common_data.data.folder_scan import IMAGE_EXTENSIONS
from common_data.errors import ConfigError, DataError
from common_data.frameworks import FRAMEWORKS
from common_data.run.evaluation import evaluable
from common_data.run.metrics import classification_metrics
from common_data.run.schema import read_record
from common_data.safe_files import open_regular

DEFAULT_RESULTS = PROJECT_ROOT / "results"
EVALUATION_VERSION = 1
_ERROR_TAIL_LINES = 15


def find_record(runs_dir: Path, run: str) -> Path:
    """The record named by a run id or a unique prefix of one."""
    records = sorted(runs_dir.glob("*.json")) if runs_dir.is_dir() else []
    listing = f"list them with `ls {runs_dir}/*.json`"
    if not records:
        raise ConfigError(
            f"--run {run!r}: no run records in {runs_dir}: train one with "
            f"`python -m benchmarks compare` or pass --results FOLDER"
        )
    exact = [p for p in records if p.stem == run]
    matches = exact or [p for p in records if p.stem.startswith(run)]
    if not matches:
        raise ConfigError(f"--run {run!r}: no such run among {len(records)} in {runs_dir}; "
                          f"{listing}")
    if len(matches) > 1:
        shown = ", ".join(p.stem for p in matches[:3]) + (", ..." if len(matches) > 3 else "")
        raise ConfigError(f"--run {run!r} matches {len(matches)} runs ({shown}): expected a "
                          f"longer prefix that names one; {listing}")
    return matches[0]


def dataset_name(data: str, root: Path) -> str:
    """The name in the evaluation's file name, safe on every filesystem."""
    name = SYNTHETIC if data == SYNTHETIC else root.name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "data"


def unmapped_frames(dataset: Dataset) -> dict[str, int]:
    """Images under each folder that maps to no class: the frames a user loses, which
    discovery's file count (hidden and non-image files included) would overstate."""
    counts = {}
    for folder in dataset.unknown_folders:
        counts[folder] = sum(
            1
            for _, _, files in os.walk(dataset.root / folder)
            for name in files
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS
        )
    return counts


def run_evaluator(framework: str, record_path: Path, root: Path, out: Path,
                  args: argparse.Namespace) -> None:
    """The twin's evaluator in its own env. Its exit code 2 is a user error with one line,
    raised on as such; anything else is a crash, shown with the end of its output."""
    command = [str(framework_python(framework)), "-m", FRAMEWORKS[framework].module("evaluate"),
               "--record", str(record_path), "--data", str(root), "--out", str(out)]
    if args.aliases:
        command += ["--aliases", str(Path(args.aliases).expanduser().resolve())]
    if args.skip_bad:
        command.append("--skip-bad")
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYTHONHASHSEED="0",
               TF_CPP_MIN_LOG_LEVEL="2")
    print(f"evaluating with {framework} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if proc.returncode == 0:
        return
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode == 2 and lines and lines[-1].startswith("error: "):
        raise DataError(lines[-1].removeprefix("error: "))
    sys.stderr.write("\n".join(lines[-_ERROR_TAIL_LINES:]) + "\n")
    raise RuntimeError(f"the {framework} evaluator failed with exit code {proc.returncode} "
                       f"(its output is above): {' '.join(command)}")


def read_predictions(path: Path, images: Images) -> tuple[np.ndarray, np.ndarray]:
    """y_true and proba, after checking the twin scored exactly the frames decoded here."""
    with np.load(path, allow_pickle=False) as stored:
        y_true, proba, key = stored["y_true"], stored["proba"], str(stored["cache_key"])
    if key != images.cache_key or not np.array_equal(y_true, images.labels):
        raise RuntimeError(f"{path}: the evaluator scored other frames than the harness decoded "
                           f"(cache key {key[:12]}..., expected {images.cache_key[:12]}...)")
    return y_true, proba


def sha256_file(path: Path) -> str:
    with open_regular(path, "weights file") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def evaluation_document(record: dict[str, Any], weights: Path, dataset: Dataset,
                        images: Images, metrics: dict[str, Any], aliases: dict[str, str] | None,
                        predictions: Path, command: str) -> dict[str, Any]:
    """The stored evaluation: enough to tell which weights met which frames, and how."""
    counts = {c: int(n) for k, c in enumerate(images.classes)
              if (n := int(np.sum(images.labels == k)))}
    return {
        "evaluation_version": EVALUATION_VERSION,
        "run_id": record["run_id"],
        "framework": record["framework"],
        "model": {"spec": record["model"]["spec"], "spec_hash": record["model"]["spec_hash"],
                  "weights_file": record["weights_file"], "weights_sha256": sha256_file(weights)},
        "trained_on": {"dataset": record["config"]["data"],
                       "dataset_hash": record["data"]["dataset_hash"],
                       "split": record["data"]["split"], "fold": record["data"]["fold"]},
        "data": {
            "dataset": str(dataset.root),
            "layout": dataset.layout,
            "dataset_hash": images.dataset_hash,
            "cache_key": images.cache_key,
            "image_size": record["data"]["image_size"],
            "hud": record["data"]["hud"],
            "aliases": aliases or {},
            "folders": {r.folder: r.label for r in images.records},
            "frames": counts,
            "unmapped": unmapped_frames(dataset),
            "absent_classes": [c for c in images.classes if c not in counts],
            "skipped": images.skipped,
        },
        "same_data_as_training": images.dataset_hash == record["data"]["dataset_hash"],
        "metrics": metrics,
        "predictions_file": predictions.name,
        "command": command,
        "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def writable_folder(folder: Path, results: Path) -> Path:
    """`folder`, created if need be, once a file could be made in it: a read-only one is a
    one-line error before the slow decode and the evaluator, not a traceback after them."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(f"--results {results}: cannot write in {folder} "
                          f"({exc.strerror or exc}); expected a writable results folder") from None
    return folder


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks evaluate",
        description="Evaluate a stored run's weights on another dataset folder.")
    parser.add_argument("--run", required=True, help="run id, or a unique prefix of one")
    parser.add_argument("--data", required=True,
                        help="dataset folder (<emotion>/<palette>/<image> or <emotion>/<image>)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help="results folder holding runs/ (evaluations go to evaluations/)")
    parser.add_argument("--aliases", help="TOML file with an [aliases] table mapping a folder "
                        "to a class that has no folder there yet, e.g. `fear = \"surprise\"` "
                        "for a dataset with fear/ and no surprise/ (one folder per class)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out images that cannot be decoded instead of stopping")
    parser.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    args = parser.parse_args(argv)

    record_path = find_record(args.results / "runs", args.run)
    record = read_record(record_path)
    classes = tuple((record.get("metrics") or {}).get("classes") or ())
    aliases = load_aliases(args.aliases, classes) if args.aliases else None  # before the weights
    _, weights = evaluable(record, record_path)
    framework_python(record["framework"])  # a missing env fails before the slow decode
    folder = writable_folder(args.results / "evaluations", args.results)  # so does this
    root = resolve_data(args.data)
    dataset = discover_for_model(root, record, aliases)
    preprocess = preprocess_for(dataset, record["data"]["image_size"], record["data"]["hud"])
    print(f"reading {len(dataset.records)} frames of {root} at {preprocess.size}x"
          f"{preprocess.size} (decoded once, then cached) ...", file=sys.stderr, flush=True)
    images = load(dataset, preprocess, skip_bad=args.skip_bad)

    # the content hash keeps two datasets in folders of the same name apart
    name = f"{record['run_id']}__{dataset_name(args.data, root)}-{images.dataset_hash[:8]}"
    predictions = folder / f"{name}.predictions.npz"
    run_evaluator(record["framework"], record_path, root, predictions, args)
    y_true, proba = read_predictions(predictions, images)
    metrics = classification_metrics(y_true, proba, classes)

    command = " ".join(["python -m benchmarks evaluate", *argv])
    document = evaluation_document(record, weights, dataset, images, metrics, aliases,
                                   predictions, command)
    out = folder / f"{name}.json"
    try:
        write_json_atomic(out, document)
    except OSError as exc:
        raise ConfigError(f"--results {args.results}: cannot write {out} "
                          f"({exc.strerror or exc})") from None
    print(json.dumps(document, indent=2) if args.json else render(document, out))
    return 0
