"""The layer types of the published baseline CNNs: conv, maxpool, flatten, dense, dropout.

Defaults follow Keras (valid padding, linear activation) so a spec reads like the Keras model.
"""

from __future__ import annotations

import math

import numpy as np

from common_data.model.layers import ops
from common_data.model.layers.base import (
    ACTIVATION,
    Key,
    Layer,
    LayerType,
    Param,
    Params,
    Pass,
    Shape,
    activate,
    boolean,
    conv_padding,
    no_flops,
    no_params,
    non_negative_int,
    optional_positive_int,
    positive_int,
    rate,
    register,
    same_shape,
)


def conv_pad(layer: Layer) -> int:
    """The padding in pixels per side; 'same' is only allowed where that is (k - 1) / 2."""
    if layer.padding == "valid":
        return 0
    if layer.padding == "same":
        return (layer.kernel - 1) // 2
    return int(layer.padding)


def _conv_shape(layer: Layer, shape: Shape) -> Shape:
    h, w, _ = shape
    k, s, p = layer.kernel, layer.stride, conv_pad(layer)
    return ((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, layer.filters)


def _conv_params(layer: Layer, shape: Shape) -> list[Param]:
    k = layer.kernel
    params = [Param("kernel", (k, k, shape[-1], layer.filters), "glorot")]
    if layer.bias:
        params.append(Param("bias", (layer.filters,), "zeros"))
    return params


def _conv_flops(layer: Layer, shape: Shape) -> list[int]:
    h, w, _ = _conv_shape(layer, shape)
    return [2 * h * w * layer.kernel * layer.kernel * shape[-1] * layer.filters]


def _conv_forward(layer: Layer, x: np.ndarray, params: Params, run: Pass) -> np.ndarray:
    out = ops.conv2d(x, params["kernel"], layer.stride, conv_pad(layer))
    if layer.bias:
        out += params["bias"]
    return activate(layer, out)


def _conv_check(layer: Layer, shape: Shape) -> str | None:
    if layer.padding == "same" and layer.kernel % 2 == 0:
        return f"padding 'same' needs an odd kernel, got {layer.kernel}"
    if layer.padding == "same" and layer.stride != 1:
        return (f"padding 'same' with stride {layer.stride} pads asymmetrically in Keras and "
                f"symmetrically elsewhere (expected padding in pixels, e.g. "
                f"padding = {(layer.kernel - 1) // 2})")
    return None


CONV = register(LayerType(
    name="conv",
    keys=(Key("filters", positive_int), Key("kernel", positive_int),
          Key("padding", conv_padding, required=False, default="valid", legacy=True),
          ACTIVATION,
          Key("stride", positive_int, required=False, default=1),
          Key("bias", boolean, required=False, default=True)),
    input_rank=3, output_shape=_conv_shape, params=_conv_params, flops=_conv_flops,
    forward=_conv_forward, check=_conv_check,
    doc="2-D convolution, square kernel; padding 'valid', 'same' (stride 1) or pixels per side",
))


def _pool_stride(layer: Layer) -> int:
    return layer.stride or layer.size


def _pool_shape(layer: Layer, shape: Shape) -> Shape:
    h, w, c = shape
    k, s, p = layer.size, _pool_stride(layer), layer.padding
    return ((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, c)


def _pool_forward(layer: Layer, x: np.ndarray, params: Params, run: Pass) -> np.ndarray:
    return ops.maxpool(x, layer.size, _pool_stride(layer), layer.padding)


def _pool_check(layer: Layer, shape: Shape) -> str | None:
    if 2 * layer.padding > layer.size:
        return f"'padding' {layer.padding} is more than half the pool size {layer.size}"
    return None


MAXPOOL = register(LayerType(
    name="maxpool",
    keys=(Key("size", positive_int),
          Key("stride", optional_positive_int, required=False, default=None),
          Key("padding", non_negative_int, required=False, default=0)),
    input_rank=3, output_shape=_pool_shape, params=no_params, flops=no_flops,
    forward=_pool_forward, check=_pool_check,
    doc="max pooling; stride defaults to the size; padding in pixels per side (never selected)",
))


FLATTEN = register(LayerType(
    name="flatten", keys=(), input_rank=3,
    output_shape=lambda layer, shape: (math.prod(shape),), params=no_params, flops=no_flops,
    forward=lambda layer, x, params, run: x.reshape(x.shape[0], -1),
    doc="flatten in NHWC order (Keras'), so dense kernels line up in both twins",
))


def _dense_forward(layer: Layer, x: np.ndarray, params: Params, run: Pass) -> np.ndarray:
    return activate(layer, x @ params["kernel"] + params["bias"])


DENSE = register(LayerType(
    name="dense", keys=(Key("units", positive_int), ACTIVATION), input_rank=1,
    output_shape=lambda layer, shape: (layer.units,),
    params=lambda layer, shape: [Param("kernel", (shape[0], layer.units), "glorot"),
                                 Param("bias", (layer.units,), "zeros")],
    flops=lambda layer, shape: [2 * shape[0] * layer.units],
    forward=_dense_forward,
    doc="fully connected; kernel (in, out)",
))


def _dropout_forward(layer: Layer, x: np.ndarray, params: Params, run: Pass) -> np.ndarray:
    """The identity unless the pass carries this layer's shared mask (common_data.model.dropout)."""
    if run.masks is not None and layer.name in run.masks:
        return x * np.asarray(run.masks[layer.name], dtype=np.float64)
    return x


DROPOUT = register(LayerType(
    name="dropout", keys=(Key("rate", rate),), input_rank=None,
    output_shape=same_shape, params=no_params, flops=no_flops, forward=_dropout_forward,
    doc="inverted dropout; in training both twins multiply by the shared masks",
))
