"""The contract both twins must meet, written once; each framework's test file subclasses it.

`TwinContract` is not collected itself (its name does not start with Test). Subclasses set
`framework` and `package`; the in-process checks import the framework, the runner checks
start `python -m <package>.run` exactly as the harness does.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS
from common_data.model.dropout import draw_masks, dropout_layers
from common_data.model.init_weights import init_weights
from common_data.model.reference import forward
from common_data.model.spec import load_spec
from common_data.run.config import load_run_config
from common_data.run.cpu import CPUINFO_ENV, cpu_bf16_features
from common_data.run.schema import read_record
from common_data.run.twin import Twin
from common_data.wire import PROGRESS_PREFIX
from tf_impl import ONEDNN_ENV

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PUBLISHED_PARAMS = 3_305_285
TINY_RUN = {"image_size": 32, "epochs": 2, "batch_size": 8}


def runner(package: str, config: dict[str, Any], tmp_path: Path, **popen: Any) -> Any:
    """Write the config and start the runner; `popen` switches to a running Popen."""
    config_path = tmp_path / "run.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    command = [sys.executable, "-m", f"{package}.run", "--config", str(config_path),
               "--out", str(tmp_path / "result.json")]
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    if popen:
        return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, text=True, **popen)
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def fake_cpuinfo(folder: Path, flags: str) -> Path:
    """A /proc/cpuinfo of a two-core CPU with these x86 flags."""
    path = folder / "cpuinfo"
    path.write_text("".join(f"processor\t: {n}\nmodel name\t: Fake CPU\nflags\t\t: {flags}\n\n"
                            for n in range(2)), encoding="utf-8")
    return path


class TwinContract:
    framework: str
    package: str

    def make_twin(self) -> Twin:
        return importlib.import_module(f"{self.package}.run").make_twin()

    def build(self, image_size: int = 128, num_classes: int | None = None
              ) -> tuple[Twin, Any, dict[str, np.ndarray]]:
        spec = load_spec("baseline_cnn", image_size=image_size, num_classes=num_classes)
        weights = init_weights(spec, 0)
        twin = self.make_twin()
        twin.build(spec, weights, load_run_config({"framework": self.framework, "device": "cpu"}))
        return twin, spec, weights

    def test_weights_replace_the_old_file_only_once_complete(
            self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The twin's weights go through the atomic writer: a save that dies before its
        rename leaves the previous file as it was and no temporary beside it."""
        twin, _, _ = self.build(image_size=32)
        path = twin.save_weights(tmp_path)
        path.write_bytes(b"the previous weights")

        def crash(*_: Any) -> None:
            raise OSError("killed before the rename")

        monkeypatch.setattr("common_data.atomic.os.replace", crash)
        with pytest.raises(OSError, match="killed before the rename"):
            twin.save_weights(tmp_path)
        assert path.read_bytes() == b"the previous weights"
        assert [p.name for p in tmp_path.iterdir()] == [path.name]

    def test_parameters_are_the_published_ones_at_128(self) -> None:
        twin, spec, _ = self.build()
        shapes = twin.parameter_shapes()
        assert shapes == dict(spec.param_shapes())
        assert sum(math.prod(s) for s in shapes.values()) == PUBLISHED_PARAMS
        assert twin.trainable_params() == PUBLISHED_PARAMS

    def test_forward_matches_the_float64_reference(self) -> None:
        twin, spec, weights = self.build()
        x = np.random.default_rng(7).uniform(0, 1, (4, *spec.input_shape)).astype(np.float32)
        logits = twin.predict_logits(x)
        assert logits.shape == (4, spec.num_classes)
        assert np.abs(logits - forward(spec, weights, x)).max() < 1e-5

    def test_head_follows_the_datasets_class_count(self) -> None:
        """Seven classes: seven logits, the same numbers as the reference (parity unchanged)."""
        twin, spec, weights = self.build(image_size=32, num_classes=7)
        assert twin.parameter_shapes() == dict(spec.param_shapes())
        assert spec.param_shapes()[-2:] == [("dense2.kernel", (128, 7)), ("dense2.bias", (7,))]
        x = np.random.default_rng(9).uniform(0, 1, (3, *spec.input_shape)).astype(np.float32)
        logits = twin.predict_logits(x)
        assert logits.shape == (3, 7)
        assert np.abs(logits - forward(spec, weights, x)).max() < 1e-5

    def test_a_six_class_dataset_is_trained_on_all_six(
        self, make_dataset: Callable[..., Path], tmp_cache: Path, tmp_path: Path
    ) -> None:
        folders = ["anger", "disgust", "fear", "happy", "neutral", "sad"]  # no card: names
        data = make_dataset(folders=folders, per_folder=6)
        config = {"framework": self.framework, "data": str(data), **TINY_RUN, "epochs": 1}
        result = runner(self.package, config, tmp_path)
        assert result.returncode == 0, result.stderr
        record = read_record(tmp_path / "result.json")
        assert record["metrics"]["classes"] == folders
        assert len(record["metrics"]["confusion"]) == 6
        with np.load(tmp_path / record["predictions_file"]) as stored:
            assert stored["proba"].shape[1] == 6

    def test_training_applies_the_shared_dropout_masks(self) -> None:
        """The logits of a training step and of a masked forward are the reference's with
        the very same masks: a twin that ignored them (or drew its own) would differ by O(1)."""
        twin, spec, weights = self.build(image_size=32)
        x = np.random.default_rng(8).uniform(0, 1, (6, *spec.input_shape)).astype(np.float32)
        y = (np.arange(6) % spec.num_classes).astype(np.int64)
        masks = draw_masks(dropout_layers(spec), seed=0, epoch=0, step=0, batch=6)
        expected = forward(spec, weights, x, masks)
        assert np.abs(expected - forward(spec, weights, x)).max() > 1e-2
        assert np.abs(twin.predict_logits(x, masks) - expected).max() < 1e-5
        _, logits = twin.train_step(x, y, masks)
        assert np.abs(logits - expected).max() < 1e-5

    def test_tiny_run_writes_a_valid_record(
        self, make_dataset: Callable[..., Path], tmp_cache: Path, tmp_path: Path
    ) -> None:
        data = make_dataset(per_folder=6)
        config = {"framework": self.framework, "data": str(data), **TINY_RUN}
        result = runner(self.package, config, tmp_path)
        assert result.returncode == 0, result.stderr
        out = tmp_path / "result.json"
        record = read_record(out)
        assert record["status"] == "ok"
        assert record["run_id"] == "result"
        assert record["environment"]["device"] == "cpu"
        assert record["environment"]["threads"] == {"intra_op": 2, "inter_op": 1}
        assert record["model"]["params_total"] == load_spec("baseline_cnn", 32).total_params()
        assert [h["epoch"] for h in record["history"]] == [1, 2]
        progress = [json.loads(line[len(PROGRESS_PREFIX):])
                    for line in result.stderr.splitlines() if line.startswith(PROGRESS_PREFIX)]
        assert [(p["epoch"], p["epochs"]) for p in progress] == [(1, 2), (2, 2)]
        with np.load(out.parent / record["predictions_file"]) as stored:
            proba, y_true = stored["proba"], stored["y_true"]
            assert len(stored["val_indices"]) == record["data"]["n_val"] == len(y_true)
        assert proba.shape == (len(y_true), 5)
        assert np.allclose(proba.sum(axis=1), 1.0)
        assert record["metrics"]["n"] == len(y_true)
        assert (out.parent / record["weights_file"]).is_file()
        assert record["timing"]["warmup_s"] > 0 and record["timing"]["step_ms_median"] > 0

    @pytest.mark.parametrize("override, expected", [
        ({"epochz": 2}, "unknown key 'epochz'"),
        ({"epochs": "two"}, "'epochs' must be"),
        ({"variant": "fancy"}, "'variant' must be"),
    ])
    def test_invalid_config_exits_2_with_one_line(
        self, override: dict[str, Any], expected: str, tmp_path: Path
    ) -> None:
        self.expect_config_error({"framework": self.framework, **override}, expected, tmp_path)

    def test_config_of_the_other_framework_exits_2(self, tmp_path: Path) -> None:
        other = {"torch": "tf", "tf": "torch"}[self.framework]
        self.expect_config_error({"framework": other}, f"trains {self.framework!r}", tmp_path)

    def expect_config_error(self, config: dict[str, Any], expected: str, tmp_path: Path) -> None:
        result = runner(self.package, config, tmp_path)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
        assert not (tmp_path / "result.json").exists()

    def test_bf16_on_a_cpu_without_it_is_refused_in_one_line(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A CPU without avx512_bf16/amx_bf16 (a fake /proc/cpuinfo): the runner refuses
        device 'cpu' before training (exit 2), and the twin refuses 'auto' once it picked the
        CPU, naming the mode and the missing feature."""
        monkeypatch.setenv(CPUINFO_ENV, str(fake_cpuinfo(tmp_path, "avx2 avx512f")))
        bf16 = {"framework": self.framework, "mode": {"mixed_precision": True}}
        self.expect_config_error({**bf16, "device": "cpu"},
                                 "mode 'mixed_precision' (bf16) on the CPU needs the CPU "
                                 "feature avx512_bf16 or amx_bf16", tmp_path)
        spec = load_spec("baseline_cnn", image_size=32)
        with pytest.raises(ConfigError, match="needs the CPU feature avx512_bf16 or amx_bf16"):
            self.make_twin().build(spec, init_weights(spec, 0), load_run_config(bf16))

    def test_bf16_mode_computes_in_bf16_and_keeps_float32_weights_and_logits(self) -> None:
        if not cpu_bf16_features():
            pytest.skip("this CPU has no bf16 (avx512_bf16 or amx_bf16)")
        spec = load_spec("baseline_cnn", image_size=32)
        weights = init_weights(spec, 0)
        twin = self.make_twin()
        twin.build(spec, weights, load_run_config(
            {"framework": self.framework, "device": "cpu", "mode": {"mixed_precision": True}}))
        x = np.random.default_rng(7).uniform(0, 1, (4, *spec.input_shape)).astype(np.float32)
        y = (np.arange(4) % spec.num_classes).astype(np.int64)
        logits = twin.predict_logits(x)
        off = np.abs(logits - forward(spec, weights, x)).max()
        assert logits.dtype == np.float32
        assert 1e-4 < off < 5e-2, off  # bf16 rounding: above float32's 1e-5, far below O(1)
        loss, _ = twin.train_step(x, y)
        assert math.isfinite(loss)
        state = twin.canonical_state()
        assert {a.dtype for a in state.values()} == {np.dtype(np.float32)}
        assert any(not np.array_equal(state[k], weights[k]) for k in weights)

    def test_nan_loss_ends_the_run_as_diverged(
        self, make_dataset: Callable[..., Path], tmp_cache: Path, tmp_path: Path
    ) -> None:
        data = make_dataset(per_folder=6)
        config = {"framework": self.framework, "data": str(data), **TINY_RUN, "epochs": 3,
                  "optimizer": {"lr": 1e10}}
        result = runner(self.package, config, tmp_path)
        assert result.returncode == 0, result.stderr
        record = read_record(tmp_path / "result.json")
        assert record["status"] == "diverged"
        assert record["diverged_at_epoch"] == len(record["history"]) == 1
        assert record["history"][-1]["loss"] is None
        assert record["metrics"] is None

    def test_killed_runner_leaves_no_partial_record(
        self, make_dataset: Callable[..., Path], tmp_cache: Path, tmp_path: Path
    ) -> None:
        data = make_dataset(per_folder=6)
        config = {"framework": self.framework, "data": str(data), **TINY_RUN, "epochs": 500}
        proc = runner(self.package, config, tmp_path, stderr=subprocess.PIPE)
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith(PROGRESS_PREFIX):
                    break
            else:
                pytest.fail("the runner ended before its first epoch")
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
        out = tmp_path / "result.json"
        if out.exists():
            read_record(out)

    def test_defaults_probe_reports_the_frameworks_own_choice_not_the_callers(self) -> None:
        """`python -m <package>.defaults` is what "out of the box" runs in: a oneDNN setting
        left in the caller's environment must not answer for TensorFlow."""
        answers = []
        for setting in ("0", "1"):
            done = subprocess.run(
                [sys.executable, "-m", f"{self.package}.defaults"], cwd=PROJECT_ROOT,
                env={**os.environ, ONEDNN_ENV: setting}, capture_output=True, text=True,
                check=True)
            answers.append(json.loads(done.stdout.strip().splitlines()[-1]))
        assert answers[0] == answers[1]
        assert set(answers[0]) == set(FRAMEWORKS[self.framework].modes)
