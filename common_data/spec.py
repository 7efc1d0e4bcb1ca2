"""The architecture spec: one TOML file that both twins build their network from.

Counting parameters, shapes and FLOPs here (instead of asking each framework) is what lets
the harness prove that the two twins are the same model: each twin checks its own counts
against these numbers.

FLOP convention (``Spec.flops_per_image``): a multiply-add counts as 2 FLOPs; only conv
and dense layers are counted (bias adds, ReLU, max-pooling and dropout are ignored, as is
usual for CNN FLOP tables). Training counts what a step must compute: the forward pass, the
weight gradient of every counted layer (as many FLOPs as its forward) and the input gradient
of every counted layer but the first, whose input is the image and needs no gradient. The
usual "3x forward" shortcut would credit the twins with the first conv's ~3 % that no
framework computes, and flatter the roofline fraction by as much.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from common_data.errors import ConfigError

SPECS_DIR = Path(__file__).resolve().parent / "specs"

LAYER_TYPES = ("conv", "maxpool", "flatten", "dense", "dropout")
PADDINGS = ("valid", "same")
ACTIVATIONS = ("relu", "none")

# Per layer type: the keys it requires and the optional keys with their defaults. Defaults
# follow Keras (valid padding, linear activation) so a spec reads like the Keras model.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "conv": ("filters", "kernel"),
    "maxpool": ("size",),
    "flatten": (),
    "dense": ("units",),
    "dropout": ("rate",),
}
_OPTIONAL: dict[str, dict[str, Any]] = {
    "conv": {"padding": "valid", "activation": "none"},
    "maxpool": {},
    "flatten": {},
    "dense": {"activation": "none"},
    "dropout": {},
}
_TOP_KEYS = ("name", "input_shape", "num_classes", "layers")

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Layer:
    """One layer; fields that do not apply to its type are None."""

    name: str
    type: str
    filters: int | None = None
    kernel: int | None = None
    padding: str | None = None
    activation: str | None = None
    size: int | None = None
    units: int | None = None
    rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Only the fields that apply, so the canonical JSON does not change when a field
        is added for another layer type."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class Spec:
    """A validated sequential CNN; shapes are NHWC without the batch axis."""

    name: str
    input_shape: Shape
    num_classes: int
    layers: tuple[Layer, ...]

    def output_shapes(self) -> list[tuple[str, Shape]]:
        """(layer name, output shape) in order, computed the way Keras does (floor pooling)."""
        shapes: list[tuple[str, Shape]] = []
        shape = self.input_shape
        for layer in self.layers:
            shape = _output_shape(layer, shape)
            shapes.append((layer.name, shape))
        return shapes

    def param_shapes(self) -> list[tuple[str, Shape]]:
        """('<layer>.kernel' | '<layer>.bias', shape) in the canonical Keras layout:
        conv kernel HWIO, dense kernel (in, out)."""
        out: list[tuple[str, Shape]] = []
        for layer, in_shape in zip(self.layers, self._input_shapes(), strict=True):
            out.extend(_layer_params(layer, in_shape))
        return out

    def param_counts(self) -> list[dict[str, Any]]:
        """Per layer, parameterless layers included (like a Keras summary):
        ``{"layer", "params", "shapes": {"kernel": [...], "bias": [...]}}``. Shapes are lists
        so a record read back from JSON compares equal."""
        rows = []
        for layer, in_shape in zip(self.layers, self._input_shapes(), strict=True):
            params = _layer_params(layer, in_shape)
            rows.append({
                "layer": layer.name,
                "params": sum(math.prod(s) for _, s in params),
                "shapes": {n.split(".", 1)[1]: list(s) for n, s in params},
            })
        return rows

    def total_params(self) -> int:
        """All parameters are trainable in this family (no batch norm)."""
        return sum(math.prod(s) for _, s in self.param_shapes())

    def flops_per_image(self, training: bool = False) -> int:
        """See the module docstring for the convention."""
        counted = []
        for layer, in_shape, (_, out_shape) in zip(
            self.layers, self._input_shapes(), self.output_shapes(), strict=True
        ):
            if layer.type == "conv":
                assert layer.kernel is not None and layer.filters is not None
                h, w, _ = out_shape
                counted.append(
                    2 * h * w * layer.kernel * layer.kernel * in_shape[-1] * layer.filters)
            elif layer.type == "dense":
                assert layer.units is not None
                counted.append(2 * in_shape[-1] * layer.units)
        forward = sum(counted)
        if not training:
            return forward
        return forward + forward + (forward - counted[0] if counted else 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def hash(self) -> str:
        """sha256 of the canonical JSON; the (possibly overridden) input shape is part of it
        because it changes the parameter count."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _input_shapes(self) -> list[Shape]:
        return [self.input_shape] + [s for _, s in self.output_shapes()[:-1]]


