"""The shared initial weights: drawn once in NumPy so both twins start from the same bytes.

Framework initialisers differ (torch uses Kaiming-uniform with a=sqrt(5), Keras uses
Glorot-uniform), so letting each framework initialise would make every comparison a
comparison of initialisers too. Each twin instead loads these arrays, transposing the
canonical Keras layout into its own.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

import numpy as np

from common_data.model.spec import Spec

INIT_SCHEME = (
    "glorot_uniform/zeros, numpy PCG64 default_rng([seed, layer_index]), float64 -> float32"
)

_CONSTANT = {"zeros": 0.0, "ones": 1.0}


def init_weights(spec: Spec, seed: int) -> dict[str, np.ndarray]:
    """Glorot-uniform kernels, zero biases, batch norm at the identity (gamma and running
    variance ones, beta and running mean zeros); float32, canonical layout, spec order.

    Fans are computed as Keras does: for a conv kernel (kh, kw, cin, cout) fan_in is
    kh*kw*cin and fan_out kh*kw*cout. Each kernel gets its own generator seeded with
    [seed, layer_index] (its layer's position in ``spec.layers``), extended by the kernel's
    stream within a layer that holds several (a ResNet stage: [seed, layer_index, block,
    conv]), so changing one layer's shape leaves every other layer's weights unchanged.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    weights: dict[str, np.ndarray] = {}
    for named in spec.params():
        param = named.param
        if param.init == "glorot":
            receptive = math.prod(param.shape[:-2])
            fan_in, fan_out = receptive * param.shape[-2], receptive * param.shape[-1]
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            rng = np.random.default_rng([int(seed), named.layer_index, *param.stream])
            value = rng.uniform(-limit, limit, size=param.shape).astype(np.float32)
        else:
            value = np.full(param.shape, _CONSTANT[param.init], dtype=np.float32)
        weights[named.name] = value
    return weights


def weights_digest(weights: Mapping[str, np.ndarray]) -> str:
    """sha256 over names, dtypes, shapes and little-endian bytes, in name order.

    The dtype is part of the digest so a float64 copy of the same values is not mistaken
    for the float32 weights a twin actually loaded.
    """
    digest = hashlib.sha256()
    for name in sorted(weights):
        array = np.asarray(weights[name])
        little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        digest.update(f"{name}|{little.dtype.str}|{list(array.shape)}|".encode())
        digest.update(little.tobytes())
    return digest.hexdigest()
