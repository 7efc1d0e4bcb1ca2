"""Build the network from the spec and load the shared initial weights into it.

Keras already uses the canonical layout (HWIO conv kernels, (in, out) dense kernels, NHWC),
so the conversions here are identities; they exist so this file mirrors
`pytorch_impl/model.py` function for function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common_data.model.layers import LAYER_TYPES
from common_data.model.layers.resnet import blocks
from common_data.model.spec import Layer, Shape, Spec


def build_model(spec: Spec, dropout_seed: int) -> keras.Sequential:
    """The untrained network; its initial values are overwritten by `load_weights`.

    Dropout gets an explicit seed so its mask sequence depends on the run's seed alone."""
    missing = sorted({layer.type for layer in spec.layers} - set(BUILDERS))
    if missing:
        raise ValueError(f"the tf twin has no builder for layer type {missing[0]!r} "
                         f"(registry types: {', '.join(LAYER_TYPES)})")
    layers = [BUILDERS[layer.type](layer, shape, dropout_seed)
              for layer, shape in zip(spec.layers, spec.input_shapes(), strict=True)]
    # the output layer (the logits) computes in float32 under any global policy: with
    # mixed_bfloat16 (mode.mixed_precision) the rest runs in bf16, as Keras advises for the
    # layer that feeds softmax; the torch twin does the same under autocast
    layers[-1].dtype_policy = keras.DTypePolicy("float32")
    return keras.Sequential([keras.Input(shape=spec.input_shape), *layers], name=spec.name)


def _activation(layer: Layer) -> str | None:
    return "relu" if layer.activation == "relu" else None


def _pad(x: tf.Tensor, pad: int, value: float = 0.0) -> tf.Tensor:
    """Symmetric H/W padding, the torch rule the spec's pixel paddings mean."""
    if pad == 0:
        return x
    return keras.ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], constant_values=value)


class _PaddedConv2D(keras.layers.Conv2D):
    """A valid conv after explicit symmetric zero padding: Keras' own 'same' with a stride
    pads more on the bottom/right than on the top/left, torch's does not."""

    def __init__(self, pad: int, **kwargs: Any) -> None:
        super().__init__(padding="valid", **kwargs)
        self.pad = pad

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return super().call(_pad(inputs, self.pad))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> Any:
        return super().compute_output_shape(_padded_shape(input_shape, self.pad))


def _padded_shape(shape: tuple[int | None, ...], pad: int) -> tuple[int | None, ...]:
    """An NHWC shape after `pad` pixels on every side (unknown sizes stay unknown)."""
    n, h, w, c = shape
    return (n, None if h is None else h + 2 * pad, None if w is None else w + 2 * pad, c)


class _PaddedMaxPool(keras.layers.MaxPooling2D):
    """Max pooling after padding with -inf (never selected), as torch pads."""

    def __init__(self, pad: int, **kwargs: Any) -> None:
        super().__init__(padding="valid", **kwargs)
        self.pad = pad

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return super().call(_pad(inputs, self.pad, float("-inf")))

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> Any:
        return super().compute_output_shape(_padded_shape(input_shape, self.pad))


