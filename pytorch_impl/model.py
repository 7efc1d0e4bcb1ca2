"""Build the network from the spec and load the shared initial weights into it.

torch stores conv kernels OIHW and dense kernels (out, in) and runs NCHW, while the canonical
layout is Keras' (HWIO, (in, out), NHWC). Every conversion between the two lives here, so the
rest of the twin only ever sees canonical names and shapes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from common_data.spec import Layer, Spec

# canonical '<layer>.kernel' / '<layer>.bias' <-> torch '<layer>.weight' / '<layer>.bias'
_TORCH_SUFFIX = {"kernel": "weight", "bias": "bias"}
_CANONICAL_SUFFIX = {v: k for k, v in _TORCH_SUFFIX.items()}


class _NHWCFlatten(nn.Module):
    """Flatten in (H, W, C) order, as Keras does, so dense1's rows line up with the
    canonical kernel; a plain nn.Flatten on NCHW would scramble them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)


class _SpecNet(nn.Module):
    """The spec's layers as named submodules (state_dict keys are '<layer>.weight'), with
    ReLU applied functionally so no extra names appear.

    `forward(x, masks)`: with `masks` (shared dropout, see common_data.dropout) each dropout
    layer multiplies its input by its mask instead of drawing one from torch's RNG; a
    dropout layer without a mask is then the identity (rate 0)."""

    def __init__(self, spec: Spec) -> None:
        super().__init__()
        self.plan: list[tuple[str, bool]] = []
        self.dropouts = {layer.name for layer in spec.layers if layer.type == "dropout"}
        channels = spec.input_shape[2]
        features = 0
        for layer, (_, out_shape) in zip(spec.layers, spec.output_shapes(), strict=True):
            self.add_module(layer.name, _make_layer(layer, channels, features))
            self.plan.append((layer.name, layer.activation == "relu"))
            if len(out_shape) == 3:
                channels = out_shape[2]
            else:
                features = out_shape[0]

    def forward(
        self, x: torch.Tensor, masks: Mapping[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        for name, relu in self.plan:
            if masks is not None and name in self.dropouts:
                x = x * masks[name] if name in masks else x
            else:
                x = getattr(self, name)(x)
            if relu:
                x = torch.relu(x)
        return x


def _make_layer(layer: Layer, channels: int, features: int) -> nn.Module:
    if layer.type == "conv":
        assert layer.filters is not None and layer.kernel is not None
        padding = layer.kernel // 2 if layer.padding == "same" else 0
        return nn.Conv2d(channels, layer.filters, layer.kernel, padding=padding)
    if layer.type == "maxpool":
        return nn.MaxPool2d(layer.size)
    if layer.type == "flatten":
        return _NHWCFlatten()
    if layer.type == "dense":
        assert layer.units is not None
        return nn.Linear(features, layer.units)
    assert layer.rate is not None
    return nn.Dropout(layer.rate)


def build_model(spec: Spec) -> nn.Module:
    """The untrained network; its initial values are overwritten by `load_weights`."""
    return _SpecNet(spec)


def load_weights(model: nn.Module, weights: Mapping[str, np.ndarray]) -> None:
    """Copy canonical weights in, transposed to torch's layout; a missing or extra name is
    an error, because a silently skipped tensor would keep torch's own initialiser."""
    state = model.state_dict()
    expected = {canonical_name(name) for name in state}
    if expected != set(weights):
        raise ValueError(
            f"weights do not match the model: missing {sorted(expected - set(weights))}, "
            f"unexpected {sorted(set(weights) - expected)}"
        )
    with torch.no_grad():
        for name, tensor in state.items():
            array = to_framework_layout(np.asarray(weights[canonical_name(name)], np.float32))
            if tuple(array.shape) != tuple(tensor.shape):
                raise ValueError(f"{name}: canonical weight gives {array.shape}, "
                                 f"model has {tuple(tensor.shape)}")
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def canonical_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Every parameter as torch holds it, renamed and reshaped to the canonical layout."""
    return {
        canonical_name(name): to_canonical_shape(tuple(p.shape))
        for name, p in model.named_parameters()
    }


def canonical_name(name: str) -> str:
    layer, suffix = name.rsplit(".", 1)
    return f"{layer}.{_CANONICAL_SUFFIX[suffix]}"


def to_framework_masks(
    masks: Mapping[str, np.ndarray] | None, device: torch.device
) -> dict[str, torch.Tensor] | None:
    """Shared dropout masks (canonical NHWC for spatial layers) as torch tensors in NCHW."""
    if masks is None:
        return None
    out = {}
    for name, mask in masks.items():
        tensor = torch.from_numpy(np.ascontiguousarray(mask)).to(device)
        out[name] = tensor.permute(0, 3, 1, 2) if tensor.ndim == 4 else tensor
    return out


def to_framework_layout(array: np.ndarray) -> np.ndarray:
    """HWIO -> OIHW for conv kernels, (in, out) -> (out, in) for dense kernels."""
    if array.ndim == 4:
        return array.transpose(3, 2, 0, 1)
    return array.T if array.ndim == 2 else array


def to_canonical_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The inverse of `to_framework_layout`, on shapes."""
    if len(shape) == 4:
        o, i, h, w = shape
        return (h, w, i, o)
    return shape[::-1] if len(shape) == 2 else shape
