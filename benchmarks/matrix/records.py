"""Reading stored run records and grouping them into the rows a report compares.

Rows are keyed by everything that defines a protocol except the seed, so runs that differ only
in their seed are pooled, and runs made under another protocol are never mixed in.
"""

import json
import re
import signal
import sys
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.markdown import visible_controls
from common_data.errors import DataError, one_line
from common_data.regimes import VARIANTS, has_folds
from common_data.run.config import LEGACY_VALUES
from common_data.run.schema import predictions_problem, read_predictions, read_record

_NOT_PROTOCOL = ("seed", "framework", "variant", "save_weights")
SHORT_HASH = 8


@dataclass(frozen=True)
class Setting:
    """Data-side identity of a comparison: which frames, which split, which pixels."""

    dataset: str
    split: str
    fold: int
    hud: str
    image_size: int
    dataset_hash: str = ""  # the identity: two folders of the same name never merge

    @property
    def data_label(self) -> str:
        """'name (short hash)': the folder name a user knows, the hash that tells them apart."""
        return f"{self.dataset} ({self.dataset_hash[:SHORT_HASH]})"

    @property
    def title(self) -> str:
        fold = f" fold {self.fold}" if has_folds(self.split) else ""
        return (
            f"{self.data_label}: {self.split} split{fold}, HUD {self.hud}, "
            f"{self.image_size}x{self.image_size}"
        )

    @property
    def slug(self) -> str:
        fold = f"-f{self.fold}" if has_folds(self.split) else ""
        name = f"{self.dataset}-{self.dataset_hash[:SHORT_HASH]}"
        # a file name and a Markdown link target: only characters that are safe in both
        return re.sub(r"[^A-Za-z0-9._-]+", "_",
                      f"{name}-{self.split}{fold}-{self.hud}-{self.image_size}")


@dataclass
class Row:
    """All seeds of one framework x variant under one protocol."""

    setting: Setting
    framework: str
    variant: str
    protocol: str
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] == "ok"]

    def values(self, metric: str) -> list[float]:
        """The metric of every ok run that has one: ROC AUC is null where it is undefined (a
        validation set of one class), and a mean over the others is still the mean."""
        return [float(v) for r in self.ok if (v := r["metrics"][metric]) is not None]

    def by_seed(self) -> dict[int, dict[str, Any]]:
        return {int(r["config"]["seed"]): r for r in self.ok}

    def majority(self) -> tuple[float, str] | None:
        """(rate, class) of the largest class among the validation frames: what a model that
        always predicts one class scores. Every seed of a row is scored on the same split."""
        metrics = self.ok[0]["metrics"] if self.ok else {}
        if not metrics.get("per_class"):
            return None
        support = {name: row["support"] for name, row in metrics["per_class"].items()}
        name = max(support, key=lambda k: support[k])
        return support[name] / max(metrics["n"], 1), name

    @property
    def label(self) -> str:
        """The variant, naming the model when it is not the baseline CNN and the precision when
        it is bf16: one setting's table can hold several models and both precisions, which the
        ensemble and delta tables' other columns alone do not tell apart."""
        config = self.records[0]["config"]
        transfer = config.get("transfer", "scratch")
        notes = [] if is_baseline_cnn(config) else [
            f"{config['spec']}, {'from scratch' if transfer == 'scratch' else transfer}"]
        if is_bf16(config):
            notes.append("bf16")
        if training_set_note(config):
            notes.append(training_set_note(config))
        return f"{self.variant} ({', '.join(notes)})" if notes else self.variant


def is_baseline_cnn(config: Mapping[str, Any]) -> bool:
    """Whether a run trained the study's baseline CNN, the model the product's questions, the
    resolution study and the paper protocol's timings are about (older configs name no spec)."""
    return config.get("spec", "baseline_cnn") == "baseline_cnn"


def training_set_note(config: Mapping[str, Any]) -> str:
    """How a run's training set departs from the whole training side in colour, in words ("" for
    none): a palette-finding arm, which the studies of the whole-set baseline leave out."""
    parts = []
    if config.get("train_palettes"):
        parts.append("palettes " + " + ".join(config["train_palettes"]))
    if config.get("train_frames"):
        parts.append(f"{config['train_frames']} training frames")
    if config.get("colour", "rgb") != "rgb":
        parts.append(config["colour"])
    return "; ".join(parts)


