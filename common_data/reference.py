"""A float64 NumPy forward pass: the referee in twin parity checks.

Both twins run float32 kernels that round differently; comparing each against one float64
reference tells which twin drifts, where comparing the twins with each other could not.
Layout is canonical Keras: NHWC activations, HWIO conv kernels, flatten in NHWC order.
Dropout is the identity (inference) unless shared masks are given (common_data.dropout), in
which case it multiplies by them, as both twins do in training.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from common_data.spec import Layer, Spec


def forward(
    spec: Spec, weights: Mapping[str, np.ndarray], x_nhwc: np.ndarray,
    masks: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Logits (N, num_classes) in float64 for a batch of NHWC images; `masks` are dropout
    masks by layer name (a dropout layer without one is the identity)."""
    x = np.asarray(x_nhwc, dtype=np.float64)
    if x.ndim != 4 or x.shape[1:] != spec.input_shape:
        expected = ", ".join(map(str, spec.input_shape))
        raise ValueError(f"x_nhwc must have shape (N, {expected}), got {x.shape}")
    params = _checked_params(spec, weights)
    for layer in spec.layers:
        if layer.type == "dropout" and masks is not None and layer.name in masks:
            x = x * np.asarray(masks[layer.name], dtype=np.float64)
        else:
            x = _apply(layer, x, params)
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


def _apply(layer: Layer, x: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
    if layer.type == "conv":
        out = _conv2d(x, params[f"{layer.name}.kernel"], layer.padding == "same")
        out += params[f"{layer.name}.bias"]
    elif layer.type == "dense":
        out = x @ params[f"{layer.name}.kernel"] + params[f"{layer.name}.bias"]
    elif layer.type == "maxpool":
        assert layer.size is not None
        return _maxpool(x, layer.size)
    elif layer.type == "flatten":
        return x.reshape(x.shape[0], -1)
    else:
        return x
    return np.maximum(out, 0.0) if layer.activation == "relu" else out


def _conv2d(x: np.ndarray, kernel: np.ndarray, same: bool) -> np.ndarray:
    """Stride-1 cross-correlation as k*k shifted matmuls: BLAS-fast without building the
    full im2col matrix. 'same' pads (k-1)/2 per side, which Spec guarantees is whole."""
    k = kernel.shape[0]
    if same:
        p = (k - 1) // 2
        x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    n, h, w, _ = x.shape
    ho, wo = h - k + 1, w - k + 1
    out = np.zeros((n, ho, wo, kernel.shape[3]), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            out += x[:, i:i + ho, j:j + wo, :] @ kernel[i, j]
    return out


def _maxpool(x: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping pooling that drops the ragged edge, as Keras 'valid' pooling does."""
    n, h, w, c = x.shape
    ho, wo = h // size, w // size
    trimmed = x[:, : ho * size, : wo * size, :]
    return trimmed.reshape(n, ho, size, wo, size, c).max(axis=(2, 4))