class _BatchNorm(keras.layers.Layer):
    """Batch norm with the project's one convention (common_data.model.layers.resnet): normalise
    with the biased batch variance, update the running variance with the unbiased one, as
    torch does. Keras' BatchNormalization updates with the biased one, hence this layer."""

    def __init__(self, epsilon: float, momentum: float, relu: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon, self.momentum, self.relu = epsilon, momentum, relu

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = (input_shape[-1],)
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(shape=shape, initializer="zeros",
                                           name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(shape=shape, initializer="ones",
                                               name="moving_variance", trainable=False)

    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = keras.ops.cast(inputs, "float32")
        if training and self.trainable:  # a frozen batch norm keeps its statistics
            mean, variance = keras.ops.moments(x, axes=[0, 1, 2])
            count = keras.ops.cast(keras.ops.prod(keras.ops.shape(x)[:-1]), "float32")
            unbiased = variance * count / keras.ops.maximum(count - 1.0, 1.0)
            m = self.momentum
            self.moving_mean.assign(m * self.moving_mean + (1.0 - m) * mean)
            self.moving_variance.assign(m * self.moving_variance + (1.0 - m) * unbiased)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        y = (x - mean) * keras.ops.rsqrt(variance + self.epsilon) * self.gamma + self.beta
        y = keras.ops.relu(y) if self.relu else y
        return keras.ops.cast(y, inputs.dtype)

    def canonical_variables(self, prefix: str) -> dict[str, keras.Variable]:
        return {f"{prefix}.{v.name}": v for v in
                (self.gamma, self.beta, self.moving_mean, self.moving_variance)}


def _batchnorm(layer: Layer, name: str, relu: bool = False) -> _BatchNorm:
    return _BatchNorm(layer.epsilon, layer.momentum, relu=relu, name=name)


class _Bottleneck(keras.layers.Layer):
    """ResNet v1.5 bottleneck (common_data.model.layers.resnet); convs without bias."""

    def __init__(self, layer: Layer, stride: int, projection: bool, name: str) -> None:
        super().__init__(name=name)
        width, out = layer.width, layer.width * layer.expansion
        self.conv1 = keras.layers.Conv2D(width, 1, use_bias=False, name=f"{name}_conv1")
        self.bn1 = _batchnorm(layer, f"{name}_bn1", relu=True)
        self.conv2 = _PaddedConv2D(1, filters=width, kernel_size=3, strides=stride,
                                   use_bias=False, name=f"{name}_conv2")
        self.bn2 = _batchnorm(layer, f"{name}_bn2", relu=True)
        self.conv3 = keras.layers.Conv2D(out, 1, use_bias=False, name=f"{name}_conv3")
        self.bn3 = _batchnorm(layer, f"{name}_bn3")
        self.projection = projection
        if projection:
            self.downsample_conv = keras.layers.Conv2D(out, 1, strides=stride, use_bias=False,
                                                       name=f"{name}_downsample_conv")
            self.downsample_bn = _batchnorm(layer, f"{name}_downsample_bn")

    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        out = self.bn1(self.conv1(inputs), training=training)
        out = self.bn2(self.conv2(out), training=training)
        out = self.bn3(self.conv3(out), training=training)
        shortcut = inputs
        if self.projection:
            shortcut = self.downsample_bn(self.downsample_conv(inputs), training=training)
        return keras.ops.relu(out + shortcut)

    def canonical_variables(self, prefix: str) -> dict[str, keras.Variable]:
        out = {f"{prefix}.{name}.kernel": getattr(self, name).kernel
               for name in ("conv1", "conv2", "conv3")}
        for name in ("bn1", "bn2", "bn3"):
            out.update(getattr(self, name).canonical_variables(f"{prefix}.{name}"))
        if self.projection:
            out[f"{prefix}.downsample.conv.kernel"] = self.downsample_conv.kernel
            out.update(self.downsample_bn.canonical_variables(f"{prefix}.downsample.bn"))
        return out


class _Stage(keras.layers.Layer):
    """A stage's blocks; Keras names them '<stage>_<block>' (its names may not hold dots)."""

    def __init__(self, layer: Layer, shape: Shape) -> None:
        super().__init__(name=layer.name)
        self.blocks = [_Bottleneck(layer, block.stride, block.projection,
                                   f"{layer.name}_{block.index}")
                       for block in blocks(layer, shape)]

    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = inputs
        for block in self.blocks:
            x = block(x, training=training)
        return x

    def canonical_variables(self, prefix: str) -> dict[str, keras.Variable]:
        out: dict[str, keras.Variable] = {}
        for index, block in enumerate(self.blocks):
            out.update(block.canonical_variables(f"{prefix}.{index}"))
        return out


def _conv(layer: Layer, shape: Shape, dropout_seed: int) -> keras.layers.Layer:
    common = {"strides": layer.stride, "use_bias": layer.bias,
              "activation": _activation(layer), "name": layer.name}
    if isinstance(layer.padding, int):
        return _PaddedConv2D(layer.padding, filters=layer.filters, kernel_size=layer.kernel,
                             **common)
    return keras.layers.Conv2D(layer.filters, layer.kernel, padding=layer.padding, **common)


def _maxpool(layer: Layer, shape: Shape, dropout_seed: int) -> keras.layers.Layer:
    stride = layer.stride or layer.size
    if layer.padding:
        return _PaddedMaxPool(layer.padding, pool_size=layer.size, strides=stride,
                              name=layer.name)
    return keras.layers.MaxPooling2D(layer.size, strides=stride, name=layer.name)


# Every registry type, explicitly (tests/test_layer_registry.py checks that none is missing).
BUILDERS: dict[str, Callable[[Layer, Shape, int], keras.layers.Layer]] = {
    "conv": _conv,
    "maxpool": _maxpool,
    "flatten": lambda layer, shape, seed: keras.layers.Flatten(name=layer.name),
    "dense": lambda layer, shape, seed: keras.layers.Dense(
        layer.units, activation=_activation(layer), name=layer.name),
    "dropout": lambda layer, shape, seed: keras.layers.Dropout(layer.rate, seed=seed,
                                                               name=layer.name),
    "batchnorm": lambda layer, shape, seed: _batchnorm(
        layer, name=layer.name, relu=layer.activation == "relu"),
    "globalavgpool": lambda layer, shape, seed: keras.layers.GlobalAveragePooling2D(
        name=layer.name),
    "stage": lambda layer, shape, seed: _Stage(layer, shape),
}


def freeze_all_but(model: keras.Sequential, head: str) -> None:
    """Transfer v1: only `head` trains; frozen batch norms stay in inference mode."""
    for layer in model.layers:
        layer.trainable = layer.name == head


def load_weights(model: keras.Sequential, weights: Mapping[str, np.ndarray]) -> None:
    """Copy canonical weights in; a missing or extra name is an error, because a silently
    skipped tensor would keep Keras' own initialiser."""
    variables = canonical_tensors(model)
    if set(variables) != set(weights):
        raise ValueError(
            f"weights do not match the model: missing {sorted(set(variables) - set(weights))}, "
            f"unexpected {sorted(set(weights) - set(variables))}"
        )
    for name, variable in variables.items():
        array = to_framework_layout(np.asarray(weights[name], np.float32))
        if tuple(array.shape) != tuple(variable.shape):
            raise ValueError(f"{name}: canonical weight gives {array.shape}, "
                             f"model has {tuple(variable.shape)}")
        variable.assign(array)


def canonical_tensors(model: keras.Sequential) -> dict[str, keras.Variable]:
    """Every variable of the model (weights and batch-norm running statistics) by its
    canonical name: a built-in layer's are '<layer>.<variable>', ours say their own."""
    out: dict[str, keras.Variable] = {}
    for layer in model.layers:
        if hasattr(layer, "canonical_variables"):
            out.update(layer.canonical_variables(layer.name))
        else:
            out.update({f"{layer.name}.{v.name}": v for v in layer.weights})
    return out


def canonical_shapes(model: keras.Sequential) -> dict[str, tuple[int, ...]]:
    """Every variable as Keras holds it, renamed and reshaped to the canonical layout."""
    return {name: to_canonical_shape(tuple(v.shape))
            for name, v in canonical_tensors(model).items()}


def canonical_state(model: keras.Sequential) -> dict[str, np.ndarray]:
    """Every variable's current value in the canonical layout (float32 NumPy)."""
    return {name: to_canonical_layout(np.asarray(v.numpy()))
            for name, v in canonical_tensors(model).items()}


def to_framework_masks(masks: Mapping[str, np.ndarray] | None) -> dict[str, tf.Tensor] | None:
    """Shared dropout masks as TF tensors; Keras' NHWC layout is the canonical one."""
    if masks is None:
        return None
    return {name: tf.constant(mask) for name, mask in masks.items()}


def to_framework_layout(array: np.ndarray) -> np.ndarray:
    """Keras' layout is the canonical one."""
    return array


def to_canonical_layout(array: np.ndarray) -> np.ndarray:
    """Keras' layout is the canonical one."""
    return array


def to_canonical_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Keras' layout is the canonical one."""
    return shape
