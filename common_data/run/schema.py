"""The result record: one JSON file per training run, versioned and validated by hand.

The harness never imports a framework; it reads these files. Validating every field here
(types, enums, cross-field rules) means a twin that writes a wrong or partial record is
caught when the record is written or read, not when a report quietly shows a blank.

Record, version 1 (every key is required; "|None" marks where null is allowed):

    schema_version       1
    run_id               str
    status               'ok' | 'diverged' | 'failed'
    framework            a key of common_data.frameworks.FRAMEWORKS
    config               dict (RunConfig.to_dict()); its framework, if set, equals framework
    config_hash          sha256 hex of config's canonical JSON (RunConfig.hash())
    environment          {framework, framework_version, python, os, cpu: str,
                          gpu: str|None, device: str, threads: {intra_op, inter_op: int},
                          concurrent_runs: int >= 1 (optional: runs sharing the machine),
                          host: str (optional: the machine's name),
                          node: str (optional: the Ray node id, under --executor ray)}
    model                {spec, spec_hash, init_scheme, weights_digest: str,
                          params_total, params_trainable: int,
                          params_per_layer: [{layer: str, params: int, shapes: {str: [int]}}]}
    data                 {dataset, dataset_hash, cache_key: str,
                          split: 'random'|'session'|'loso'|'grouped',
                          fold: int|None, split_hash: str, n_train, n_val, image_size: int,
                          hud: 'full'|'masked'|'hud_only',
                          val_digest: str (optional: sha256 of the validation inputs)}
    history              [{epoch: int, loss, accuracy, val_loss, val_accuracy: float|None,
                           lr, seconds: float}]   (None where a value was not finite)
    diverged_at_epoch    int|None (an int exactly when status is 'diverged')
    metrics              metrics.classification_metrics(...) when status is 'ok', else None
    predictions_file     str|None, relative to the record's folder: .npz with val_indices,
                         y_true, proba
    predictions_sha256   sha256 hex of that file's bytes (optional: records written before
                         it existed lack it), so a truncated or swapped file is caught
    weights_file         str|None, relative to the record's folder
    timing               {warmup_s, step_ms_median, step_ms_p90, images_per_s, train_s,
                          device_s, data_wait_ms_median, data_wait_fraction, eval_s,
                          total_s: float|None}   (None where not measured)
    memory               {peak_rss_mb: float, device_peak_mb: float|None}
    error                str|None (a non-empty str exactly when status is 'failed')
    started_at           ISO 8601 str
    finished_at          ISO 8601 str

A 'failed' run records what it got to: environment, model, data, history, timing and
memory may be None there. Unknown keys are errors at every level, so a misspelt field is
never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from common_data.errors import ConfigError, DataError
from common_data.frameworks import FRAMEWORKS
from common_data.regimes import OVERLAYS, SPLITS
from common_data.run.config import config_digest, load_run_config
from common_data.safe_files import inside, open_regular, read_regular

SCHEMA_VERSION = 1

Check = Callable[[Any, str], list[str]]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _rule(expected: str, ok: Callable[[Any], bool]) -> Check:
    def check(value: Any, path: str) -> list[str]:
        return [] if ok(value) else [f"{path} must be {expected}, got {_short(value)}"]
    return check


def _is_int(v: Any) -> bool:
    """NumPy integers pass: twins hand them back and write_json_atomic converts them."""
    return isinstance(v, int | np.integer) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            and math.isfinite(v))


def _is_iso(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    try:
        datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


def _is_relative(v: Any) -> bool:
    if not isinstance(v, str) or not v:
        return False
    path = Path(v)
    return not path.is_absolute() and ".." not in path.parts


def _is_hex64(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None


_STR = _rule("a non-empty string", lambda v: isinstance(v, str) and bool(v))
_INT = _rule("an integer >= 0", lambda v: _is_int(v) and v >= 0)
_NUM = _rule("a finite number", _is_num)
_NUM01 = _rule("a number in [0, 1]", lambda v: _is_num(v) and 0 <= v <= 1)
_HEX64 = _rule("a sha256 hex digest", _is_hex64)
_ISO = _rule("an ISO 8601 timestamp string", _is_iso)
_REL = _rule("a relative path inside the record's folder", _is_relative)
_DICT = _rule("an object", lambda v: isinstance(v, dict))


def _enum(*choices: Any) -> Check:
    """Type-exact, so True never passes for 1 nor 1.0 for schema version 1."""
    quoted = [repr(c) for c in choices]
    expected = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    return _rule(expected, lambda v: any(type(v) is type(c) and v == c for c in choices))


def _nullable(inner: Check) -> Check:
    def check(value: Any, path: str) -> list[str]:
        if value is None:
            return []
        own = f"{path} must be "
        return [
            m.replace(own, own + "null or ", 1) if m.startswith(own) else m
            for m in inner(value, path)
        ]
    return check


def _list(inner: Check) -> Check:
    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, list):
            return [f"{path} must be a list, got {_short(value)}"]
        return [m for i, item in enumerate(value) for m in inner(item, f"{path}[{i}]")]
    return check


def _map(inner: Check) -> Check:
    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path} must be an object, got {_short(value)}"]
        return [m for k, item in value.items() for m in inner(item, f"{path}.{k}")]
    return check


def _obj(fields: dict[str, Check], optional: tuple[str, ...] = ()) -> Check:
    """An object with exactly `fields`; keys in `optional` may be absent (added in a later
    revision of the same schema version, so older records stay valid)."""
    def check(value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path} must be an object, got {_short(value)}"]
        errors = [
            f"{_join(path, k)} is missing" for k in fields if k not in value and k not in optional
        ]
        errors += [
            f"{_join(path, k)} is not a field of the schema" for k in value if k not in fields
        ]
        for key, inner in fields.items():
            if key in value:
                errors += inner(value[key], _join(path, key))
        return errors
    return check


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


TIMING_KEYS = (
    "warmup_s", "step_ms_median", "step_ms_p90", "images_per_s", "train_s", "device_s",
    "data_wait_ms_median", "data_wait_fraction", "eval_s", "total_s",
)

METRICS = _obj({
    "accuracy": _NUM01,
    "macro_f1": _NUM01,
    "weighted_f1": _NUM01,
    "roc_auc_ovr_macro": _nullable(_NUM01),
    "roc_auc_skipped": _list(_STR),
    "per_class": _map(
        _obj({"precision": _NUM01, "recall": _NUM01, "f1": _NUM01, "support": _INT})
    ),
    "confusion": _list(_list(_INT)),
    "classes": _list(_STR),
    "n": _INT,
})

FIELDS: dict[str, Check] = {
    "schema_version": _enum(SCHEMA_VERSION),
    "run_id": _STR,
    "status": _enum("ok", "diverged", "failed"),
    "framework": _enum(*FRAMEWORKS),
    "config": _DICT,
    "config_hash": _HEX64,
    "environment": _obj({
        "framework": _enum(*FRAMEWORKS),
        "framework_version": _STR,
        "python": _STR,
        "os": _STR,
        "cpu": _STR,
        "gpu": _nullable(_STR),
        "device": _STR,
        "threads": _obj({"intra_op": _INT, "inter_op": _INT}),
        "concurrent_runs": _rule("an integer >= 1", lambda v: _is_int(v) and v >= 1),
        "host": _STR,
        "node": _STR,
    }, optional=("concurrent_runs", "host", "node")),
    "model": _obj({
        "spec": _STR,
        "spec_hash": _HEX64,
        "init_scheme": _STR,
        "weights_digest": _HEX64,
        "params_total": _INT,
        "params_trainable": _INT,
        "params_per_layer": _list(
            _obj({"layer": _STR, "params": _INT, "shapes": _map(_list(_INT))})
        ),
    }),
    "data": _obj({
        "dataset": _STR,
        "dataset_hash": _STR,
        "cache_key": _STR,
        "split": _enum(*SPLITS),
        "fold": _nullable(_INT),
        "split_hash": _STR,
        "n_train": _INT,
        "n_val": _INT,
        "image_size": _INT,
        "hud": _enum(*OVERLAYS),
        "val_digest": _HEX64,
    }, optional=("val_digest",)),
    "history": _list(_obj({
        "epoch": _INT,
        "loss": _nullable(_NUM),
        "accuracy": _nullable(_NUM01),
        "val_loss": _nullable(_NUM),
        "val_accuracy": _nullable(_NUM01),
        "lr": _NUM,
        "seconds": _NUM,
    })),
    "diverged_at_epoch": _nullable(_INT),
    "metrics": _nullable(METRICS),
    "predictions_file": _nullable(_REL),
    "predictions_sha256": _nullable(_HEX64),
    "weights_file": _nullable(_REL),
    "timing": _obj({key: _nullable(_NUM) for key in TIMING_KEYS}),
    "memory": _obj({"peak_rss_mb": _NUM, "device_peak_mb": _nullable(_NUM)}),
    "error": _nullable(_STR),
    "started_at": _ISO,
    "finished_at": _ISO,
}

# Sections a failed run may leave null: it may have died before reaching them.
FAILED_MAY_BE_NULL = ("environment", "model", "data", "history", "timing", "memory")
# Top-level fields added after version 1 was first written; older records stay valid.
OPTIONAL_FIELDS = ("predictions_sha256",)


def validate_record(record: dict[str, Any]) -> list[str]:
    """Every problem found, each naming its field path; empty when the record is valid."""
    if not isinstance(record, dict):
        return [f"record must be a JSON object, got {_short(record)}"]
    status = record.get("status")
    fields = dict(FIELDS)
    if status == "failed":
        fields.update({k: _nullable(FIELDS[k]) for k in FAILED_MAY_BE_NULL})
    errors = _obj(fields, optional=OPTIONAL_FIELDS)(record, "")
    if errors:
        return errors
    return _cross_checks(record)


def _cross_checks(record: dict[str, Any]) -> list[str]:
    """Rules between fields; run only on a well-typed record so they can index freely."""
    errors = []
    status = record["status"]
    for key, when in (("metrics", "ok"), ("diverged_at_epoch", "diverged"), ("error", "failed")):
        if (status == when) != (record[key] is not None):
            errors.append(
                f"{key} must be set exactly when status is {when!r}, "
                f"got {_short(record[key])} with status {status!r}"
            )
    errors += _config_problems(record["config"])
    if config_digest(record["config"]) != record["config_hash"]:
        errors.append("config_hash must be the sha256 of config's canonical JSON "
                      "(RunConfig.hash()), got a different digest")
    if record["config"].get("framework", record["framework"]) != record["framework"]:
        errors.append(f"config.framework must equal framework {record['framework']!r}, "
                      f"got {record['config']['framework']!r}")
    environment, model, metrics = record["environment"], record["model"], record["metrics"]
    if environment is not None and environment["framework"] != record["framework"]:
        errors.append(
            f"environment.framework must equal framework {record['framework']!r}, "
            f"got {environment['framework']!r}"
        )
    if model is not None:
        per_layer = sum(row["params"] for row in model["params_per_layer"])
        if per_layer != model["params_total"]:
            errors.append(
                f"model.params_total must equal the sum of params_per_layer ({per_layer}), "
                f"got {model['params_total']}"
            )
    if metrics is not None:
        k = len(metrics["classes"])
        if len(metrics["confusion"]) != k or any(len(row) != k for row in metrics["confusion"]):
            errors.append(f"metrics.confusion must be {k} x {k} for {k} classes")
        elif sum(map(sum, metrics["confusion"])) != metrics["n"]:
            errors.append(f"metrics.confusion must sum to metrics.n ({metrics['n']})")
    return errors


# Config keys the harness reads from a stored record without a default: every record ever
# written has them, and a record without one is not a run this harness made.
CONFIG_KEYS = (
    "batch_size", "data", "device", "early_stopping", "epochs", "fold", "hud", "image_size",
    "mode", "optimizer", "seed", "spec", "split", "split_seed", "threads", "variant",
)


def _config_problems(config: dict[str, Any]) -> list[str]:
    """The record's config must be a run config (the rules RunConfig applies when a run
    starts), holding the keys report and export index, so a hand-edited one whose hash was
    recomputed is still refused here rather than crashing a reader."""
    missing = [key for key in CONFIG_KEYS if key not in config]
    if missing:
        return [f"config.{missing[0]} is missing"]
    try:
        load_run_config(config)
    except ConfigError as exc:
        return [f"config is not a valid run config ({str(exc).removeprefix('run config ')})"]
    return []


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a regular file's bytes: what a record stores to vouch for its predictions file.
    DataError for a FIFO or device, which would block or never end."""
    with open_regular(path, "predictions file") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def predictions_problem(record: dict[str, Any], folder: Path) -> str | None:
    """Why the record's predictions file cannot be trusted, or None when it can.

    A record written before checksums existed is trusted when its file is there; a newer one
    only when the file's bytes match, so a truncated or replaced file makes the cell rerun. The
    file must be a regular file inside `folder`: a record naming /etc/passwd, a symlink out of
    the folder or a FIFO is never hashed.
    """
    name = record.get("predictions_file")
    if not name:
        return "the record names no predictions file"
    if not isinstance(name, str):
        return f"predictions_file must be a string, got {_short(name)}"
    try:
        path = inside(folder, name, "predictions file")
        digest = file_sha256(path)
    except DataError as exc:
        return str(exc)
    except OSError as exc:
        return f"predictions file {folder / name} cannot be read ({exc.strerror or exc})"
    expected = record.get("predictions_sha256")
    if expected is not None:
        if digest != expected:
            return f"predictions file {path} does not match the sha256 stored in its record"
        return None
    try:
        read_predictions(path)
    except DataError as exc:
        return str(exc)
    return None