def majority_rate(record: Mapping[str, Any]) -> float | None:
    """The share of the largest class among a run's validation frames: what a model that always
    predicts one class scores (None for a record without per-class counts)."""
    metrics = record["metrics"]
    if not metrics.get("per_class"):
        return None
    return max(row["support"] for row in metrics["per_class"].values()) / max(metrics["n"], 1)


def is_bf16(config: Mapping[str, Any]) -> bool:
    """Whether a run trained in bf16 (mode.mixed_precision). Studies that read single float32
    runs (the resolution study) leave these out: a bf16 seed is a second measurement of the same
    cell, in another arithmetic, not the cell's figure."""
    return bool((config.get("mode") or {}).get("mixed_precision", False))


def dataset_label(record: dict[str, Any]) -> str:
    """The dataset folder's name, with control characters (a newline in a folder name) shown
    as `\\xNN`, so a name stays on one line in every table, heading and terminal."""
    data = str(record["data"]["dataset"])
    return "synthetic" if data == "synthetic" else visible_controls(Path(data).name)


def setting_of(record: dict[str, Any]) -> Setting:
    data = record["data"]
    fold = data.get("fold")
    return Setting(
        dataset_label(record),
        data["split"],
        -1 if fold is None else int(fold),
        data["hud"],
        int(data["image_size"]),
        str(data["dataset_hash"]),
    )


def _legacy(key: tuple[str, ...], value: Any) -> bool:
    return key in LEGACY_VALUES and value == LEGACY_VALUES[key]


def protocol_of(record: dict[str, Any]) -> str:
    """The run config minus seed/framework/variant: equal strings mean one protocol. Keys at
    their legacy values (common_data.run.config.LEGACY_VALUES) are left out too, as the config
    hash leaves them out, so runs made before a key existed and after, on the same setting,
    stay one row."""
    config = {k: v for k, v in record["config"].items() if k not in _NOT_PROTOCOL
              and not _legacy((k,), v)}
    if isinstance(config.get("mode"), dict):  # a late mode off is how earlier runs ran
        config["mode"] = {m: on for m, on in config["mode"].items()
                          if not _legacy(("mode", m), on)}
    return json.dumps(config, sort_keys=True)


def load_records(runs_dir: Path) -> list[dict[str, Any]]:
    """Every valid record under `runs_dir`; invalid ones are named on stderr and left out."""
    records = []
    for path in sorted(runs_dir.glob("*.json")):
        try:
            record = read_record(path)
        except DataError as exc:
            warn(f"skipping {exc}")
            continue
        record["_path"] = str(path)
        records.append(record)
    return records


def warn(message: str) -> None:
    print(f"warning: {one_line(message)}", file=sys.stderr)


def exit_text(returncode: Any) -> str:
    """'exit 1', or 'killed by SIGKILL' for a process a signal ended (negative return code)."""
    if isinstance(returncode, int) and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit {returncode}"


def is_compared(record: dict[str, Any]) -> bool:
    """Finished runs ('ok', 'diverged') enter the tables; a failed run may have died before
    reading its data, so it appears in the failures table only."""
    return record["status"] != "failed" and record["data"] is not None


def group_rows(records: list[dict[str, Any]]) -> list[Row]:
    rows: dict[tuple, Row] = {}
    for record in filter(is_compared, records):
        key = (
            setting_of(record),
            record["framework"],
            record["config"]["variant"],
            protocol_of(record),
        )
        rows.setdefault(key, Row(*key)).records.append(record)
    order = {variant: i for i, variant in enumerate(VARIANTS)}  # the table's order
    return sorted(
        rows.values(),
        key=lambda r: (r.setting.title, order.get(r.variant, 9), r.framework, r.protocol),
    )


def rows_by_setting(rows: list[Row]) -> dict[Setting, list[Row]]:
    grouped: dict[Setting, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.setting].append(row)
    return dict(grouped)


def load_predictions(record: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The stored validation predictions of a run (val_indices, y_true, proba), if usable.

    A record that names a file which is missing, damaged, outside its folder or not a regular
    file is named in one warning (once per record): the ensemble row and McNemar's test leave
    that run out, and the user should know why.
    """
    name = record.get("predictions_file")
    if not name:
        return None
    if record.get("_unreadable_predictions"):
        return None  # warned about once already
    folder = Path(record["_path"]).parent
    problem = predictions_problem(record, folder)
    if problem is None:
        try:
            return read_predictions(folder / name)
        except DataError as exc:
            problem = str(exc)
    record["_unreadable_predictions"] = True
    warn(f"skipping the predictions of {record['run_id']}: {problem}; the ensemble and "
         "McNemar's test leave this run out")
    return None
