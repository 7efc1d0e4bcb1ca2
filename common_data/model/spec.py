"""The architecture spec: one TOML file that both twins build their network from.

Counting parameters, shapes and FLOPs here (instead of asking each framework) is what lets
the harness prove that the two twins are the same model: each twin checks its own counts
against these numbers. What each layer type means lives in the layer registry
(`common_data.model.layers`); this module reads, validates and walks the list of layers.

FLOP convention (``Spec.flops_per_image``): a multiply-add counts as 2 FLOPs; only conv
and dense layers are counted, the convs inside ResNet stages included (bias adds, ReLU,
pooling, batch norm, residual adds and dropout are ignored, as is usual for CNN FLOP tables).
Training counts what a step must compute: the forward pass, the weight gradient of every
counted layer (as many FLOPs as its forward) and the input gradient of every counted layer but
the first, whose input is the image and needs no gradient. The usual "3x forward" shortcut
would credit the twins with the first conv's ~3 % that no framework computes, and flatter the
roofline fraction by as much.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common_data.errors import ConfigError
from common_data.model.layers import LAYER_TYPES, Layer, Param, Shape, layer_type

SPECS_DIR = Path(__file__).resolve().parent / "specs"

_TOP_KEYS = ("name", "input_shape", "num_classes", "layers")

__all__ = ["SPECS_DIR", "Layer", "NamedParam", "Shape", "Spec", "load_spec",
           "resolve_spec_path"]


@dataclass(frozen=True)
class NamedParam:
    """A spec tensor: its canonical name, the layer it belongs to (by position) and what the
    registry declares about it (shape, initialiser, trainable, generator stream)."""

    name: str
    layer_index: int
    param: Param


@dataclass(frozen=True)
class Spec:
    """A validated sequential network; shapes are NHWC without the batch axis."""

    name: str
    input_shape: Shape
    num_classes: int
    layers: tuple[Layer, ...]

    def output_shapes(self) -> list[tuple[str, Shape]]:
        """(layer name, output shape) in order, computed the way Keras does (floor pooling)."""
        shapes: list[tuple[str, Shape]] = []
        shape = self.input_shape
        for layer in self.layers:
            shape = LAYER_TYPES[layer.type].output_shape(layer, shape)
            shapes.append((layer.name, shape))
        return shapes

    def params(self) -> list[NamedParam]:
        """Every tensor, trainable or not, in layer order and the registry's order within."""
        return [NamedParam(f"{layer.name}.{p.suffix}", index, p)
                for index, (layer, in_shape) in enumerate(zip(self.layers, self.input_shapes(),
                                                              strict=True))
                for p in LAYER_TYPES[layer.type].params(layer, in_shape)]

    def param_shapes(self) -> list[tuple[str, Shape]]:
        """('<layer>.<tensor>', shape) in the canonical Keras layout (conv kernel HWIO, dense
        kernel (in, out)), batch-norm running statistics included."""
        return [(p.name, p.param.shape) for p in self.params()]

    def param_counts(self) -> list[dict[str, Any]]:
        """Per layer, parameterless layers included (like a Keras summary):
        ``{"layer", "params", "shapes": {"kernel": [...], "bias": [...]}}``. Shapes are lists
        so a record read back from JSON compares equal."""
        rows = []
        for layer, in_shape in zip(self.layers, self.input_shapes(), strict=True):
            params = LAYER_TYPES[layer.type].params(layer, in_shape)
            rows.append({
                "layer": layer.name,
                "params": sum(math.prod(p.shape) for p in params),
                "shapes": {p.suffix: list(p.shape) for p in params},
            })
        return rows

    def total_params(self) -> int:
        """Every tensor, batch-norm running statistics included (Keras' "Total params")."""
        return sum(math.prod(p.param.shape) for p in self.params())

    def trainable_params(self) -> int:
        """What an optimizer updates (torch's sum over `parameters()`)."""
        return sum(math.prod(p.param.shape) for p in self.params() if p.param.trainable)

    def flops_per_image(self, training: bool = False) -> int:
        """See the module docstring for the convention."""
        counted = [flops for layer, in_shape in zip(self.layers, self.input_shapes(), strict=True)
                   for flops in LAYER_TYPES[layer.type].flops(layer, in_shape)]
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

    def input_shapes(self) -> list[Shape]:
        """Each layer's input shape, in order."""
        return [self.input_shape] + [s for _, s in self.output_shapes()[:-1]]
