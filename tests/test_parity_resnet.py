"""Parity for networks with batch norm: the training-mode thresholds are tight enough to see a
wrong convention, and a reduced ResNet passes end to end in both envs (the full ResNets'
figures are in docs/resnet.md; they take minutes on a CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_layer_registry import TINY_RESNET

from benchmarks.parity.check import THRESHOLDS as FORWARD_THRESHOLDS
from benchmarks.parity.train_mode import THRESHOLDS
from common_data.errors import ConfigError
from common_data.model.init_weights import init_weights
from common_data.model.layers import ops
from common_data.model.parity_probe import flat_state, parity_batch, running_names
from common_data.model.reference import forward, train_forward
from common_data.model.spec import Spec, load_spec

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_RESNET, encoding="utf-8")
    return load_spec(str(path))


def _running(spec: Spec) -> np.ndarray:
    x, _ = parity_batch(spec)
    _, running = train_forward(spec, init_weights(spec, 0), x)
    return flat_state(running, running_names(spec))


@pytest.mark.parametrize("wrong", ["biased running variance", "torch's momentum as Keras'"])
def test_a_wrong_batch_norm_convention_exceeds_the_running_statistics_threshold(
    monkeypatch, wrong
):
    spec = load_spec("resnet50", image_size=32)  # its last stage sees 8 values per channel
    right = _running(spec)
    original = ops.batchnorm

    def batchnorm(x, gamma, beta, mean, var, epsilon, momentum, training):
        y, stats = original(x, gamma, beta, mean, var, epsilon, momentum, training)
        if wrong == "biased running variance":
            biased = x.var(axis=(0, 1, 2))
            return y, (stats[0], momentum * var + (1 - momentum) * biased)
        return original(x, gamma, beta, mean, var, epsilon, 1 - momentum, training)

    monkeypatch.setattr(ops, "batchnorm", batchnorm)
    wrong_running = _running(spec)
    relative = np.abs(wrong_running - right) / np.maximum(np.abs(right), 1.0)
    assert relative.max() > 3 * THRESHOLDS["running_step1_max_rel_diff"]


def test_keras_default_epsilon_fails_the_inference_forward_check(spec, tmp_path):
    x, _ = parity_batch(spec)
    weights = init_weights(spec, 0)
    keras_eps = tmp_path / "keras_eps.toml"
    keras_eps.write_text(TINY_RESNET.replace("epsilon = 1e-5", "epsilon = 1e-3"), "utf-8")
    other = load_spec(str(keras_eps))
    diff = np.abs(forward(other, weights, x) - forward(spec, weights, x)).max()
    assert diff > 3 * FORWARD_THRESHOLDS["forward_max_abs_diff"]


@pytest.mark.cross_env
def test_a_reduced_resnet_passes_parity_in_both_envs(tmp_path):
    from benchmarks.matrix.envs import framework_python

    try:
        for framework in ("torch", "tf"):
            framework_python(framework)
    except ConfigError as exc:
        pytest.skip(f"parity needs both framework envs: {exc}")
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_RESNET, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "parity", "--spec", str(path), "--image-size", "32",
         "--json"], cwd=PROJECT_ROOT, capture_output=True, text=True, env=os.environ.copy(),
        timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    spec = load_spec(str(path), image_size=32)
    assert report["train_mode"]["trainable_params"] == {
        "torch": spec.trainable_params(), "tf": spec.trainable_params(),
        "spec": spec.trainable_params()}
    assert report["train_mode"]["running_tensors"] == len(running_names(spec)) > 0
    assert all(report["checks"].values())
