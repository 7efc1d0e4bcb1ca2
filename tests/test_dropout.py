"""Shared dropout masks (common_data.model.dropout): what both twins multiply by in training."""

from __future__ import annotations

import hashlib

import numpy as np

from common_data.model.dropout import draw_masks, dropout_layers
from common_data.model.spec import load_spec


def test_masks_follow_the_spec_rate_scale_and_shape() -> None:
    spec = load_spec("baseline_cnn", image_size=64)
    layers = dropout_layers(spec)
    assert [(layer.name, layer.rate, layer.shape) for layer in layers] == [
        ("dropout", 0.5, (128,))
    ]
    mask = draw_masks(layers, seed=0, epoch=0, step=0, batch=4096)["dropout"]
    assert mask.dtype == np.float32 and mask.shape == (4096, 128)
    assert set(np.unique(mask)) == {np.float32(0.0), np.float32(2.0)}
    assert abs(float(np.mean(mask == 0)) - 0.5) < 0.01


def test_masks_are_a_pure_function_of_seed_epoch_step_and_layer() -> None:
    layers = dropout_layers(load_spec("baseline_cnn", image_size=32))
    first = draw_masks(layers, seed=1, epoch=2, step=3, batch=8)["dropout"]
    assert np.array_equal(first, draw_masks(layers, 1, 2, 3, 8)["dropout"])
    for other in [(0, 2, 3), (1, 0, 3), (1, 2, 0)]:
        assert not np.array_equal(first, draw_masks(layers, *other, 8)["dropout"])


# Pinned: this file runs in the torch env (Python 3.11) and the tf env (Python 3.13), so the
# same digest in both proves the twins receive bit-identical masks on either interpreter.
GOLDEN_MASK = "fc73b81cc552550e719d89376e88bcb1f3cc126827bda2d5525895116afa94ee"


def test_masks_are_bit_identical_on_every_interpreter() -> None:
    layers = dropout_layers(load_spec("baseline_cnn", image_size=64))
    mask = draw_masks(layers, seed=7, epoch=3, step=11, batch=32)["dropout"]
    assert hashlib.sha256(mask.tobytes()).hexdigest() == GOLDEN_MASK
