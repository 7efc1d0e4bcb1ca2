"""The result record: what the harness reads back from every run."""

import copy
import json
import os

import numpy as np
import pytest

from common_data.atomic import write_json_atomic
from common_data.errors import DataError
from common_data.model.init_weights import INIT_SCHEME, init_weights, weights_digest
from common_data.model.spec import load_spec
from common_data.run.config import load_run_config
from common_data.run.metrics import classification_metrics
from common_data.run.schema import SCHEMA_VERSION, read_record, validate_record

FIVE = ("angry", "happy", "natural", "sad", "surprise")
HEX = "ab" * 32


def _record(status="ok"):
    config = load_run_config({"epochs": 2, "image_size": 64})
    spec = load_spec("baseline_cnn", image_size=64)
    y = np.array([0, 1, 2, 3, 4, 0])
    proba = np.eye(5)[[0, 1, 2, 3, 4, 1]] * 0.9 + 0.02
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": "torch-baseline-s0",
        "status": status,
        "framework": "torch",
        "config": config.to_dict(),
        "config_hash": config.hash(),
        "environment": {
            "framework": "torch", "framework_version": "2.13.0", "python": "3.11.7",
            "os": "Linux", "cpu": "x86_64", "gpu": None, "device": "cpu",
            "threads": {"intra_op": 2, "inter_op": 1},
        },
        "model": {
            "spec": spec.name, "spec_hash": spec.hash(), "init_scheme": INIT_SCHEME,
            "weights_digest": weights_digest(init_weights(spec, 0)),
            "params_total": spec.total_params(), "params_trainable": spec.total_params(),
            "params_per_layer": spec.param_counts(),
        },
        "data": {
            "dataset": "synthetic", "dataset_hash": HEX, "cache_key": "k1", "split": "random",
            "fold": None, "split_hash": HEX, "n_train": 24, "n_val": 6, "image_size": 64,
            "hud": "full",
        },
        "history": [
            {"epoch": 1, "loss": 1.6, "accuracy": 0.2, "val_loss": 1.5, "val_accuracy": 0.3,
             "lr": 0.001, "seconds": 1.25},
        ],
        "diverged_at_epoch": None,
        "metrics": classification_metrics(y, proba, FIVE),
        "predictions_file": "predictions/torch-baseline-s0.npz",
        "weights_file": None,
        "timing": {
            "warmup_s": 0.5, "step_ms_median": 12.0, "step_ms_p90": 15.0, "images_per_s": 900.0,
            "train_s": 2.5, "device_s": None, "data_wait_ms_median": 0.3,
            "data_wait_fraction": 0.02, "eval_s": 0.1, "total_s": 3.4,
        },
        "memory": {"peak_rss_mb": 512.5, "device_peak_mb": None},
        "error": None,
        "started_at": "2026-05-09T10:00:00+00:00",
        "finished_at": "2026-05-09T10:00:04+00:00",
    }


def test_a_complete_ok_record_is_valid():
    assert validate_record(_record()) == []


def test_a_failed_run_may_stop_before_model_and_data():
    record = _record("failed")
    record.update(metrics=None, error="DataError: no images found", model=None, data=None,
                  history=None, timing=None, memory=None, environment=None)
    assert validate_record(record) == []


