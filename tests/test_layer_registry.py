"""The layer registry: every type a spec may name is declared once, and each twin builds every
one of them explicitly and computes what the float64 reference computes.

The twin tests are parametrised over the registry, so a type added to the registry alone makes
`test_torch_twin_builds_the_type[<type>]` (torch env) and `test_tf_twin_builds_the_type[<type>]`
(tf env) fail by name, as does `test_every_type_has_an_example[<type>]` everywhere.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from common_data.errors import ConfigError
from common_data.model.dropout import draw_masks, dropout_layers
from common_data.model.init_weights import init_weights
from common_data.model.layers import LAYER_TYPES, layer_type
from common_data.model.reference import forward, train_forward
from common_data.model.spec import Spec, load_spec
from common_data.run.config import load_run_config

HEAD = [{"name": "flat", "type": "flatten"}, {"name": "out", "type": "dense", "units": 3}]
POOLED_HEAD = [{"name": "gap", "type": "globalavgpool"}, {"name": "out", "type": "dense",
                                                         "units": 3}]
BN = {"epsilon": 1e-3, "momentum": 0.8}

# One small network per registry type, exercising its non-default keys.
EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "conv": [{"name": "c", "type": "conv", "filters": 4, "kernel": 3, "stride": 2,
              "padding": 1, "bias": False, "activation": "relu"}, *HEAD],
    # pooling the raw input (values in [-1, 1]): zero padding would win over negatives
    "maxpool": [{"name": "p", "type": "maxpool", "size": 3, "stride": 2, "padding": 1}, *HEAD],
    "flatten": HEAD,
    "dense": [*HEAD[:1], {"name": "hidden", "type": "dense", "units": 6,
                          "activation": "relu"}, HEAD[1]],
    "dropout": [HEAD[0], {"name": "drop", "type": "dropout", "rate": 0.5}, HEAD[1]],
    "batchnorm": [{"name": "bn", "type": "batchnorm", **BN, "activation": "relu"}, *HEAD],
    "globalavgpool": POOLED_HEAD,
    "stage": [{"name": "s", "type": "stage", "blocks": 2, "width": 2, "stride": 2, **BN},
              *POOLED_HEAD],
}


def example_spec(kind: str, tmp_path: Path) -> Spec:
    lines = ['name = "example"', "input_shape = [7, 7, 3]", "num_classes = 3"]
    for layer in EXAMPLES[kind]:
        lines.append("[[layers]]")
        for key, value in layer.items():
            text = str(value).lower() if isinstance(value, bool) else repr(value)
            lines.append(f"{key} = {text}".replace("'", '"'))
    path = tmp_path / f"{kind}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_spec(str(path))


def example_weights(spec: Spec) -> dict[str, np.ndarray]:
    """The shared initial weights, moved off their defaults so a twin that ignored a bias,
    gamma, beta or running statistic would show it."""
    rng = np.random.default_rng(5)
    weights = init_weights(spec, 0)
    for name, value in weights.items():
        bump = rng.uniform(0.2, 0.6, value.shape).astype(np.float32)
        weights[name] = value + bump if not name.endswith("kernel") else value
    return weights


@pytest.mark.parametrize("kind", list(LAYER_TYPES))
def test_every_type_has_an_example(kind: str, tmp_path: Path) -> None:
    assert kind in EXAMPLES, f"add an example network for layer type {kind!r}"
    spec = example_spec(kind, tmp_path)
    assert kind in {layer.type for layer in spec.layers}


def test_unknown_type_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown layer type 'conv3d' \(expected one of: conv"):
        layer_type("conv3d")


def check_twin(framework: str, kind: str, tmp_path: Path) -> None:
    """The twin maps the type and computes the reference's eval forward, training forward
    (batch statistics, shared dropout masks) and running statistics after that step."""
    package = {"torch": "pytorch_impl", "tf": "tf_impl"}[framework]
    builders = importlib.import_module(f"{package}.model").BUILDERS
    assert kind in builders, f"the {framework} twin does not map layer type {kind!r}"
    spec = example_spec(kind, tmp_path)
    weights = example_weights(spec)
    twin = importlib.import_module(f"{package}.run").make_twin()
    twin.build(spec, weights, load_run_config({"framework": framework, "device": "cpu"}))
    assert twin.parameter_shapes() == dict(spec.param_shapes())
    assert twin.trainable_params() == spec.trainable_params()
    x = np.random.default_rng(1).uniform(-1, 1, (4, *spec.input_shape)).astype(np.float32)
    y = np.arange(4, dtype=np.int64) % spec.num_classes
    masks = draw_masks(dropout_layers(spec), 0, 0, 0, len(y))
    np.testing.assert_allclose(twin.predict_logits(x), forward(spec, weights, x), atol=1e-5)
    expected, running = train_forward(spec, weights, x, masks)
    _, logits = twin.train_step(x, y, masks)
    np.testing.assert_allclose(logits, expected, atol=1e-4)
    state = twin.canonical_state()
    for name, value in running.items():
        np.testing.assert_allclose(state[name], value, atol=1e-5, err_msg=name)


@pytest.mark.torch
@pytest.mark.parametrize("kind", list(LAYER_TYPES))
def test_torch_twin_builds_the_type(kind: str, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    check_twin("torch", kind, tmp_path)


@pytest.mark.tf
@pytest.mark.parametrize("kind", list(LAYER_TYPES))
def test_tf_twin_builds_the_type(kind: str, tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    check_twin("tf", kind, tmp_path)


TINY_RESNET = """
name = "tiny_resnet"
input_shape = [32, 32, 3]
num_classes = 5
[[layers]]
name = "conv1"
type = "conv"
filters = 8
kernel = 7
stride = 2
padding = 3
bias = false
[[layers]]
name = "bn1"
type = "batchnorm"
epsilon = 1e-5
momentum = 0.9
activation = "relu"
[[layers]]
name = "maxpool"
type = "maxpool"
size = 3
stride = 2
padding = 1
[[layers]]
name = "layer1"
type = "stage"
blocks = 2
width = 4
stride = 1
epsilon = 1e-5
momentum = 0.9
[[layers]]
name = "layer2"
type = "stage"
blocks = 2
width = 8
stride = 2
epsilon = 1e-5
momentum = 0.9
[[layers]]
name = "avgpool"
type = "globalavgpool"
[[layers]]
name = "fc"
type = "dense"
units = 5
"""


@pytest.mark.torch
def test_reference_is_torchs_resnet_function_in_float64(tmp_path: Path) -> None:
    """torch's own modules (those torchvision's ResNet is made of), run in float64, compute
    what the reference computes, in inference and in training (running statistics included):
    strides, paddings, the momentum conversion and the unbiased running variance are the
    reference's, not a coincidence of float32 tolerances."""
    torch = pytest.importorskip("torch")
    from pytorch_impl.model import build_model, canonical_state, load_weights

    path = tmp_path / "tiny.toml"
    path.write_text(TINY_RESNET, encoding="utf-8")
    spec = load_spec(str(path))
    weights = example_weights(spec)
    model = build_model(spec)
    load_weights(model, weights)
    model.double()
    x = np.random.default_rng(2).uniform(0, 1, (6, *spec.input_shape))
    images = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        model.eval()
        np.testing.assert_allclose(model(images).numpy(), forward(spec, weights, x),
                                   rtol=0, atol=1e-10)
        model.train()
        logits = model(images).numpy()
    expected, running = train_forward(spec, weights, x)
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-10)
    state = canonical_state(model)
    assert len(running) == 2 * sum(name.endswith(".gamma") for name in state)
    for name, value in running.items():
        np.testing.assert_allclose(state[name], value, rtol=0, atol=1e-12, err_msg=name)
