"""Transfer learning from ImageNet weights the user supplies: a safetensors file in the
torchvision ResNet layout, converted once here into the canonical weights both twins load.

Nothing here downloads anything: a run without a file is a run from scratch (config
`transfer = "scratch"`), and its record's `model.init_scheme` says so; a transfer run's names
the file and its sha256.

torchvision -> canonical names: `<m>.weight` of a conv is `<m>.kernel` (OIHW -> HWIO), of a
linear `<m>.kernel` ((out, in) -> (in, out)), of a batch norm `<m>.gamma`; `.bias` of a batch
norm is `.beta`; `running_mean`/`running_var` are `moving_mean`/`moving_variance`;
`downsample.0`/`downsample.1` are `downsample.conv`/`downsample.bn`; `num_batches_tracked`
(torch's bookkeeping) is dropped. Every canonical tensor except the head's must be in the file
and every tensor in the file must be used, except the ImageNet head (the spec's last layer,
`fc`), which the new 5-class head replaces; anything else is a one-line error naming the tensor.

Variants (the published study's):

* v1 - ImageNet features, new head: the backbone is frozen (its batch norms stay in inference
  mode, with the ImageNet running statistics, as Keras does for frozen layers) and only the
  head trains.
* v2 - "thermal-adapted conv1", fine-tune everything. Rule: each conv1 filter is replaced by
  its mean over the three colour channels, copied to all three. The dataset's thermal frames
  are palettes rendered to RGB, so colour encodes temperature through an arbitrary palette
  while ImageNet's colour-opponent filters expect natural hues; the channel mean keeps each
  filter's spatial pattern and its response to a grey image (so the next layers see inputs of
  the scale they were trained on) and makes it respond to intensity, which every palette
  orders. Fine-tuning may re-learn colour from there. The input stays three channels, so the
  loader is unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from common_data.errors import ConfigError
from common_data.model.init_weights import INIT_SCHEME
from common_data.model.spec import Spec

TRANSFERS = ("scratch", "v1", "v2")
_TORCHVISION_SUFFIX = {"running_mean": "moving_mean", "running_var": "moving_variance"}
_WEIGHT = {"weight": "kernel", "bias": "bias"}
_BATCHNORM = {"weight": "gamma", "bias": "beta"}
_DROPPED = ("num_batches_tracked",)


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The file's tensors as NumPy arrays; a missing or unreadable file is a ConfigError."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not path.is_file():
        raise ConfigError(f"pretrained {path}: no such file (expected a safetensors file in "
                          "the torchvision ResNet layout)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ConfigError(f"pretrained {path}: not a readable safetensors file ({exc})") from None


def head_layer(spec: Spec) -> str:
    """The layer a transfer run re-initialises and trains in every variant: the last one."""
    return spec.layers[-1].name


def canonical_name(torchvision: str, known: Mapping[str, object]) -> str | None:
    """The canonical name of a torchvision tensor name, or None for torch's bookkeeping."""
    module, _, suffix = torchvision.rpartition(".")
    if suffix in _DROPPED:
        return None
    module = module.replace(".downsample.0", ".downsample.conv")
    module = module.replace(".downsample.1", ".downsample.bn")
    if suffix in _TORCHVISION_SUFFIX:
        return f"{module}.{_TORCHVISION_SUFFIX[suffix]}"
    conv_or_linear = f"{module}.{_WEIGHT.get(suffix, suffix)}"
    if conv_or_linear in known:
        return conv_or_linear
    return f"{module}.{_BATCHNORM.get(suffix, suffix)}"


def to_canonical_layout(array: np.ndarray) -> np.ndarray:
    """OIHW -> HWIO, (out, in) -> (in, out); vectors as they are."""
    if array.ndim == 4:
        return array.transpose(2, 3, 1, 0)
    return array.T if array.ndim == 2 else array


def pretrained_weights(
    spec: Spec, scratch: Mapping[str, np.ndarray], path: Path, transfer: str
) -> dict[str, np.ndarray]:
    """The canonical weights of a transfer run: the backbone from `path` (converted, with the
    variant's conv1 rule), the head from `scratch` (the shared seed-drawn weights)."""
    if transfer not in ("v1", "v2"):
        raise ConfigError(f"transfer {transfer!r}: expected 'v1' or 'v2' with a pretrained file")
    shapes = dict(spec.param_shapes())
    head = f"{head_layer(spec)}."
    weights = {name: np.asarray(scratch[name], np.float32)
               for name in shapes if name.startswith(head)}
    for key, array in read_safetensors(path).items():
        name = canonical_name(key, shapes)
        if name is None or name.startswith(head):
            continue  # torch's counter; ImageNet's head, replaced by the new one
        if name not in shapes:
            raise ConfigError(f"pretrained {path}: tensor {key!r} has no counterpart in spec "
                              f"{spec.name!r} (expected torchvision ResNet names)")
        value = to_canonical_layout(np.asarray(array, np.float32))
        if value.shape != shapes[name]:
            raise ConfigError(f"pretrained {path}: tensor {key!r} has shape {array.shape}, "
                              f"spec {spec.name!r} needs {shapes[name]} as {name!r}")
        weights[name] = np.ascontiguousarray(value)
    missing = [name for name in shapes if name not in weights]
    if missing:
        raise ConfigError(f"pretrained {path}: lacks tensor {missing[0]!r} of spec {spec.name!r} "
                          f"({len(missing)} missing)")
    if transfer == "v2":
        first = f"{spec.layers[0].name}.kernel"
        kernel = weights[first]
        weights[first] = np.repeat(kernel.mean(axis=2, keepdims=True), kernel.shape[2], axis=2)
    return {name: weights[name] for name in shapes}


def init_description(path: Path | None, transfer: str) -> str:
    """What a record's `model.init_scheme` says: the seed-drawn scheme for a run from scratch
    (as every earlier record says), or which file and variant a transfer run started from."""
    if path is None or transfer == "scratch":
        return INIT_SCHEME
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return (f"pretrained {transfer}: {path.name} (sha256 {digest}), torchvision layout; "
            f"new head {INIT_SCHEME}")