PREDICTION_ARRAYS = ("val_indices", "y_true", "proba")
# A record is a few kB; anything far larger is not one, and is not read into memory whole.
MAX_RECORD_BYTES = 16 * 1024 * 1024


def read_predictions(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The arrays of a `.predictions.npz`; DataError for a truncated, pickled or foreign file.

    `allow_pickle=False` because a predictions file is data: loading a pickle would run code.
    """
    try:
        with open_regular(path, "predictions file") as handle, \
                np.load(handle, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise DataError(f"predictions file {path}: not a readable .npz ({reason})") from None
    missing = [key for key in PREDICTION_ARRAYS if key not in arrays]
    if missing:
        raise DataError(f"predictions file {path}: missing array {missing[0]!r} "
                        f"(expected {', '.join(PREDICTION_ARRAYS)})")
    return arrays


def read_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate one record; DataError names the file and the first problems."""
    source = Path(path)
    try:
        record = json.loads(read_regular(source, "result record", MAX_RECORD_BYTES))
    except OSError as exc:
        reason = exc.strerror or exc
        raise DataError(f"result record {source}: cannot read the file ({reason})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"result record {source}: not valid JSON ({exc})") from exc
    except RecursionError:
        raise DataError(f"result record {source}: not valid JSON (nested too deeply)") from None
    errors = validate_record(record)
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise DataError(f"result record {source}: invalid: {'; '.join(errors[:3])}{more}")
    return record