def _output_shape(layer: Layer, shape: Shape) -> Shape:
    if layer.type == "conv":
        assert layer.kernel is not None and layer.filters is not None
        h, w, _ = shape
        if layer.padding == "valid":
            h, w = h - layer.kernel + 1, w - layer.kernel + 1
        return (h, w, layer.filters)
    if layer.type == "maxpool":
        assert layer.size is not None
        h, w, c = shape
        return (h // layer.size, w // layer.size, c)
    if layer.type == "flatten":
        return (math.prod(shape),)
    if layer.type == "dense":
        assert layer.units is not None
        return (layer.units,)
    return shape


def _layer_params(layer: Layer, in_shape: Shape) -> list[tuple[str, Shape]]:
    if layer.type == "conv":
        assert layer.kernel is not None and layer.filters is not None
        k = layer.kernel
        return [(f"{layer.name}.kernel", (k, k, in_shape[-1], layer.filters)),
                (f"{layer.name}.bias", (layer.filters,))]
    if layer.type == "dense":
        assert layer.units is not None
        return [(f"{layer.name}.kernel", (in_shape[-1], layer.units)),
                (f"{layer.name}.bias", (layer.units,))]
    return []


def resolve_spec_path(name_or_path: str) -> Path:
    """A bare name means common_data/specs/<name>.toml; anything with a suffix or a
    separator is a path, so a typo in a name is never mistaken for a file elsewhere."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or len(candidate.parts) > 1:
        path = candidate
    else:
        path = SPECS_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in SPECS_DIR.glob("*.toml"))
        raise ConfigError(
            f"spec {name_or_path!r}: no such file {str(path)!r} "
            f"(expected a path to a spec TOML or one of: {', '.join(known)})"
        )
    return path


def load_spec(name_or_path: str, image_size: int | None = None) -> Spec:
    """Load and validate a spec; ``image_size`` overrides input H and W (quick profile)."""
    path = resolve_spec_path(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"spec {path}: not valid TOML ({exc})") from exc
    return _parse_spec(raw, path, image_size)


def _parse_spec(raw: dict[str, Any], path: Path, image_size: int | None) -> Spec:
    where = f"spec {path}"
    unknown = sorted(set(raw) - set(_TOP_KEYS))
    if unknown:
        expected = ", ".join(_TOP_KEYS)
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (expected one of: {expected})")
    missing = [k for k in _TOP_KEYS if k not in raw]
    if missing:
        raise ConfigError(f"{where}: missing key {missing[0]!r}")
    name = raw["name"]
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: 'name' must be a non-empty string, got {name!r}")
    input_shape = raw["input_shape"]
    if (not isinstance(input_shape, list) or len(input_shape) != 3
            or not all(_is_int(v) and v >= 1 for v in input_shape)):
        raise ConfigError(
            f"{where}: 'input_shape' must be [H, W, C] of integers >= 1, got {input_shape!r}"
        )
    if image_size is not None:
        if not _is_int(image_size) or image_size < 1:
            raise ConfigError(f"{where}: image_size must be an integer >= 1, got {image_size!r}")
        input_shape = [image_size, image_size, input_shape[2]]
    num_classes = raw["num_classes"]
    if not _is_int(num_classes) or num_classes < 2:
        raise ConfigError(f"{where}: 'num_classes' must be an integer >= 2, got {num_classes!r}")
    if not isinstance(raw["layers"], list) or not raw["layers"]:
        raise ConfigError(f"{where}: 'layers' must be a non-empty array of [[layers]] tables")

    layers = tuple(_parse_layer(entry, i, where) for i, entry in enumerate(raw["layers"]))
    seen: set[str] = set()
    for layer in layers:
        if layer.name in seen:
            raise ConfigError(
                f"{where}: layer name {layer.name!r} is used twice (names key the weights)"
            )
        seen.add(layer.name)

    spec = Spec(name=name, input_shape=tuple(input_shape), num_classes=num_classes, layers=layers)
    _check_topology(spec, where)
    return spec


def _parse_layer(entry: Any, index: int, where: str) -> Layer:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: layer {index} must be a table, got {entry!r}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(
            f"{where}: layer {index} needs a 'name' that is an identifier, got {name!r}"
        )
    here = f"{where}: layer {name!r}"
    kind = entry.get("type")
    if kind not in LAYER_TYPES:
        expected = ", ".join(LAYER_TYPES)
        raise ConfigError(f"{here}: unknown type {kind!r} (expected one of: {expected})")
    allowed = ("name", "type", *_REQUIRED[kind], *_OPTIONAL[kind])
    for key in entry:
        if key not in allowed:
            raise ConfigError(
                f"{here}: unknown key {key!r} for a {kind} layer "
                f"(expected one of: {', '.join(allowed)})"
            )
    for key in _REQUIRED[kind]:
        if key not in entry:
            raise ConfigError(f"{here}: missing key {key!r} for a {kind} layer")
    values = {**_OPTIONAL[kind], **{k: v for k, v in entry.items() if k not in ("name", "type")}}

    for key in ("filters", "kernel", "size", "units"):
        if key in values and not (_is_int(values[key]) and values[key] >= 1):
            raise ConfigError(f"{here}: {key!r} must be an integer >= 1, got {values[key]!r}")
    if "rate" in values:
        rate = values["rate"]
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate < 1.0:
            raise ConfigError(f"{here}: 'rate' must be a number in [0, 1), got {rate!r}")
        values["rate"] = float(rate)
    for key, choices in (("padding", PADDINGS), ("activation", ACTIVATIONS)):
        if key in values and values[key] not in choices:
            expected = " or ".join(repr(c) for c in choices)
            raise ConfigError(f"{here}: {key!r} must be {expected}, got {values[key]!r}")
    return Layer(name=name, type=kind, **values)


def _check_topology(spec: Spec, where: str) -> None:
    """Reject networks the twins would build differently: dense on a 4-D tensor means
    different things in Keras and torch, and a 'same' conv with an even kernel pads
    asymmetrically in Keras but symmetrically in torch."""
    shape = spec.input_shape
    for layer in spec.layers:
        here = f"{where}: layer {layer.name!r}"
        spatial = len(shape) == 3
        if layer.type in ("conv", "maxpool", "flatten") and not spatial:
            raise ConfigError(f"{here}: a {layer.type} layer needs an H x W x C input, got {shape}")
        if layer.type == "dense" and spatial:
            raise ConfigError(f"{here}: a dense layer needs a flattened input, got {shape}")
        if layer.type == "conv" and layer.padding == "same" and (layer.kernel or 0) % 2 == 0:
            raise ConfigError(f"{here}: padding 'same' needs an odd kernel, got {layer.kernel}")
        before, shape = shape, _output_shape(layer, shape)
        if any(d < 1 for d in shape):
            raise ConfigError(
                f"{here}: its input {before} is too small at input_shape {spec.input_shape} "
                "(expected a larger image_size or fewer downsampling layers)"
            )
    if shape != (spec.num_classes,):
        raise ConfigError(
            f"{where}: the last layer must output ({spec.num_classes},) logits "
            f"to match num_classes, got {shape}"
        )


def _is_int(value: Any) -> bool:
    """TOML booleans are Python bools, which are ints; a spec never means True as 1."""
    return isinstance(value, int) and not isinstance(value, bool)
