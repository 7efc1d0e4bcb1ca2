"""The layer types of the published ResNets: batchnorm, globalavgpool and stage (a run of
ResNet v1.5 bottleneck blocks, the torchvision layout).

Batch norm is where framework defaults differ most, so a spec writes every setting:

* `epsilon`, added to the variance (Keras' default is 1e-3, torch's 1e-5);
* `momentum` in the Keras convention: running = m * running + (1 - m) * batch. torch's
  momentum is the other weight, so the torch twin passes 1 - m (torchvision's 0.1 is m = 0.9);
* the running variance is updated with the *unbiased* batch variance (n / (n - 1) times the
  biased one), while the batch itself is normalised with the biased variance. That is what
  torch does natively and what the ImageNet weights were trained with; Keras uses the biased
  variance for both, so the TensorFlow twin updates its running statistics explicitly. One
  convention, two twins that follow it, one reference that computes it.

Canonical tensors of a batch norm `<bn>`: `<bn>.gamma` (ones), `<bn>.beta` (zeros),
`<bn>.moving_mean` (zeros), `<bn>.moving_variance` (ones); the last two are state, not
trainable, and count in a spec's total parameters but not its trainable ones (as in Keras).

A stage named `layer2` with `blocks = 4` holds blocks `layer2.0` ... `layer2.3`, each
`conv1` (1x1, width) - `bn1` - relu - `conv2` (3x3, width, the stage's stride on the first
block, padding 1) - `bn2` - relu - `conv3` (1x1, width * expansion) - `bn3`, plus the
shortcut, then relu. The shortcut is the identity, or `downsample.conv` (1x1, stride) -
`downsample.bn` where the block changes the shape (shortcut = "auto", torchvision's rule).
Convs in a stage have no bias, as in torchvision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common_data.model.layers import ops
from common_data.model.layers.base import (
    Key,
    Layer,
    LayerType,
    Param,
    Params,
    Pass,
    Shape,
    activate,
    choice,
    no_flops,
    no_params,
    positive_float,
    positive_int,
    rate,
    register,
    same_shape,
)

EPSILON = Key("epsilon", positive_float)
MOMENTUM = Key("momentum", rate)


def bn_params(prefix: str, channels: int) -> list[Param]:
    return [Param(f"{prefix}gamma", (channels,), "ones"),
            Param(f"{prefix}beta", (channels,), "zeros"),
            Param(f"{prefix}moving_mean", (channels,), "zeros", trainable=False),
            Param(f"{prefix}moving_variance", (channels,), "ones", trainable=False)]


def apply_bn(
    layer: Layer, prefix: str, x: np.ndarray, params: Params, run: Pass
) -> np.ndarray:
    """Batch norm `<layer>.<prefix>*`; in training, records the new running statistics."""
    y, running = ops.batchnorm(
        x, params[f"{prefix}gamma"], params[f"{prefix}beta"], params[f"{prefix}moving_mean"],
        params[f"{prefix}moving_variance"], layer.epsilon, layer.momentum, run.training)
    if running is not None:
        run.updates[f"{layer.name}.{prefix}moving_mean"] = running[0]
        run.updates[f"{layer.name}.{prefix}moving_variance"] = running[1]
    return y


BATCHNORM = register(LayerType(
    name="batchnorm",
    keys=(EPSILON, MOMENTUM,
          Key("activation", choice("relu", "none"), required=False, default="none")),
    input_rank=3, output_shape=same_shape,
    params=lambda layer, shape: bn_params("", shape[-1]), flops=no_flops,
    forward=lambda layer, x, params, run: activate(layer, apply_bn(layer, "", x, params, run)),
    doc="batch norm over H, W and the batch; settings explicit (see the module docstring)",
))


GLOBALAVGPOOL = register(LayerType(
    name="globalavgpool", keys=(), input_rank=3,
    output_shape=lambda layer, shape: (shape[-1],), params=no_params, flops=no_flops,
    forward=lambda layer, x, params, run: x.mean(axis=(1, 2)),
    doc="mean over H and W: (H, W, C) -> (C,)",
))


@dataclass(frozen=True)
class Block:
    """One bottleneck block of a stage, as built: where it starts and what its shortcut is."""

    index: int
    in_shape: Shape
    out_shape: Shape
    stride: int
    projection: bool


def blocks(layer: Layer, shape: Shape) -> list[Block]:
    out_channels = layer.width * layer.expansion
    out: list[Block] = []
    for index in range(layer.blocks):
        stride = layer.stride if index == 0 else 1
        h, w, channels = shape
        next_shape = ((h - 1) // stride + 1, (w - 1) // stride + 1, out_channels)
        changes = stride != 1 or channels != out_channels
        out.append(Block(index, shape, next_shape, stride,
                         changes and layer.shortcut == "auto"))
        shape = next_shape
    return out


def _stage_shape(layer: Layer, shape: Shape) -> Shape:
    return blocks(layer, shape)[-1].out_shape


def _stage_params(layer: Layer, shape: Shape) -> list[Param]:
    width, out_c = layer.width, layer.width * layer.expansion
    params: list[Param] = []
    for block in blocks(layer, shape):
        b, in_c = block.index, block.in_shape[-1]
        params += [Param(f"{b}.conv1.kernel", (1, 1, in_c, width), "glorot", stream=(b, 0)),
                   *bn_params(f"{b}.bn1.", width),
                   Param(f"{b}.conv2.kernel", (3, 3, width, width), "glorot", stream=(b, 1)),
                   *bn_params(f"{b}.bn2.", width),
                   Param(f"{b}.conv3.kernel", (1, 1, width, out_c), "glorot", stream=(b, 2)),
                   *bn_params(f"{b}.bn3.", out_c)]
        if block.projection:
            params += [Param(f"{b}.downsample.conv.kernel", (1, 1, in_c, out_c), "glorot",
                             stream=(b, 3)),
                       *bn_params(f"{b}.downsample.bn.", out_c)]
    return params


def _stage_flops(layer: Layer, shape: Shape) -> list[int]:
    width, out_c = layer.width, layer.width * layer.expansion
    flops: list[int] = []
    for block in blocks(layer, shape):
        (h, w, in_c), (ho, wo, _) = block.in_shape, block.out_shape
        flops += [2 * h * w * in_c * width, 2 * ho * wo * 9 * width * width,
                  2 * ho * wo * width * out_c]
        if block.projection:
            flops.append(2 * ho * wo * in_c * out_c)
    return flops


def _stage_forward(layer: Layer, x: np.ndarray, params: Params, run: Pass) -> np.ndarray:
    for block in blocks(layer, x.shape[1:]):
        b = block.index
        out = ops.conv2d(x, params[f"{b}.conv1.kernel"])
        out = np.maximum(apply_bn(layer, f"{b}.bn1.", out, params, run), 0.0)
        out = ops.conv2d(out, params[f"{b}.conv2.kernel"], block.stride, 1)
        out = np.maximum(apply_bn(layer, f"{b}.bn2.", out, params, run), 0.0)
        out = apply_bn(layer, f"{b}.bn3.", ops.conv2d(out, params[f"{b}.conv3.kernel"]),
                       params, run)
        shortcut = x
        if block.projection:
            shortcut = ops.conv2d(x, params[f"{b}.downsample.conv.kernel"], block.stride)
            shortcut = apply_bn(layer, f"{b}.downsample.bn.", shortcut, params, run)
        x = np.maximum(out + shortcut, 0.0)
    return x


def _stage_check(layer: Layer, shape: Shape) -> str | None:
    for block in blocks(layer, shape):
        if not block.projection and block.in_shape != block.out_shape:
            return (f"block {layer.name}.{block.index}: the residual add joins a shortcut of "
                    f"shape {block.in_shape} and a branch of shape {block.out_shape} "
                    "(expected shortcut = 'auto', which projects with a 1x1 conv and batch norm "
                    "where the shape changes)")
    return None


STAGE = register(LayerType(
    name="stage",
    keys=(Key("blocks", positive_int), Key("width", positive_int), Key("stride", positive_int),
          EPSILON, MOMENTUM,
          Key("expansion", positive_int, required=False, default=4),
          Key("shortcut", choice("auto", "identity"), required=False, default="auto")),
    input_rank=3, output_shape=_stage_shape, params=_stage_params, flops=_stage_flops,
    forward=_stage_forward, check=_stage_check,
    doc="ResNet v1.5 bottleneck blocks (torchvision layout); see the module docstring",
))
