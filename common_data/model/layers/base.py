"""What a layer type declares, in one place: its keys, shapes, parameters, FLOPs and the NumPy
float64 forward pass that parity compares both twins against.

Before the registry each of these facts lived in an if-chain of its own (spec, reference, each
twin) whose last branch was a silent default, so a new type half-added turned into a dropout
layer in one twin. Now a spec names a type the registry has or fails to load, and each twin
maps every registry type explicitly (tests/test_layer_registry.py fails by name otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Shape = tuple[int, ...]

# Key validators take the raw TOML value and return the stored one, or raise ValueError with
# what was expected (the caller adds the file, layer and key).
Validator = Callable[[Any], Any]


@dataclass(frozen=True)
class Key:
    """One key of a layer type. `legacy` keys are always written into the canonical JSON (they
    were written before the registry existed); a later optional key is written only when it
    differs from its default, so adding one never changes the hash of an existing spec."""

    name: str
    validate: Validator
    required: bool = True
    default: Any = None
    legacy: bool = False


@dataclass(frozen=True)
class Param:
    """One tensor a layer holds, in the canonical (Keras) layout. `suffix` follows the layer's
    name (`conv1.kernel`, `layer1.0.bn1.moving_mean`); `init` is 'glorot', 'zeros' or 'ones';
    `stream` extends the generator seed [seed, layer_index] for layers with several kernels."""

    suffix: str
    shape: Shape
    init: str
    trainable: bool = True
    stream: tuple[int, ...] = ()


@dataclass(frozen=True)
class Layer:
    """One validated layer: its name, type and every key of its type (defaults filled in).

    Keys read as attributes (`layer.filters`) so code that handles one type reads naturally;
    a key the type does not have is an AttributeError, never a silent None."""

    name: str
    type: str
    options: tuple[tuple[str, Any], ...] = ()

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        for name, value in object.__getattribute__(self, "options"):
            if name == key:
                return value
        raise AttributeError(f"a {self.type} layer has no key {key!r}")

    def to_dict(self) -> dict[str, Any]:
        """The canonical form that the spec hash is taken over (see `Key.legacy`)."""
        kind = LAYER_TYPES_BY_NAME[self.type]
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        for key in kind.keys:
            value = getattr(self, key.name)
            if key.required or key.legacy or value != key.default:
                out[key.name] = value
        return out


@dataclass
class Pass:
    """One reference forward pass: training mode (batch statistics), the shared dropout masks,
    and the running statistics that training-mode batch norm updates, by canonical name."""

    training: bool = False
    masks: Mapping[str, np.ndarray] | None = None
    updates: dict[str, np.ndarray] = field(default_factory=dict)


Params = Mapping[str, np.ndarray]  # suffix -> float64 array, for one layer


@dataclass(frozen=True)
class LayerType:
    """A layer type. `input_rank` is 3 (H x W x C), 1 (flat) or None (any).

    output_shape(layer, in_shape) -> Shape
    params(layer, in_shape) -> list[Param]
    flops(layer, in_shape) -> list[int]: one entry per counted op (conv, dense), 2 per MAC
    forward(layer, x, params, run) -> x: float64 NHWC (or flat), see `Pass`
    check(layer, in_shape) -> str | None: a topology error for this layer, or None
    """

    name: str
    keys: tuple[Key, ...]
    input_rank: int | None
    output_shape: Callable[[Layer, Shape], Shape]
    params: Callable[[Layer, Shape], list[Param]]
    flops: Callable[[Layer, Shape], list[int]]
    forward: Callable[[Layer, np.ndarray, Params, Pass], np.ndarray]
    check: Callable[[Layer, Shape], str | None] = lambda layer, shape: None
    doc: str = ""


LAYER_TYPES_BY_NAME: dict[str, LayerType] = {}


def register(kind: LayerType) -> LayerType:
    if kind.name in LAYER_TYPES_BY_NAME:
        raise ValueError(f"layer type {kind.name!r} is registered twice")
    LAYER_TYPES_BY_NAME[kind.name] = kind
    return kind


def no_params(layer: Layer, in_shape: Shape) -> list[Param]:
    return []


def no_flops(layer: Layer, in_shape: Shape) -> list[int]:
    return []


def same_shape(layer: Layer, in_shape: Shape) -> Shape:
    return in_shape


# Validators -------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    """TOML booleans are Python bools, which are ints; a spec never means True as 1."""
    return isinstance(value, int) and not isinstance(value, bool)


def positive_int(value: Any) -> int:
    if not (_is_int(value) and value >= 1):
        raise ValueError(f"must be an integer >= 1, got {value!r}")
    return int(value)


def optional_positive_int(value: Any) -> int | None:
    return None if value is None else positive_int(value)


def non_negative_int(value: Any) -> int:
    if not (_is_int(value) and value >= 0):
        raise ValueError(f"must be an integer >= 0, got {value!r}")
    return int(value)


def rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ValueError(f"must be a number in [0, 1), got {value!r}")
    return float(value)


def positive_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"must be a number > 0, got {value!r}")
    return float(value)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


def choice(*options: str) -> Validator:
    def validate(value: Any) -> str:
        if value not in options:
            expected = " or ".join(repr(o) for o in options)
            raise ValueError(f"must be {expected}, got {value!r}")
        return str(value)
    return validate


def conv_padding(value: Any) -> str | int:
    """'valid', 'same' (stride 1 and an odd kernel only) or an explicit symmetric zero
    padding in pixels, which is what strided convs need to mean one thing in both twins."""
    if value in ("valid", "same"):
        return str(value)
    if _is_int(value) and value >= 0:
        return int(value)
    raise ValueError(f"must be 'valid', 'same' or an integer >= 0, got {value!r}")


ACTIVATION = Key("activation", choice("relu", "none"), required=False, default="none",
                 legacy=True)


def activate(layer: Layer, x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0) if layer.activation == "relu" else x