def resolve_spec_path(name_or_path: str) -> Path:
    """A bare name means common_data/model/specs/<name>.toml; anything with a suffix or a
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


def load_spec(name_or_path: str, image_size: int | None = None,
              num_classes: int | None = None) -> Spec:
    """Load and validate a spec; ``image_size`` overrides input H and W (quick profile) and
    ``num_classes`` the spec's default class count: a run passes its dataset's, so the head
    (a layer whose value is the string "num_classes") has one output per class of the data."""
    path = resolve_spec_path(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"spec {path}: not valid TOML ({exc})") from exc
    return _parse_spec(raw, path, image_size, num_classes)


def _parse_spec(raw: dict[str, Any], path: Path, image_size: int | None,
                num_classes: int | None = None) -> Spec:
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
    if num_classes is None:
        num_classes = raw["num_classes"]
    elif not _is_int(num_classes) or num_classes < 2:
        raise ConfigError(f"{where}: the dataset has {num_classes!r} classes: expected at least 2")
    if not _is_int(num_classes) or num_classes < 2:
        raise ConfigError(f"{where}: 'num_classes' must be an integer >= 2, got {num_classes!r}")
    if not isinstance(raw["layers"], list) or not raw["layers"]:
        raise ConfigError(f"{where}: 'layers' must be a non-empty array of [[layers]] tables")

    entries = [_with_class_count(entry, num_classes) for entry in raw["layers"]]
    layers = tuple(_parse_layer(entry, i, where) for i, entry in enumerate(entries))
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


def _with_class_count(entry: Any, num_classes: int) -> Any:
    """A layer table with every value "num_classes" replaced by the count: the parsed layer
    (and so the spec hash) is the same as if the number had been written there."""
    if not isinstance(entry, dict):
        return entry
    return {key: num_classes if value == "num_classes" else value for key, value in entry.items()}


def _parse_layer(entry: Any, index: int, where: str) -> Layer:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: layer {index} must be a table, got {entry!r}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(
            f"{where}: layer {index} needs a 'name' that is an identifier, got {name!r}"
        )
    here = f"{where}: layer {name!r}"
    kind_name = entry.get("type")
    if kind_name not in LAYER_TYPES:
        expected = ", ".join(LAYER_TYPES)
        raise ConfigError(f"{here}: unknown type {kind_name!r} (expected one of: {expected})")
    kind = layer_type(kind_name)
    allowed = ("name", "type", *(key.name for key in kind.keys))
    for key in entry:
        if key not in allowed:
            raise ConfigError(
                f"{here}: unknown key {key!r} for a {kind.name} layer "
                f"(expected one of: {', '.join(allowed)})"
            )
    options = []
    for key in kind.keys:
        if key.name not in entry:
            if key.required:
                raise ConfigError(f"{here}: missing key {key.name!r} for a {kind.name} layer")
            options.append((key.name, key.default))
            continue
        try:
            options.append((key.name, key.validate(entry[key.name])))
        except ValueError as exc:
            raise ConfigError(f"{here}: {key.name!r} {exc}") from None
    return Layer(name=name, type=kind.name, options=tuple(options))


def _check_topology(spec: Spec, where: str) -> None:
    """Reject networks the twins would build differently: dense on a 4-D tensor means
    different things in Keras and torch, and each type's own check (e.g. a 'same' conv with
    an even kernel pads asymmetrically in Keras but symmetrically in torch)."""
    shape = spec.input_shape
    for layer in spec.layers:
        here = f"{where}: layer {layer.name!r}"
        kind = LAYER_TYPES[layer.type]
        if kind.input_rank == 3 and len(shape) != 3:
            raise ConfigError(f"{here}: a {layer.type} layer needs an H x W x C input, got {shape}")
        if kind.input_rank == 1 and len(shape) != 1:
            raise ConfigError(f"{here}: a {layer.type} layer needs a flattened input, got {shape}")
        before, shape = shape, kind.output_shape(layer, shape)
        if any(d < 1 for d in shape):
            raise ConfigError(
                f"{here}: its input {before} is too small at input_shape {spec.input_shape} "
                "(expected a larger image_size or fewer downsampling layers)"
            )
        problem = kind.check(layer, before)
        if problem:
            raise ConfigError(f"{here}: {problem}")
    if shape != (spec.num_classes,):
        raise ConfigError(
            f"{where}: the last layer must output ({spec.num_classes},) logits "
            f"to match num_classes, got {shape}"
        )


def _is_int(value: Any) -> bool:
    """TOML booleans are Python bools, which are ints; a spec never means True as 1."""
    return isinstance(value, int) and not isinstance(value, bool)
