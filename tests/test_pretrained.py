"""Transfer learning: a torchvision-layout safetensors file the test writes itself becomes the
same canonical weights for both twins (each checked against the one float64 reference)."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("safetensors")  # framework envs only; the harness env never loads weights

from safetensors.numpy import save_file
from test_layer_registry import TINY_RESNET

from common_data.errors import ConfigError
from common_data.model.init_weights import init_weights
from common_data.model.pretrained import pretrained_weights
from common_data.model.reference import forward
from common_data.model.spec import Spec, load_spec
from common_data.run.config import load_run_config

IMAGENET_CLASSES = 7  # the file's own head, which the new 5-class head replaces


@pytest.fixture
def spec(tmp_path: Path) -> Spec:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_RESNET, encoding="utf-8")
    return load_spec(str(path))


def torchvision_file(spec: Spec, path: Path, drop: str = "", extra: str = "") -> Path:
    """Random weights under torchvision's names and layouts, with an ImageNet-sized head and
    torch's batch counters, as a user's file would hold them."""
    rng = np.random.default_rng(3)
    base = init_weights(spec, 7)
    tensors: dict[str, np.ndarray] = {}
    for name, shape in spec.param_shapes():
        module, suffix = name.rsplit(".", 1)
        module = module.replace("downsample.conv", "downsample.0")
        module = module.replace("downsample.bn", "downsample.1")
        value = base[name]
        if suffix != "kernel":  # batch norm off its identity start
            value = value + rng.uniform(0.0, 0.5, shape).astype(np.float32)
        if module == "fc":  # torch's (out, in), ImageNet-sized
            head = (IMAGENET_CLASSES, shape[0]) if suffix == "kernel" else (IMAGENET_CLASSES,)
            value = rng.uniform(-1, 1, head).astype(np.float32)
        elif value.ndim == 4:
            value = value.transpose(3, 2, 0, 1)
        torch_suffix = {"kernel": "weight", "gamma": "weight", "beta": "bias",
                        "moving_mean": "running_mean", "moving_variance": "running_var"}
        tensors[f"{module}.{torch_suffix.get(suffix, suffix)}"] = np.ascontiguousarray(value)
        if suffix == "moving_variance":
            tensors[f"{module}.num_batches_tracked"] = np.asarray(100, np.int64)
    tensors.pop(drop, None)
    if extra:
        tensors[extra] = np.zeros(3, np.float32)
    save_file(tensors, str(path))
    return path


def test_the_backbone_comes_from_the_file_and_the_head_from_the_seed(spec, tmp_path):
    path = torchvision_file(spec, tmp_path / "imagenet.safetensors")
    scratch = init_weights(spec, 0)
    weights = pretrained_weights(spec, scratch, path, "v1")
    assert list(weights) == [name for name, _ in spec.param_shapes()]
    np.testing.assert_array_equal(weights["fc.kernel"], scratch["fc.kernel"])
    from safetensors.numpy import load_file
    stored = load_file(str(path))
    np.testing.assert_array_equal(weights["conv1.kernel"],
                                  stored["conv1.weight"].transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(weights["layer2.0.downsample.bn.moving_variance"],
                                  stored["layer2.0.downsample.1.running_var"])
    np.testing.assert_array_equal(weights["layer1.1.bn2.beta"], stored["layer1.1.bn2.bias"])


def test_v2_gives_conv1_the_channel_mean_of_each_filter(spec, tmp_path):
    path = torchvision_file(spec, tmp_path / "imagenet.safetensors")
    v1 = pretrained_weights(spec, init_weights(spec, 0), path, "v1")
    v2 = pretrained_weights(spec, init_weights(spec, 0), path, "v2")
    mean = v1["conv1.kernel"].mean(axis=2)
    for channel in range(3):
        np.testing.assert_allclose(v2["conv1.kernel"][:, :, channel], mean, rtol=1e-6)
    grey = np.ones((1, 7, 7, 3))
    np.testing.assert_allclose(np.tensordot(grey, v2["conv1.kernel"], 3),
                               np.tensordot(grey, v1["conv1.kernel"], 3), rtol=1e-5)
    np.testing.assert_array_equal(v2["layer1.0.conv1.kernel"], v1["layer1.0.conv1.kernel"])


@pytest.mark.parametrize(("drop", "extra", "message"), [
    ("layer1.0.bn1.weight", "", r"lacks tensor 'layer1\.0\.bn1\.gamma' of spec 'tiny_resnet'"),
    ("", "layer3.0.conv1.weight",
     r"tensor 'layer3\.0\.conv1\.weight' has no counterpart in spec 'tiny_resnet'"),
    ("", "bn1.running_mean", r"tensor 'bn1\.running_mean' has shape \(3,\), spec 'tiny_resnet' "
     r"needs \(8,\)"),
])
def test_a_file_that_does_not_fit_is_a_one_line_error(spec, tmp_path, drop, extra, message):
    path = torchvision_file(spec, tmp_path / "imagenet.safetensors", drop, extra)
    with pytest.raises(ConfigError, match=message) as info:
        pretrained_weights(spec, init_weights(spec, 0), path, "v1")
    assert str(info.value).startswith(f"pretrained {path}: ") and "\n" not in str(info.value)


def test_a_missing_file_and_a_lone_transfer_key_are_config_errors(spec, tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        pretrained_weights(spec, init_weights(spec, 0), tmp_path / "none.safetensors", "v1")
    with pytest.raises(ConfigError, match="keys 'transfer' and 'pretrained' go together"):
        load_run_config({"transfer": "v2"})


def check_twin_loads_the_file(framework: str, spec: Spec, tmp_path: Path) -> None:
    path = torchvision_file(spec, tmp_path / "imagenet.safetensors")
    weights = pretrained_weights(spec, init_weights(spec, 0), path, "v1")
    package = {"torch": "pytorch_impl", "tf": "tf_impl"}[framework]
    twin = importlib.import_module(f"{package}.run").make_twin()
    config = load_run_config({"framework": framework, "device": "cpu", "pretrained": str(path),
                              "transfer": "v1", "optimizer": {"lr": 0.1}})
    twin.build(spec, weights, config)
    x = np.random.default_rng(4).uniform(0, 1, (4, *spec.input_shape)).astype(np.float32)
    np.testing.assert_allclose(twin.predict_logits(x), forward(spec, weights, x), atol=1e-5)
    assert twin.trainable_params() == 32 * 5 + 5  # the new head alone (layer2: 32 channels)
    twin.train_step(x, np.arange(4, dtype=np.int64), {})
    after = twin.canonical_state()
    for name, value in weights.items():
        if not name.startswith("fc."):  # frozen: weights and running statistics
            np.testing.assert_array_equal(after[name], value, err_msg=name)
    assert not np.array_equal(after["fc.kernel"], weights["fc.kernel"])


@pytest.mark.torch
def test_torch_twin_loads_the_file_and_trains_only_the_head(spec, tmp_path):
    pytest.importorskip("torch")
    check_twin_loads_the_file("torch", spec, tmp_path)


@pytest.mark.tf
def test_tf_twin_loads_the_file_and_trains_only_the_head(spec, tmp_path):
    pytest.importorskip("tensorflow")
    check_twin_loads_the_file("tf", spec, tmp_path)

