"""The shared training protocol, driven by a NumPy fake twin so it runs in every env.

What is checked here is what both twins inherit: Keras' early-stopping and plateau semantics,
restore-best, divergence, failure records and the runner's config errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from common_data.errors import ConfigError
from common_data.model.dropout import Masks, draw_masks, dropout_layers
from common_data.model.spec import Spec
from common_data.run.callbacks import EarlyStopping, ReduceOnPlateau
from common_data.run.config import RunConfig, load_run_config
from common_data.run.driver import run
from common_data.run.entry import run_main
from common_data.run.host import concurrent_runs
from common_data.run.schema import read_record
from common_data.run.twin import Twin
from common_data.wire import CONCURRENT_RUNS_ENV


class FakeTwin(Twin):
    """Scripted per epoch: the training loss and a logit `q` for class 0 at prediction.
    With q >= 0 the validation loss grows with q, so the script orders the epochs."""

    framework = "torch"

    def __init__(self, losses: list[float], qs: list[float], fail: bool = False) -> None:
        self.losses, self.qs, self.fail = losses, qs, fail
        self.epoch = 0
        self.lrs: list[float] = []
        self.masks: list[Any] = []

    def build(self, spec: Spec, weights: Mapping[str, np.ndarray], config: RunConfig) -> None:
        self.spec = spec

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return dict(self.spec.param_shapes())

    def trainable_params(self) -> int:
        return self.spec.total_params()

    def train_step(
        self, x: np.ndarray, y: np.ndarray, masks: Masks | None = None
    ) -> tuple[float, np.ndarray]:
        self.masks.append(masks)
        if self.fail:
            raise RuntimeError("boom in the framework")
        return self.losses[self.epoch - 1], np.zeros((len(y), 5))

    def predict_logits(self, x: np.ndarray, masks: Masks | None = None) -> np.ndarray:
        logits = np.zeros((len(x), 5))
        logits[:, 0] = self.qs[self.epoch - 1]
        return logits

    def set_lr(self, lr: float) -> None:
        self.epoch += 1
        self.lrs.append(lr)

    def set_training(self, training: bool) -> None:
        pass

    def canonical_state(self) -> dict[str, np.ndarray]:
        return {name: np.zeros(shape, np.float32) for name, shape in self.spec.param_shapes()}

    def get_state(self) -> Any:
        return self.epoch

    def set_state(self, state: Any) -> None:
        self.epoch = state

    def save_weights(self, folder: Path) -> Path:
        path = folder / "fake.npy"
        np.save(path, np.zeros(1))
        return path

    def environment(self) -> dict[str, Any]:
        return {"framework_version": "0", "gpu": None, "device": "cpu",
                "threads": {"intra_op": 1, "inter_op": 1}}

    def device_peak_memory_mb(self) -> float | None:
        return None


def config(data: Path, **overrides: Any) -> RunConfig:
    return load_run_config({"framework": "torch", "data": str(data), "image_size": 32,
                            "batch_size": 8, **overrides})


@pytest.fixture
def data(make_dataset: Callable[..., Path], tmp_cache: Path) -> Path:
    return make_dataset(per_folder=6)


def test_early_stopping_counts_only_strict_improvements() -> None:
    stopper = EarlyStopping("val_loss", patience=2)
    steps = [stopper.update(epoch, {"val_loss": v})
             for epoch, v in enumerate([1.0, 0.9, 0.95, 0.9], start=1)]
    assert steps == [(True, False), (True, False), (False, False), (False, True)]


def test_early_stopping_maximises_accuracy_and_never_stops_after_epoch_one() -> None:
    stopper = EarlyStopping("val_accuracy", patience=0)
    assert stopper.update(1, {"val_accuracy": 0.5}) == (True, False)
    assert stopper.update(2, {"val_accuracy": 0.4}) == (False, True)


def test_reduce_on_plateau_decays_after_patience_and_stops_at_min_lr() -> None:
    plateau = ReduceOnPlateau("val_loss", patience=2, factor=0.5, min_lr=0.3)
    lr, lrs = 1.0, []
    for _ in range(8):
        lr = plateau.update({"val_loss": 1.0}, lr)
        lrs.append(lr)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3]


def test_early_stopping_restores_the_best_epoch(data: Path, tmp_path: Path) -> None:
    twin = FakeTwin(losses=[1.0] * 9, qs=[3.0, 1.0, 2.0, 2.0, 0.5, 0.5, 0.5, 0.5, 0.5])
    cfg = config(data, epochs=9, early_stopping={"enabled": True, "patience": 2})
    assert run(twin, cfg, tmp_path / "r.json") == 0
    record = read_record(tmp_path / "r.json")
    assert [h["epoch"] for h in record["history"]] == [1, 2, 3, 4]
    assert twin.epoch == 2
    with np.load(tmp_path / record["predictions_file"]) as stored:
        expected = np.exp([1.0, 0, 0, 0, 0]) / np.exp([1.0, 0, 0, 0, 0]).sum()
        assert np.allclose(stored["proba"], expected)


@pytest.mark.parametrize("source", ["shared", "framework"])
def test_each_step_gets_the_shared_masks_of_its_seed_epoch_and_step(
    data: Path, tmp_path: Path, source: str
) -> None:
    twin = FakeTwin(losses=[1.0] * 2, qs=[1.0] * 2)
    cfg = config(data, epochs=2, seed=3, dropout=source)
    assert run(twin, cfg, tmp_path / "r.json") == 0
    if source == "framework":
        assert twin.masks and all(m is None for m in twin.masks)
        return
    layers = dropout_layers(twin.spec)
    steps_per_epoch = len(twin.masks) // 2
    for i, masks in enumerate(twin.masks):
        epoch, step = divmod(i, steps_per_epoch)
        batch = len(masks["dropout"])
        expected = draw_masks(layers, 3, epoch, step, batch)
        assert masks.keys() == expected.keys() == {"dropout"}
        assert np.array_equal(masks["dropout"], expected["dropout"])
    assert not np.array_equal(twin.masks[0]["dropout"], twin.masks[1]["dropout"])


def test_reduce_on_plateau_sets_the_twin_lr(data: Path, tmp_path: Path) -> None:
    twin = FakeTwin(losses=[1.0] * 4, qs=[1.0] * 4)
    cfg = config(data, epochs=4, optimizer={"lr": 0.01},
                 reduce_on_plateau={"enabled": True, "patience": 1, "factor": 0.1})
    assert run(twin, cfg, tmp_path / "r.json") == 0
    assert twin.lrs == pytest.approx([0.01, 0.01, 0.001, 0.0001])
    history = read_record(tmp_path / "r.json")["history"]
    assert [h["lr"] for h in history] == pytest.approx(twin.lrs)


def test_non_finite_loss_records_a_diverged_run(data: Path, tmp_path: Path) -> None:
    twin = FakeTwin(losses=[1.0, float("nan"), 1.0], qs=[1.0] * 3)
    assert run(twin, config(data, epochs=3), tmp_path / "r.json") == 0
    record = read_record(tmp_path / "r.json")
    assert record["status"] == "diverged" and record["diverged_at_epoch"] == 2
    assert record["history"][-1]["loss"] is None and record["weights_file"] is None


def test_an_exception_records_a_failed_run_and_exits_1(data: Path, tmp_path: Path) -> None:
    twin = FakeTwin(losses=[1.0], qs=[1.0], fail=True)
    assert run(twin, config(data, epochs=1), tmp_path / "r.json") == 1
    record = read_record(tmp_path / "r.json")
    assert record["status"] == "failed"
    assert "boom in the framework" in record["error"].splitlines()[-1]
    assert record["model"]["params_total"] == record["model"]["params_trainable"]


def test_run_main_refuses_a_bad_config_before_building_a_twin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_twin() -> Twin:
        raise AssertionError("a twin was built for an invalid config")

    path = tmp_path / "run.json"
    path.write_text(json.dumps({"framework": "tf"}), encoding="utf-8")
    argv = ["--config", str(path), "--out", str(tmp_path / "r.json")]
    code = run_main("torch", no_twin, argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "trains 'torch'" in err[0]
    assert not (tmp_path / "r.json").exists()


def test_the_record_says_how_many_runs_shared_the_machine(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONCURRENT_RUNS_ENV, "3")
    assert run(FakeTwin(losses=[1.0], qs=[1.0]), config(data, epochs=1),
                        tmp_path / "r.json") == 0
    assert read_record(tmp_path / "r.json")["environment"]["concurrent_runs"] == 3
    monkeypatch.setenv(CONCURRENT_RUNS_ENV, "0")
    with pytest.raises(ConfigError, match="THERMAL_BENCH_CONCURRENT_RUNS='0': expected an"):
        concurrent_runs()
