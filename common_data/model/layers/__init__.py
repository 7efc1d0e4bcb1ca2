"""The layer registry: every layer type a spec may name, each declared once (see `base`).

`LAYER_TYPES` maps a type's name to its `LayerType`; its order is the order error messages
list the types in. Each twin keeps its own explicit map from these names to framework layers.
"""

from __future__ import annotations

from common_data.errors import ConfigError
from common_data.model.layers import basic, resnet
from common_data.model.layers.base import LAYER_TYPES_BY_NAME, Layer, LayerType, Param, Pass, Shape

LAYER_TYPES: dict[str, LayerType] = dict(LAYER_TYPES_BY_NAME)

__all__ = ["LAYER_TYPES", "Layer", "LayerType", "Param", "Pass", "Shape", "basic",
           "layer_type", "resnet"]


def layer_type(name: str) -> LayerType:
    """The registered type, or a ConfigError listing the known ones."""
    if name not in LAYER_TYPES:
        raise ConfigError(
            f"unknown layer type {name!r} (expected one of: {', '.join(LAYER_TYPES)})")
    return LAYER_TYPES[name]
