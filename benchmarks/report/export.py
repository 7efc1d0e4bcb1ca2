"""`python -m benchmarks export`: every stored run as one table row, for your own notebook,
or as TensorBoard event files (`--format tensorboard`, see `benchmarks.report.tensorboard_export`).

The report answers the questions this project asks; users ask others. A flat table (one row
per run record, the protocol, the metrics and the timings as columns) lets them do it in
pandas without parsing the records' JSON. The table is built from the same records the report
reads, so both agree.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.matrix.records import load_records
from common_data.atomic import atomic_path
from common_data.errors import ConfigError

FORMATS = ("csv", "json", "parquet", "tensorboard")
# the module each format needs beyond pandas, and the pinned package that provides it
ENGINES = {"parquet": ("pyarrow", "pyarrow"), "tensorboard": ("tensorboardX", "tensorboardX")}


def run_row(record: dict[str, Any]) -> dict[str, Any]:
    """One record, flattened: identity, data, protocol, outcome, metrics, timing, host."""
    config, data = record["config"], record.get("data") or {}
    metrics, timing = record.get("metrics") or {}, record.get("timing") or {}
    environment, model = record.get("environment") or {}, record.get("model") or {}
    modes = [key for key, on in config.get("mode", {}).items() if on]
    return {
        "run_id": record["run_id"],
        "status": record["status"],
        "framework": record["framework"],
        "variant": config["variant"],
        "seed": config["seed"],
        "dataset": Path(str(config["data"])).name,
        "dataset_hash": data.get("dataset_hash"),
        "split": config["split"],
        "fold": config["fold"],
        "hud": config["hud"],
        "image_size": config["image_size"],
        "spec": config["spec"],
        "epochs": config["epochs"],
        "epochs_run": len(record.get("history") or []),
        "batch_size": config["batch_size"],
        "lr": config["optimizer"]["lr"],
        "early_stopping": config["early_stopping"]["enabled"],
        "dropout": config.get("dropout", "framework"),
        "modes": ",".join(modes),
        "threads": config["threads"],
        "accuracy": metrics.get("accuracy"),
        "macro_f1": metrics.get("macro_f1"),
        "weighted_f1": metrics.get("weighted_f1"),
        "roc_auc_ovr_macro": metrics.get("roc_auc_ovr_macro"),
        "n_val": metrics.get("n"),
        "params": model.get("params_total"),
        "train_s": timing.get("train_s"),
        "step_ms_median": timing.get("step_ms_median"),
        "images_per_s": timing.get("images_per_s"),
        "device": environment.get("device"),
        "framework_version": environment.get("framework_version"),
        "concurrent_runs": environment.get("concurrent_runs", 1),
        "config_hash": record["config_hash"],
    }


def runs_frame(runs_dir: Path) -> pd.DataFrame:
    return pd.DataFrame([run_row(r) for r in load_records(runs_dir)])


def write(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    """Atomically, like every file the harness writes (common_data.atomic)."""
    with atomic_path(path) as tmp:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        elif fmt == "json":
            frame.to_json(tmp, orient="records", indent=1)
        else:
            frame.to_parquet(tmp, index=False)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks export",
        description="Write every stored run as one row of a table (CSV, JSON or Parquet), or "
                    "as TensorBoard event files (curves and hparams).")
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="results folder holding runs/ (default: results)")
    parser.add_argument("--format", default="csv", help=f"one of: {', '.join(FORMATS)}")
    parser.add_argument("--out", type=Path,
                        help="file to write (default: <results>/runs.<format>), or for "
                             "tensorboard the folder (default: <results>/tensorboard)")
    args = parser.parse_args(argv)
    if args.format not in FORMATS:
        raise ConfigError(f"--format {args.format!r}: expected one of: {', '.join(FORMATS)}")
    needs_engine(args.format)
    if not (args.results / "runs").is_dir():
        raise ConfigError(f"--results {args.results}: no runs/ folder with records inside")
    if args.format == "tensorboard":
        folder = args.out or args.results / "tensorboard"
        count = export_tensorboard_checked(args.results / "runs", folder)
        print(f"{count} runs -> {folder} (view: tensorboard --logdir {folder})")
        return 0
    out = args.out or args.results / f"runs.{args.format}"
    if not out.parent.is_dir():
        raise ConfigError(f"--out {out}: folder {out.parent} does not exist")
    frame = runs_frame(args.results / "runs")
    try:
        write(frame, out, args.format)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write the table ({exc.strerror or exc}); "
                          "expected a regular file in a writable folder") from None
    print(f"{len(frame)} runs -> {out}")
    return 0


def needs_engine(fmt: str) -> None:
    """One clear line when the env lacks what a format needs (requirements/harness.txt pins
    it, so only an env built by hand can lack it)."""
    if fmt not in ENGINES:
        return
    module, package = ENGINES[fmt]
    try:
        importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"--format {fmt} needs {package}, which this env lacks (install "
                          "requirements/harness.txt, or use --format csv)") from None


def export_tensorboard_checked(runs_dir: Path, folder: Path) -> int:
    """What `compare --tensorboard` and `report --tensorboard` call as they finish."""
    from benchmarks.report.tensorboard_export import export_tensorboard

    needs_engine("tensorboard")
    if not folder.parent.is_dir():
        raise ConfigError(f"--out {folder}: folder {folder.parent} does not exist")
    return export_tensorboard(runs_dir, folder)
