"""Build the network from the spec and load the shared initial weights into it.

torch stores conv kernels OIHW and dense kernels (out, in) and runs NCHW, while the canonical
layout is Keras' (HWIO, (in, out), NHWC). Every conversion between the two lives here, so the
rest of the twin only ever sees canonical names and shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from common_data.model.layers import LAYER_TYPES
from common_data.model.layers.resnet import blocks
from common_data.model.spec import Layer, Shape, Spec

# canonical suffix of each tensor torch holds, per module class; BN's num_batches_tracked is
# torch's own bookkeeping and has no canonical counterpart.
_CANONICAL_SUFFIX: dict[type[nn.Module], dict[str, str]] = {
    nn.Conv2d: {"weight": "kernel", "bias": "bias"},
    nn.Linear: {"weight": "kernel", "bias": "bias"},
    nn.BatchNorm2d: {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
                     "running_var": "moving_variance"},
}


class _NHWCFlatten(nn.Module):
    """Flatten in (H, W, C) order, as Keras does, so dense1's rows line up with the
    canonical kernel; a plain nn.Flatten on NCHW would scramble them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 2, 3, 1).flatten(1)


class _GlobalAvgPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class _Projection(nn.Module):
    """The shortcut where a block changes shape: 1x1 conv (stride) then batch norm."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
        super().__init__()
        self.conv, self.bn = conv, bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class _Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck (common_data.model.layers.resnet), torchvision's submodule names."""

    def __init__(self, layer: Layer, in_channels: int, stride: int, projection: bool) -> None:
        super().__init__()
        width, out = layer.width, layer.width * layer.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = _batchnorm(layer, width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = _batchnorm(layer, width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = _batchnorm(layer, out)
        self.downsample = (
            _Projection(nn.Conv2d(in_channels, out, 1, stride=stride, bias=False),
                        _batchnorm(layer, out)) if projection else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + shortcut)


def _batchnorm(layer: Layer, channels: int) -> nn.BatchNorm2d:
    """torch's momentum weighs the batch, the spec's (Keras') the running value: 1 - m."""
    return nn.BatchNorm2d(channels, eps=layer.epsilon, momentum=1.0 - layer.momentum)


def _conv(layer: Layer, shape: Shape) -> nn.Module:
    padding = {"valid": 0, "same": layer.kernel // 2}.get(layer.padding, layer.padding)
    return nn.Conv2d(shape[-1], layer.filters, layer.kernel, stride=layer.stride,
                     padding=padding, bias=layer.bias)


def _stage(layer: Layer, shape: Shape) -> nn.Module:
    return nn.Sequential(*(
        _Bottleneck(layer, block.in_shape[-1], block.stride, block.projection)
        for block in blocks(layer, shape)))


# Every registry type, explicitly (tests/test_layer_registry.py checks that none is missing).
BUILDERS: dict[str, Callable[[Layer, Shape], nn.Module]] = {
    "conv": _conv,
    "maxpool": lambda layer, shape: nn.MaxPool2d(layer.size, layer.stride or layer.size,
                                                 layer.padding),
    "flatten": lambda layer, shape: _NHWCFlatten(),
    "dense": lambda layer, shape: nn.Linear(shape[0], layer.units),
    "dropout": lambda layer, shape: nn.Dropout(layer.rate),
    "batchnorm": lambda layer, shape: _batchnorm(layer, shape[-1]),
    "globalavgpool": lambda layer, shape: _GlobalAvgPool(),
    "stage": _stage,
}


class _SpecNet(nn.Module):
    """The spec's layers as named submodules (state_dict keys are '<layer>.weight'), with
    ReLU applied functionally so no extra names appear.

    `forward(x, masks)`: with `masks` (shared dropout, see common_data.model.dropout) each dropout
    layer multiplies its input by its mask instead of drawing one from torch's RNG; a
    dropout layer without a mask is then the identity (rate 0)."""

    def __init__(self, spec: Spec) -> None:
        super().__init__()
        missing = sorted({layer.type for layer in spec.layers} - set(BUILDERS))
        if missing:
            raise ValueError(f"the torch twin has no builder for layer type {missing[0]!r} "
                             f"(registry types: {', '.join(LAYER_TYPES)})")
        self.plan: list[tuple[str, bool]] = []
        self.frozen: list[str] = []
        self.dropouts = {layer.name for layer in spec.layers if layer.type == "dropout"}
        for layer, in_shape in zip(spec.layers, spec.input_shapes(), strict=True):
            self.add_module(layer.name, BUILDERS[layer.type](layer, in_shape))
            relu = getattr(layer, "activation", "none") == "relu"
            self.plan.append((layer.name, relu))

    def train(self, mode: bool = True) -> _SpecNet:
        super().train(mode)
        for name in self.frozen:
            getattr(self, name).eval()
        return self

    def forward(
        self, x: torch.Tensor, masks: Mapping[str, torch.Tensor] | None = None
    ) -> torch.Tensor:
        output = self.plan[-1][0]
        for name, relu in self.plan:
            if masks is not None and name in self.dropouts:
                x = x * masks[name] if name in masks else x
            elif name == output:
                x = _float32(getattr(self, name), x)
            else:
                x = getattr(self, name)(x)
            if relu:
                x = torch.relu(x)
        return x


def _float32(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The output layer (the logits) in float32 even under bf16 autocast
    (mode.mixed_precision), as the tf twin's output layer keeps a float32 policy."""
    if not torch.is_autocast_enabled(x.device.type):
        return layer(x)
    with torch.autocast(device_type=x.device.type, enabled=False):
        return layer(x.float())


def build_model(spec: Spec) -> nn.Module:
    """The untrained network; its initial values are overwritten by `load_weights`."""
    return _SpecNet(spec)


def freeze_all_but(model: _SpecNet, head: str) -> None:
    """Transfer v1: no gradient for any layer but `head`, and their batch norms stay in
    inference mode (ImageNet running statistics) even in training, as Keras does for frozen
    layers (`_SpecNet.train` keeps them in eval)."""
    model.frozen = [name for name, _ in model.plan if name != head]
    for name in model.frozen:
        getattr(model, name).requires_grad_(False)
    model.train(model.training)


def load_weights(model: nn.Module, weights: Mapping[str, np.ndarray]) -> None:
    """Copy canonical weights in, transposed to torch's layout; a missing or extra name is
    an error, because a silently skipped tensor would keep torch's own initialiser."""
    tensors = canonical_tensors(model)
    if set(tensors) != set(weights):
        raise ValueError(
            f"weights do not match the model: missing {sorted(set(tensors) - set(weights))}, "
            f"unexpected {sorted(set(weights) - set(tensors))}"
        )
    with torch.no_grad():
        for name, tensor in tensors.items():
            array = to_framework_layout(np.asarray(weights[name], np.float32))
            if tuple(array.shape) != tuple(tensor.shape):
                raise ValueError(f"{name}: canonical weight gives {array.shape}, "
                                 f"model has {tuple(tensor.shape)}")
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def canonical_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every tensor of the model (parameters and batch-norm running statistics) by its
    canonical name, in torch's layout."""
    out: dict[str, torch.Tensor] = {}
    for path, module in model.named_modules():
        suffixes = _CANONICAL_SUFFIX.get(type(module))
        if suffixes is None:
            continue
        own = {**dict(module.named_parameters(recurse=False)),
               **dict(module.named_buffers(recurse=False))}
        for name, tensor in own.items():
            if name in suffixes:
                out[f"{path}.{suffixes[name]}"] = tensor
    return out


def canonical_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Every tensor as torch holds it, renamed and reshaped to the canonical layout."""
    return {name: to_canonical_shape(tuple(t.shape))
            for name, t in canonical_tensors(model).items()}


def canonical_state(model: nn.Module) -> dict[str, np.ndarray]:
    """Every tensor's current value in the canonical layout (float32 NumPy)."""
    return {name: to_canonical_layout(t.detach().cpu().numpy())
            for name, t in canonical_tensors(model).items()}


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


def to_canonical_layout(array: np.ndarray) -> np.ndarray:
    """The inverse of `to_framework_layout`."""
    if array.ndim == 4:
        return array.transpose(2, 3, 1, 0)
    return array.T if array.ndim == 2 else array


def to_canonical_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The inverse of `to_framework_layout`, on shapes."""
    if len(shape) == 4:
        o, i, h, w = shape
        return (h, w, i, o)
    return shape[::-1] if len(shape) == 2 else shape
