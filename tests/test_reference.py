"""The float64 reference forward pass that parity checks compare both twins against."""

import math
import time

import numpy as np
import pytest

from common_data.model.init_weights import init_weights
from common_data.model.reference import forward, softmax_cross_entropy
from common_data.model.spec import load_spec


def _spec(tmp_path, input_shape, layers, num_classes):
    lines = ['name = "tiny"', f"input_shape = {list(input_shape)}", f"num_classes = {num_classes}"]
    for layer in layers:
        lines.append("[[layers]]")
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in layer.items()]
    path = tmp_path / "tiny.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_spec(str(path))


def test_hand_computed_conv_relu_pool_dense(tmp_path):
    spec = _spec(tmp_path, (4, 4, 1), [
        {"name": "c", "type": "conv", "filters": 1, "kernel": 2, "activation": "relu"},
        {"name": "p", "type": "maxpool", "size": 2},
        {"name": "f", "type": "flatten"},
        {"name": "d", "type": "dense", "units": 2},
    ], num_classes=2)
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)  # x[i, j] = 4i + j
    weights = {
        "c.kernel": np.array([[1, 0], [0, 1]], np.float32).reshape(2, 2, 1, 1),
        "c.bias": np.array([-1], np.float32),
        "d.kernel": np.array([[1, -2]], np.float32),
        "d.bias": np.array([0.5, 0], np.float32),
    }
    # conv: x[i,j] + x[i+1,j+1] - 1 = 8i + 2j + 4 on a 3x3 map; the 2x2 pool keeps the
    # top-left 2x2 block (floor), whose max is at (1, 1): 14. Dense: [14 + 0.5, -28].
    np.testing.assert_allclose(forward(spec, weights, x), [[14.5, -28.0]])


def test_same_padding_pads_with_zeros_symmetrically(tmp_path):
    spec = _spec(tmp_path, (3, 3, 1), [
        {"name": "c", "type": "conv", "filters": 1, "kernel": 3, "padding": "same"},
        {"name": "f", "type": "flatten"},
        {"name": "d", "type": "dense", "units": 9},
    ], num_classes=9)
    weights = {"c.kernel": np.ones((3, 3, 1, 1)), "c.bias": np.zeros(1),
               "d.kernel": np.eye(9), "d.bias": np.zeros(9)}
    logits = forward(spec, weights, np.ones((1, 3, 3, 1)))
    np.testing.assert_allclose(logits, [[4, 6, 4, 6, 9, 6, 4, 6, 4]])


def test_flatten_is_channels_last(tmp_path):
    spec = _spec(tmp_path, (1, 2, 2), [
        {"name": "f", "type": "flatten"},
        {"name": "d", "type": "dense", "units": 4},
    ], num_classes=4)
    x = np.array([10.0, 11.0, 20.0, 21.0]).reshape(1, 1, 2, 2)  # (w, c): (0,0) (0,1) (1,0) (1,1)
    weights = {"d.kernel": np.eye(4), "d.bias": np.zeros(4)}
    np.testing.assert_allclose(forward(spec, weights, x), [[10.0, 11.0, 20.0, 21.0]])


def _naive_forward(spec, weights, x):
    """Loop-by-loop reference for the reference: slow, obviously right."""
    x = x.astype(np.float64)
    weights = {k: v.astype(np.float64) for k, v in weights.items()}
    for layer in spec.layers:
        if layer.type == "conv":
            k, w, b = layer.kernel, weights[f"{layer.name}.kernel"], weights[f"{layer.name}.bias"]
            if layer.padding == "same":
                x = np.pad(x, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
            n, h, wd, _ = x.shape
            out = np.zeros((n, h - k + 1, wd - k + 1, w.shape[3]))
            for i in range(out.shape[1]):
                for j in range(out.shape[2]):
                    patch = x[:, i:i + k, j:j + k, :]
                    out[:, i, j, :] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2])) + b
            x = np.maximum(out, 0) if layer.activation == "relu" else out
        elif layer.type == "maxpool":
            s = layer.size
            n, h, wd, c = x.shape
            out = np.full((n, h // s, wd // s, c), -np.inf)
            for i in range(h // s):
                for j in range(wd // s):
                    out[:, i, j, :] = x[:, i * s:(i + 1) * s, j * s:(j + 1) * s, :].max(axis=(1, 2))
            x = out
        elif layer.type == "flatten":
            x = x.reshape(len(x), -1)
        elif layer.type == "dense":
            x = x @ weights[f"{layer.name}.kernel"] + weights[f"{layer.name}.bias"]
            x = np.maximum(x, 0) if layer.activation == "relu" else x
    return x


@pytest.mark.parametrize("name", ["baseline_cnn", "published_torch_cnn"])
def test_matches_a_naive_loop_implementation(name):
    spec = load_spec(name, image_size=23)
    rng = np.random.default_rng(0)
    weights = {k: v + rng.normal(0, 0.05, v.shape).astype(np.float32)
               for k, v in init_weights(spec, 1).items()}  # non-zero biases too
    x = rng.random((2, 23, 23, 3), dtype=np.float32)
    np.testing.assert_allclose(forward(spec, weights, x), _naive_forward(spec, weights, x),
                               rtol=1e-10, atol=1e-12)


def test_full_size_batch_is_fast_enough_for_parity_checks():
    spec = load_spec("baseline_cnn")
    weights = init_weights(spec, 0)
    x = np.random.default_rng(0).random((8, 128, 128, 3), dtype=np.float32)
    start = time.perf_counter()
    logits = forward(spec, weights, x)
    assert time.perf_counter() - start < 10.0
    assert logits.shape == (8, 5) and logits.dtype == np.float64 and np.isfinite(logits).all()


def test_inputs_are_checked():
    spec = load_spec("baseline_cnn", image_size=64)
    weights = init_weights(spec, 0)
    with pytest.raises(ValueError, match=r"x_nhwc must have shape \(N, 64, 64, 3\)"):
        forward(spec, weights, np.zeros((1, 3, 64, 64)))
    with pytest.raises(ValueError, match=r"weights lack 'dense2\.bias'"):
        forward(spec, {k: v for k, v in weights.items() if k != "dense2.bias"},
                np.zeros((1, 64, 64, 3)))
    bad = dict(weights, **{"conv1.kernel": weights["conv1.kernel"].transpose(3, 2, 0, 1)})
    with pytest.raises(ValueError, match=r"weight 'conv1.kernel' has shape \(32, 3, 3, 3\)"):
        forward(spec, bad, np.zeros((1, 64, 64, 3)))


def test_cross_entropy_known_values():
    assert softmax_cross_entropy(np.zeros((4, 5)), np.arange(4)) == pytest.approx(math.log(5))
    assert softmax_cross_entropy(np.array([[0.0, math.log(3)]]), np.array([1])) == \
        pytest.approx(-math.log(0.75))
    huge = np.array([[1000.0, 0.0], [1000.0, 0.0]])
    assert softmax_cross_entropy(huge, np.array([0, 1])) == pytest.approx(500.0)
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\)"):
        softmax_cross_entropy(huge, np.array([0, 2]))
