"""The ResNet specs: torchvision's networks, counted from the spec, and the spec errors a user
of the new layer types can make."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common_data.errors import ConfigError
from common_data.model.init_weights import init_weights
from common_data.model.spec import SPECS_DIR, load_spec

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESNET50_TOML = (SPECS_DIR / "resnet50.toml").read_text(encoding="utf-8")

# Pinned: a change here re-labels every stored record of these specs (records keep spec_hash).
SPEC_HASHES = {
    "baseline_cnn": "e6b3b57f6c16d57bc39cb7bf08c0c74f11b58a1d57eebbee9c5e4f374aa730ca",
    "published_torch_cnn": "2a3e820ea7c47ac76699a57fe44d52fe48d924f948be18e61951af0d7894f174",
}


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "custom.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("name", "torchvision_params"), [
    ("resnet50", 25_557_032), ("resnet152", 60_192_808)])
def test_trainable_params_are_torchvisions_with_a_5_class_head(name, torchvision_params):
    spec = load_spec(name)
    head = 2048 * 5 + 5
    assert spec.trainable_params() == torchvision_params - (2048 * 1000 + 1000) + head
    bn_channels = sum(shape[0] for n, shape in spec.param_shapes() if n.endswith(".gamma"))
    assert spec.total_params() == spec.trainable_params() + 2 * bn_channels


def test_resnet50_counts_are_stated():
    spec = load_spec("resnet50")
    assert spec.trainable_params() == 23_518_277
    assert spec.total_params() == 23_571_397  # + 53,120 running statistics
    # 4.087 G multiply-adds at 224 px (torchvision: 4.09 GFLOPS, counted as MACs)
    assert spec.flops_per_image() == 2 * 4_087_146_496


def test_torchvision_layout_names_and_shapes():
    shapes = dict(load_spec("resnet50").param_shapes())
    assert shapes["conv1.kernel"] == (7, 7, 3, 64)
    assert "conv1.bias" not in shapes
    assert shapes["layer1.0.conv1.kernel"] == (1, 1, 64, 64)
    assert shapes["layer2.0.conv2.kernel"] == (3, 3, 128, 128)
    assert shapes["layer1.0.downsample.conv.kernel"] == (1, 1, 64, 256)
    assert shapes["layer4.0.downsample.bn.moving_variance"] == (2048,)
    assert "layer1.1.downsample.conv.kernel" not in shapes  # identity shortcut
    assert shapes["fc.kernel"] == (2048, 5)
    assert sum(n.endswith("downsample.conv.kernel") for n in shapes) == 4


def test_strides_halve_the_map_as_torchvision_does():
    shapes = dict(load_spec("resnet50", image_size=64).output_shapes())
    assert shapes["conv1"] == (32, 32, 64) and shapes["maxpool"] == (16, 16, 64)
    assert shapes["layer4"] == (2, 2, 2048) and shapes["avgpool"] == (2048,)
    odd = dict(load_spec("resnet50", image_size=65).output_shapes())
    assert odd["conv1"] == (33, 33, 64) and odd["layer2"] == (9, 9, 512)


def test_batch_norm_starts_at_the_identity_and_blocks_draw_their_own_kernels():
    weights = init_weights(load_spec("resnet50", image_size=32), 0)
    assert (weights["bn1.gamma"] == 1).all() and (weights["bn1.moving_variance"] == 1).all()
    assert not weights["layer1.0.bn1.beta"].any() and not weights["bn1.moving_mean"].any()
    a, b = weights["layer1.1.conv1.kernel"], weights["layer1.2.conv1.kernel"]
    assert a.shape == b.shape and not np.array_equal(a, b)
    limit = math.sqrt(6 / (256 + 64))
    assert 0.99 * limit < np.abs(a).max() <= limit


@pytest.mark.parametrize(("old", "new", "message"), [
    ("blocks = 3\nwidth = 64\nstride = 1\n",
     'blocks = 3\nwidth = 64\nstride = 1\nshortcut = "identity"\n',
     r"layer 'layer1': block layer1\.0: the residual add joins a shortcut of shape "
     r"\(8, 8, 64\) and a branch of shape \(8, 8, 256\)"),
    ("blocks = 3\nwidth = 64\n", "blocks = 3\nwidht = 64\n",
     r"layer 'layer1': unknown key 'widht' for a stage layer \(expected one of: name, type, "
     r"blocks, width, stride, epsilon, momentum, expansion, shortcut\)"),
    ("epsilon = 1e-5\nmomentum = 0.9\nactivation", "momentum = 0.9\nactivation",
     r"layer 'bn1': missing key 'epsilon' for a batchnorm layer"),
    ("momentum = 0.9\nactivation", "momentum = 1.5\nactivation",
     r"layer 'bn1': 'momentum' must be a number in \[0, 1\)"),
    ("padding = 3\n", 'padding = "same"\n',
     r"layer 'conv1': padding 'same' with stride 2 pads asymmetrically in Keras"),
    ("size = 3\nstride = 2\npadding = 1", "size = 3\nstride = 2\npadding = 2",
     r"layer 'maxpool': 'padding' 2 is more than half the pool size 3"),
])
def test_spec_errors_are_one_line_and_name_the_layer(tmp_path, old, new, message):
    assert old in RESNET50_TOML
    path = _write(tmp_path, RESNET50_TOML.replace(old, new, 1).replace("[224, 224", "[32, 32"))
    with pytest.raises(ConfigError, match=message) as info:
        load_spec(path)
    assert str(info.value).startswith(f"spec {path}:") and "\n" not in str(info.value)


@pytest.mark.parametrize("name", list(SPEC_HASHES))
def test_existing_specs_keep_their_hash(name):
    assert load_spec(name).hash() == SPEC_HASHES[name]


@pytest.mark.cross_env  # the harness CLI needs the harness env
@pytest.mark.parametrize(("extra", "expected"), [
    ([], "keys 'transfer' and 'pretrained' go together"),
    (["--pretrained", "absent.safetensors"], "--pretrained absent.safetensors: no such file"),
])
def test_a_transfer_profile_without_a_file_is_refused_before_any_run(tmp_path, extra, expected):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "compare", "--profile", "resnet50_v1",
         "--results", str(tmp_path), "--no-report", *extra],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and expected in lines[0], result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