def test_a_diverged_run_names_its_epoch_and_has_no_metrics():
    record = _record("diverged")
    record.update(metrics=None, diverged_at_epoch=3)
    record["history"][0]["loss"] = None  # NaN is not JSON: non-finite values are written null
    assert validate_record(record) == []
    record["diverged_at_epoch"] = None
    assert validate_record(record) == [
        "diverged_at_epoch must be set exactly when status is 'diverged', got None "
        "with status 'diverged'"
    ]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("history", 0, "loss"), "1.6",
         "history[0].loss must be null or a finite number, got '1.6'"),
        (("history", 0, "epoch"), True, "history[0].epoch must be an integer >= 0, got True"),
        (("model", "params_per_layer", 0, "shapes", "kernel", 1), 3.0,
         "model.params_per_layer[0].shapes.kernel[1] must be an integer >= 0, got 3.0"),
        (("metrics", "per_class", "sad", "recall"), 1.5,
         "metrics.per_class.sad.recall must be a number in [0, 1], got 1.5"),
        (("status",), "done", "status must be 'ok', 'diverged' or 'failed', got 'done'"),
        (("schema_version",), 2, "schema_version must be 1, got 2"),
        (("config_hash",), "xyz", "config_hash must be a sha256 hex digest, got 'xyz'"),
        (("environment", "gpu"), 0, "environment.gpu must be null or a non-empty string, got 0"),
        (("environment", "concurrent_runs"), 0,
         "environment.concurrent_runs must be an integer >= 1, got 0"),
        (("data", "split"), "kfold",
         "data.split must be 'random', 'session', 'loso' or 'grouped', got 'kfold'"),
        (("timing", "total_s"), float("nan"),
         "timing.total_s must be null or a finite number, got nan"),
        (("predictions_file",), "/abs/p.npz",
         "predictions_file must be null or a relative path inside the record's folder, "
         "got '/abs/p.npz'"),
        (("started_at",), "yesterday",
         "started_at must be an ISO 8601 timestamp string, got 'yesterday'"),
        (("metrics",), [], "metrics must be null or an object, got []"),
    ],
)
def test_type_errors_name_the_field_path(path, value, message):
    record = _record()
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert message in validate_record(record)


def test_missing_and_unknown_fields_are_reported():
    record = _record()
    del record["timing"]["eval_s"]
    record["memory"]["peak_vram_mb"] = 1.0
    assert validate_record(record) == [
        "timing.eval_s is missing",
        "memory.peak_vram_mb is not a field of the schema",
    ]


def test_cross_field_rules():
    record = _record()
    record["metrics"] = None
    assert "metrics must be set exactly when status is 'ok', got None with status 'ok'" in \
        validate_record(record)
    record = _record()
    record["model"]["params_total"] += 1
    assert any("model.params_total must equal the sum of params_per_layer" in m
               for m in validate_record(record))
    record = _record()
    record["config"]["epochs"] = 3  # the hash the harness skips finished cells by goes stale
    assert validate_record(record) == [
        "config_hash must be the sha256 of config's canonical JSON (RunConfig.hash()), "
        "got a different digest"
    ]
    record = _record()
    record["environment"]["framework"] = "tf"
    assert validate_record(record) == [
        "environment.framework must equal framework 'torch', got 'tf'"
    ]
    record = _record()
    record["metrics"]["confusion"][0][0] += 1
    assert validate_record(record) == ["metrics.confusion must sum to metrics.n (6)"]


def test_write_then_read_round_trips_numpy_values(tmp_path):
    record = _record()
    record["memory"]["peak_rss_mb"] = np.float32(256.0)
    record["data"]["n_train"] = np.int64(24)
    assert validate_record(record) == []
    path = tmp_path / "result.json"
    write_json_atomic(path, record)
    loaded = read_record(path)
    assert loaded["memory"]["peak_rss_mb"] == 256.0 and loaded["data"]["n_train"] == 24
    assert os.listdir(tmp_path) == ["result.json"]


@pytest.mark.parametrize("poison", [object(), float("nan")])
def test_failed_serialisation_leaves_the_old_file_and_no_temporaries(tmp_path, poison):
    path = tmp_path / "result.json"
    path.write_text('{"old": true}')
    record = _record()
    record["history"].append({"epoch": 2, "loss": poison})  # deep inside, after valid data
    with pytest.raises((TypeError, ValueError)):
        write_json_atomic(path, record)
    assert path.read_text() == '{"old": true}'
    assert os.listdir(tmp_path) == ["result.json"]


def test_failed_rename_cleans_up_its_temporary(tmp_path, monkeypatch):
    path = tmp_path / "result.json"

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(path, {"a": 1})
    assert os.listdir(tmp_path) == []


def test_read_record_names_the_file_for_broken_or_invalid_records(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1,')
    with pytest.raises(DataError, match=rf"result record {broken}: not valid JSON"):
        read_record(broken)
    invalid = tmp_path / "invalid.json"
    record = copy.deepcopy(_record())
    record["status"] = "done"
    invalid.write_text(json.dumps(record))
    with pytest.raises(DataError, match=rf"result record {invalid}: invalid: status must be"):
        read_record(invalid)
    with pytest.raises(DataError, match="cannot read the file"):
        read_record(tmp_path / "missing.json")
