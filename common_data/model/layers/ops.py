"""NumPy float64 building blocks of the reference forward pass (NHWC, HWIO kernels).

Written for clarity first and BLAS speed second: a convolution is k*k shifted matmuls rather
than an im2col matrix, so a ResNet-152 batch fits in memory and runs in seconds.
"""

from __future__ import annotations

import numpy as np


def pad2d(x: np.ndarray, pad: int, value: float = 0.0) -> np.ndarray:
    """Symmetric padding of H and W by `pad` pixels (the torch rule; Keras' 'same' with a
    stride pads more on the bottom/right, which is why specs write padding explicitly)."""
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=value)


def conv2d(x: np.ndarray, kernel: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Cross-correlation with symmetric zero padding; output floor((H + 2p - k) / s) + 1."""
    x = pad2d(x, pad)
    k = kernel.shape[0]
    n, h, w, _ = x.shape
    ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.zeros((n, ho, wo, kernel.shape[3]), dtype=np.float64)
    for i in range(k):
        for j in range(k):
            window = x[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            out += window @ kernel[i, j]
    return out


def maxpool(x: np.ndarray, size: int, stride: int, pad: int = 0) -> np.ndarray:
    """Max over size x size windows; padding is -inf (never selected), as in torch, and the
    ragged edge is dropped (floor), as in Keras 'valid' pooling."""
    x = pad2d(x, pad, -np.inf)
    n, h, w, c = x.shape
    ho, wo = (h - size) // stride + 1, (w - size) // stride + 1
    out = np.full((n, ho, wo, c), -np.inf)
    for i in range(size):
        for j in range(size):
            window = x[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            np.maximum(out, window, out=out)
    return out


def batchnorm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray, var: np.ndarray,
    epsilon: float, momentum: float, training: bool,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Batch norm over every axis but the last. In training it normalises with the batch mean
    and the biased batch variance and returns the new running statistics,
    m * running + (1 - m) * batch, with the *unbiased* batch variance (the project's one
    convention, see common_data.model.layers.resnet); in inference it uses the running ones."""
    if not training:
        return (x - mean) / np.sqrt(var + epsilon) * gamma + beta, None
    axes = tuple(range(x.ndim - 1))
    count = int(np.prod([x.shape[a] for a in axes]))
    batch_mean = x.mean(axis=axes)
    batch_var = x.var(axis=axes)
    y = (x - batch_mean) / np.sqrt(batch_var + epsilon) * gamma + beta
    unbiased = batch_var * count / max(count - 1, 1)
    return y, (momentum * mean + (1.0 - momentum) * batch_mean,
               momentum * var + (1.0 - momentum) * unbiased)
