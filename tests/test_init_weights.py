"""The shared initial weights: both twins must start from exactly these bytes."""

import math

import numpy as np
import pytest

from common_data.model.init_weights import INIT_SCHEME, init_weights, weights_digest
from common_data.model.spec import SPECS_DIR, load_spec

# Pinned: the same digest under Python 3.11 and 3.13 is what proves the twins' envs agree.
BASELINE_64_SEED_0 = "30ae4868ca92cf2740e11e2ef325b0920781c772872aed81e213ad9af6af201b"


def test_names_shapes_and_dtype_follow_the_spec():
    spec = load_spec("baseline_cnn", image_size=64)
    weights = init_weights(spec, seed=0)
    assert [(k, v.shape) for k, v in weights.items()] == spec.param_shapes()
    assert all(v.dtype == np.float32 for v in weights.values())


def test_biases_are_zero_and_kernels_are_glorot_uniform():
    spec = load_spec("baseline_cnn", image_size=64)
    weights = init_weights(spec, seed=3)
    for name, value in weights.items():
        if name.endswith(".bias"):
            assert not value.any()
    conv2 = weights["conv2.kernel"]  # fan_in 3*3*32, fan_out 3*3*64, as Keras computes
    limit = math.sqrt(6 / (9 * 32 + 9 * 64))
    assert np.abs(conv2).max() <= limit
    assert np.abs(conv2).max() > 0.99 * limit
    assert conv2.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)
    dense1 = weights["dense1.kernel"]
    assert np.abs(dense1).max() <= math.sqrt(6 / (4608 + 128))


def test_pinned_digest_and_values_are_reproducible():
    weights = init_weights(load_spec("baseline_cnn", image_size=64), seed=0)
    assert weights_digest(weights) == BASELINE_64_SEED_0
    np.testing.assert_allclose(
        weights["conv1.kernel"][0, 0, 0, :3], [0.03780502, -0.06354491, -0.12670335], rtol=1e-6
    )


def test_seed_changes_every_layer():
    spec = load_spec("baseline_cnn", image_size=64)
    a, b = init_weights(spec, 0), init_weights(spec, 1)
    for name in a:
        if name.endswith(".kernel"):
            assert not np.array_equal(a[name], b[name])


def test_layers_are_drawn_independently(tmp_path):
    """A different image size or dense width leaves the conv weights untouched."""
    base = init_weights(load_spec("baseline_cnn"), 0)
    small = init_weights(load_spec("baseline_cnn", image_size=64), 0)
    text = (SPECS_DIR / "baseline_cnn.toml").read_text().replace("units = 128", "units = 64")
    (tmp_path / "narrow.toml").write_text(text)
    narrow = init_weights(load_spec(str(tmp_path / "narrow.toml")), 0)
    for name in ("conv1.kernel", "conv2.kernel", "conv3.kernel"):
        np.testing.assert_array_equal(base[name], small[name])
        np.testing.assert_array_equal(base[name], narrow[name])
    assert narrow["dense1.kernel"].shape == (25_088, 64)


def test_digest_sees_values_dtype_and_not_dict_order():
    weights = init_weights(load_spec("baseline_cnn", image_size=64), 0)
    digest = weights_digest(weights)
    assert weights_digest(dict(reversed(list(weights.items())))) == digest
    assert weights_digest({k: v.astype(np.float64) for k, v in weights.items()}) != digest
    changed = {k: v.copy() for k, v in weights.items()}
    changed["dense2.bias"][4] = np.float32(1e-30)
    assert weights_digest(changed) != digest
    big_endian = {k: v.astype(">f4") for k, v in weights.items()}
    assert weights_digest(big_endian) == digest


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seed_is_rejected(seed):
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        init_weights(load_spec("baseline_cnn", image_size=64), seed)


def test_scheme_is_declared():
    assert "glorot_uniform" in INIT_SCHEME and "[seed, layer_index]" in INIT_SCHEME
