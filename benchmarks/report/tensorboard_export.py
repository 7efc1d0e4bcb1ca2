"""Every stored run as TensorBoard event files: the curve viewer researchers already open.

The records hold each epoch's history, so the curves cost no retraining. The layout is what
makes TensorBoard useful here:

    <out>/<setting>/<model>-<epochs>ep-<dropout>-<protocol>/<framework>-<variant>-s<seed>/

A run's name starts with its setting and protocol, so typing a setting into TensorBoard's run
filter overlays the twins of that setting, and the twins of one protocol sort together. Every run
uses the same tags (`loss/train`, `accuracy/val`, ...), so a chart overlays all the runs that
are shown. Each run also carries an HParams session (framework, model, variant, split, HUD
mode, seed, ...) with its final metrics, and the folder's root holds one experiment that lists
every value each hparam takes, so the HParams table filters by framework or seed with
checkboxes.

The writer is tensorboardX (no framework needed). The whole tree is written into a fresh
temporary folder and swapped in, so a second export replaces the first instead of adding a
second set of event files beside it, and a reader never sees half a tree.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.matrix.records import is_compared, load_records, protocol_of, setting_of
from common_data.errors import ConfigError
from common_data.frameworks import MODE_FRAMEWORK
from common_data.regimes import has_folds

# A file the export leaves in its folder, so that a later export replaces only a folder it
# made and never a user's folder that --out named by mistake.
MARKER = ".thermal-bench-tensorboard"

# per-epoch history key -> TensorBoard tag (the step is the epoch)
EPOCH_TAGS = {
    "loss": "loss/train",
    "val_loss": "loss/val",
    "accuracy": "accuracy/train",
    "val_accuracy": "accuracy/val",
    "lr": "learning_rate",
    # the record keeps each epoch's wall time (training steps plus validation); the per-step
    # median over the whole run is the final metric time/step_ms_median
    "seconds": "time/epoch_s",
}
# final metric tag -> (record section, key): the HParams table's metric columns
FINAL_TAGS = {
    "final/accuracy": ("metrics", "accuracy"),
    "final/macro_f1": ("metrics", "macro_f1"),
    "final/weighted_f1": ("metrics", "weighted_f1"),
    "final/roc_auc_ovr_macro": ("metrics", "roc_auc_ovr_macro"),
    "time/step_ms_median": ("timing", "step_ms_median"),
    "time/images_per_s": ("timing", "images_per_s"),
    "time/train_s": ("timing", "train_s"),
}


def hparams_of(record: dict[str, Any]) -> dict[str, str | float]:
    """What defines a run, as the HParams table shows it (strings and numbers only)."""
    config, setting = record["config"], setting_of(record)
    modes = [name for name, on in sorted(config.get("mode", {}).items()) if on]
    return {
        "framework": record["framework"],
        "model": config.get("spec", "baseline_cnn"),
        "variant": config["variant"],
        "dataset": setting.data_label,
        "split": (f"{setting.split} fold {setting.fold}" if has_folds(setting.split)
                  else setting.split),
        "hud": setting.hud,
        "seed": float(config["seed"]),
        "image_size": float(setting.image_size),
        "epochs": float(config["epochs"]),
        "modes": ",".join(modes) or "none",
        "dropout": config.get("dropout", "framework"),
        "status": record["status"],
    }


def run_folder(record: dict[str, Any]) -> Path:
    """<setting>/<model>-<epochs>ep-<dropout>-<protocol>/<framework>-<variant>-s<seed>[-modes].

    The middle folder is what both twins share: the protocol without the tuned modes that
    only one framework has (the other frameworks have no such switch), so the twins of one
    setting sit side by side. Those modes name the leaf."""
    config = record["config"]
    shared = json.loads(protocol_of(record))
    shared["mode"] = {k: v for k, v in shared.get("mode", {}).items()
                      if k not in MODE_FRAMEWORK}
    digest = hashlib.sha256(json.dumps(shared, sort_keys=True).encode("utf-8")).hexdigest()
    group = (f"{config.get('spec', 'baseline_cnn')}-{config['epochs']}ep-"
             f"{config.get('dropout', 'framework')}-{digest[:8]}")
    own = [k for k, on in sorted(config.get("mode", {}).items()) if on and k in MODE_FRAMEWORK]
    leaf = "-".join([record["framework"], str(config["variant"]), f"s{config['seed']}", *own])
    return Path(*map(_component, (setting_of(record).slug, group, leaf)))


def _component(text: str) -> str:
    """One folder name: a record is read as possibly hostile, and a '/' or '..' in its
    dataset name, hash or variant must not place files outside the export's folder."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text).lstrip(".") or "_"


