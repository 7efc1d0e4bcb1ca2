"""A float64 NumPy forward pass: the referee in twin parity checks.

Both twins run float32 kernels that round differently; comparing each against one float64
reference tells which twin drifts, where comparing the twins with each other could not.
Layout is canonical Keras: NHWC activations, HWIO conv kernels, flatten in NHWC order. What
each layer computes is its registry entry's `forward` (common_data.model.layers).
Dropout is the identity (inference) unless shared masks are given (common_data.model.dropout), in
which case it multiplies by them, as both twins do in training. Batch norm uses the running
statistics unless `training`, where it uses the batch's (`train_forward` also returns the
running statistics that step leaves behind).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from common_data.model.layers import LAYER_TYPES, Pass
from common_data.model.spec import Spec


def forward(
    spec: Spec, weights: Mapping[str, np.ndarray], x_nhwc: np.ndarray,
    masks: Mapping[str, np.ndarray] | None = None, training: bool = False,
) -> np.ndarray:
    """Logits (N, num_classes) in float64 for a batch of NHWC images; `masks` are dropout
    masks by layer name (a dropout layer without one is the identity); `training` switches
    batch norm to batch statistics."""
    return _run(spec, weights, x_nhwc, Pass(training=training, masks=masks))


def train_forward(
    spec: Spec, weights: Mapping[str, np.ndarray], x_nhwc: np.ndarray,
    masks: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A training-mode forward: (logits, the batch-norm running statistics after this step,
    by canonical name)."""
    run = Pass(training=True, masks=masks)
    logits = _run(spec, weights, x_nhwc, run)
    return logits, run.updates


def _run(
    spec: Spec, weights: Mapping[str, np.ndarray], x_nhwc: np.ndarray, run: Pass
) -> np.ndarray:
    x = np.asarray(x_nhwc, dtype=np.float64)
    if x.ndim != 4 or x.shape[1:] != spec.input_shape:
        expected = ", ".join(map(str, spec.input_shape))
        raise ValueError(f"x_nhwc must have shape (N, {expected}), got {x.shape}")
    params = _checked_params(spec, weights)
    for layer in spec.layers:
        prefix = f"{layer.name}."
        own = {name[len(prefix):]: value for name, value in params.items()
               if name.startswith(prefix)}
        x = LAYER_TYPES[layer.type].forward(layer, x, own, run)
    return x


def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean sparse categorical cross-entropy from logits, computed via log-sum-exp so large
    logits neither overflow nor lose the small probabilities."""
    z = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(y)
    if z.ndim != 2 or labels.shape != (z.shape[0],):
        raise ValueError(f"logits must be (N, K) and y (N,), got {z.shape} and {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= z.shape[1]):
        raise ValueError(
            f"y must hold class indices in [0, {z.shape[1]}), "
            f"got range [{labels.min()}, {labels.max()}]"
        )
    top = z.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
    return float(np.mean(log_norm - z[np.arange(z.shape[0]), labels]))


def _checked_params(spec: Spec, weights: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    params = {}
    for name, shape in spec.param_shapes():
        if name not in weights:
            raise ValueError(f"weights lack {name!r} (expected shape {shape})")
        array = np.asarray(weights[name], dtype=np.float64)
        if array.shape != shape:
            raise ValueError(
                f"weight {name!r} has shape {array.shape}, expected {shape} "
                "(canonical Keras layout)"
            )
        params[name] = array
    return params
