"""Build the network from the spec and load the shared initial weights into it.

Keras already uses the canonical layout (HWIO conv kernels, (in, out) dense kernels, NHWC),
so the conversions here are identities; they exist so this file mirrors
`pytorch_impl/model.py` function for function.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

from common_data.spec import Layer, Spec


def build_model(spec: Spec, dropout_seed: int) -> keras.Sequential:
    """The untrained network; its initial values are overwritten by `load_weights`.

    Dropout gets an explicit seed so its mask sequence depends on the run's seed alone."""
    layers = [keras.Input(shape=spec.input_shape)]
    layers += [_make_layer(layer, dropout_seed) for layer in spec.layers]
    return keras.Sequential(layers, name=spec.name)


def _make_layer(layer: Layer, dropout_seed: int) -> keras.layers.Layer:
    activation = "relu" if layer.activation == "relu" else None
    if layer.type == "conv":
        return keras.layers.Conv2D(layer.filters, layer.kernel, padding=layer.padding,
                                   activation=activation, name=layer.name)
    if layer.type == "maxpool":
        return keras.layers.MaxPooling2D(layer.size, name=layer.name)
    if layer.type == "flatten":
        return keras.layers.Flatten(name=layer.name)
    if layer.type == "dense":
        return keras.layers.Dense(layer.units, activation=activation, name=layer.name)
    return keras.layers.Dropout(layer.rate, seed=dropout_seed, name=layer.name)


def load_weights(model: keras.Sequential, weights: Mapping[str, np.ndarray]) -> None:
    """Copy canonical weights in; a missing or extra name is an error, because a silently
    skipped tensor would keep Keras' own initialiser."""
    variables = {canonical_name(layer, v): v for layer in model.layers for v in layer.weights}
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


def canonical_shapes(model: keras.Sequential) -> dict[str, tuple[int, ...]]:
    """Every parameter as Keras holds it, renamed and reshaped to the canonical layout."""
    return {
        canonical_name(layer, v): to_canonical_shape(tuple(v.shape))
        for layer in model.layers for v in layer.weights
    }


def canonical_name(layer: keras.layers.Layer, variable: keras.Variable) -> str:
    return f"{layer.name}.{variable.name}"


def to_framework_masks(masks: Mapping[str, np.ndarray] | None) -> dict[str, tf.Tensor] | None:
    """Shared dropout masks as TF tensors; Keras' NHWC layout is the canonical one."""
    if masks is None:
        return None
    return {name: tf.constant(mask) for name, mask in masks.items()}


def to_framework_layout(array: np.ndarray) -> np.ndarray:
    """Keras' layout is the canonical one."""
    return array


def to_canonical_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Keras' layout is the canonical one."""
    return shape