def export_tensorboard(runs_dir: Path, out: Path) -> int:
    """Write every finished run's curves and hparams under `out`, replacing what was there;
    returns the number of runs written."""
    records = [r for r in load_records(runs_dir) if is_compared(r) and r.get("history")]
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        folders: set[Path] = set()
        for record in records:
            folder = run_folder(record)
            if folder in folders:  # runs that differ only in what the protocol ignores
                folder = folder.with_name(f"{folder.name}-{record['config_hash'][:8]}")
            folders.add(folder)
            _write_run(record, tmp / folder)
        if records:
            _write_experiment(records, tmp)
        (tmp / MARKER).write_text("written by python -m benchmarks export --format "
                                  "tensorboard; the next export replaces this folder\n")
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the curves from other users
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return len(records)


def _check_replaceable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file (expected a folder for TensorBoard's logs)")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ConfigError(f"--out {out}: a folder this export did not write (no {MARKER} "
                          "inside); name an empty or new folder")


def _swap_in(tmp: Path, out: Path) -> None:
    """Move the new tree into place and drop the old one. POSIX cannot exchange two folders
    in one rename, so for an instant `out` is absent: a reader sees the old tree, nothing,
    or the new tree, never a mix."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
        out.replace(old / out.name)
    tmp.replace(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _walltimes(record: dict[str, Any]) -> list[float]:
    """When each epoch ended: the run's start plus the epochs' seconds, so TensorBoard's
    'relative' axis shows training time."""
    clock = datetime.fromisoformat(record["started_at"]).timestamp()
    times = []
    for entry in record["history"]:
        clock += entry["seconds"]
        times.append(clock)
    return times


def _write_run(record: dict[str, Any], folder: Path) -> None:
    from tensorboardX import FileWriter
    from tensorboardX.summary import hparams, scalar

    history = record["history"]
    walltimes = _walltimes(record)
    writer = FileWriter(str(folder), flush_secs=3600)
    try:
        for entry, walltime in zip(history, walltimes, strict=True):
            for key, tag in EPOCH_TAGS.items():
                if entry[key] is not None:  # a diverged epoch stores None, not NaN
                    writer.add_summary(scalar(tag, entry[key]), entry["epoch"], walltime)
        last_epoch, end = history[-1]["epoch"], walltimes[-1]
        finals = {tag: (record.get(section) or {}).get(key)
                  for tag, (section, key) in FINAL_TAGS.items()}
        finals = {tag: value for tag, value in finals.items() if value is not None}
        for tag, value in finals.items():
            writer.add_summary(scalar(tag, value), last_epoch, end)
        _, start_info, end_info = hparams(hparams_of(record), finals)
        writer.add_summary(start_info, 0, walltimes[0])
        writer.add_summary(end_info, last_epoch, end)
    finally:
        writer.close()


def _write_experiment(records: list[dict[str, Any]], root: Path) -> None:
    """One experiment for the whole tree, listing every value each hparam takes: TensorBoard
    then shows string and number hparams alike as checkboxes to filter by."""
    from google.protobuf.struct_pb2 import ListValue
    from tensorboardX import FileWriter
    from tensorboardX.proto.api_pb2 import (
        DataType,
        Experiment,
        HParamInfo,
        MetricInfo,
        MetricName,
    )
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

    values: dict[str, set[str | float]] = {}
    for record in records:
        for name, value in hparams_of(record).items():
            values.setdefault(name, set()).add(value)
    infos = []
    for name, seen in values.items():
        numeric = all(isinstance(v, float) for v in seen)
        domain = ListValue()
        domain.extend(sorted(seen, key=lambda v: (isinstance(v, str), v)))
        infos.append(HParamInfo(
            name=name, domain_discrete=domain,
            type=DataType.DATA_TYPE_FLOAT64 if numeric else DataType.DATA_TYPE_STRING))
    metrics = [MetricInfo(name=MetricName(tag=tag)) for tag in FINAL_TAGS]
    content = HParamsPluginData(experiment=Experiment(hparam_infos=infos, metric_infos=metrics),
                                version=0)
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="hparams", content=content.SerializeToString()))
    writer = FileWriter(str(root), flush_secs=3600)
    try:
        writer.add_summary(Summary(value=[Summary.Value(tag="_hparams_/experiment",
                                                        metadata=metadata)]))
    finally:
        writer.close()
