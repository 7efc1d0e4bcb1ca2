"""Augmentation semantics and determinism; batches as the twins receive them."""

from __future__ import annotations

import hashlib
import os
import subprocess

import numpy as np
import pytest

from common_data.data.augment import (
    PUBLISHED,
    Augmentation,
    Transform,
    apply_transform,
    augment_image,
    draw_transform,
)
from common_data.data.batches import count_batches, epoch_order, iterate_batches
from common_data.errors import ConfigError

# Pinned with numpy 2.4.6 and opencv-python-headless 5.0.0.93 (requirements/common.txt), under
# Python 3.11 and 3.13 alike. If a version bump changes them, the twins' input bytes changed:
# re-pin knowingly, never silently.
GOLDEN_AUGMENT = "a618c2b20b76bb7e617911a01d77ed41c2ffc1811e4843383c02502cd1d55d89"
GOLDEN_BATCHES = "5112b386eb5960d2d345ce67271129291653d54ebe2e194934ef9b8e90cd1166"
IDENTITY = Transform(0.0, 0.0, 0.0, 0.0, 1.0, 1.0, False)


def _image(seed: int = 3, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _dataset(n: int = 20, size: int = 24) -> tuple[np.ndarray, np.ndarray]:
    images = np.random.default_rng(4).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return images, np.arange(n) % 5


def test_augmentation_bytes_are_pinned():
    assert hashlib.sha256(augment_image(_image(), 0, 0, 0).tobytes()).hexdigest() == GOLDEN_AUGMENT


def test_augmentation_is_a_function_of_seed_epoch_and_index():
    img = _image()
    same = augment_image(img, 5, 2, 9)
    np.testing.assert_array_equal(same, augment_image(img, 5, 2, 9))
    assert same.shape == img.shape and same.dtype == np.uint8
    for other in ((6, 2, 9), (5, 3, 9), (5, 2, 10)):
        assert not np.array_equal(same, augment_image(img, *other))


def test_identity_transform_and_flip():
    img = _image()
    np.testing.assert_array_equal(apply_transform(img, IDENTITY), img)
    flipped = Transform(0.0, 0.0, 0.0, 0.0, 1.0, 1.0, True)
    np.testing.assert_array_equal(apply_transform(img, flipped), img[:, ::-1])


def test_shift_follows_keras_axes():
    """Keras' tx (from height_shift_range) moves columns: output column c reads input c + tx."""
    img = _image()
    out = apply_transform(img, Transform(0.0, 5.0, 0.0, 0.0, 1.0, 1.0, False))
    np.testing.assert_array_equal(out[:, :20], img[:, 5:25])
    out = apply_transform(img, Transform(0.0, 0.0, 3.0, 0.0, 1.0, 1.0, False))
    np.testing.assert_array_equal(out[:20], img[3:23])
    np.testing.assert_array_equal(out[-3:], np.repeat(img[-1:], 3, axis=0))  # fill "nearest"


def test_rotation_by_90_degrees_turns_the_image():
    img = _image()
    out = apply_transform(img, Transform(90.0, 0.0, 0.0, 0.0, 1.0, 1.0, False))
    # out[y, x] = in[x, W-1-y]: sampling the input at R(90) @ output turns counter-clockwise
    np.testing.assert_array_equal(out, np.rot90(img, k=1))


def test_draws_stay_in_the_published_ranges():
    rng = np.random.default_rng(0)
    draws = [draw_transform(rng, 128, 128) for _ in range(2000)]
    theta = np.array([d.theta_deg for d in draws])
    shifts = np.array([[d.tx, d.ty] for d in draws])
    zooms = np.array([[d.zx, d.zy] for d in draws])
    assert np.abs(theta).max() <= 20 and np.abs(theta).max() > 19
    assert np.abs(shifts).max() <= 12.8 and np.abs(shifts).max() > 12
    assert np.abs([d.shear_deg for d in draws]).max() <= 0.1  # Keras: degrees
    assert zooms.min() >= 0.9 and zooms.max() <= 1.1
    assert np.corrcoef(zooms.T)[0, 1] < 0.1  # x and y zoom are drawn independently
    assert 0.45 < np.mean([d.flip for d in draws]) < 0.55


def test_no_flip_when_disabled():
    params = Augmentation(horizontal_flip=False)
    rng = np.random.default_rng(0)
    assert not any(draw_transform(rng, 32, 32, params).flip for _ in range(200))
    assert PUBLISHED.horizontal_flip


def test_batches_cover_each_index_once_in_the_documented_order():
    images, labels = _dataset()
    indices = np.arange(3, 20)
    batches = list(
        iterate_batches(images, labels, indices, batch_size=5, seed=1, epoch=2, shuffle=True,
                        augment=False)
    )
    assert [len(y) for _, y in batches] == [5, 5, 5, 2]
    expected = indices[np.random.default_rng([1, 2]).permutation(len(indices))]
    np.testing.assert_array_equal(epoch_order(indices, 1, 2, True), expected)
    xs = np.concatenate([x for x, _ in batches])
    np.testing.assert_array_equal(xs, images[expected].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), labels[expected])


def test_batch_values_are_uint8_over_255_in_float32():
    images, labels = _dataset()
    idx = np.array([4, 1, 7])
    ((x, y),) = iterate_batches(images, labels, idx, batch_size=8, seed=0, epoch=0,
                                shuffle=False, augment=False)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == (3, 24, 24, 3) and x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_array_equal(x, images[idx].astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y, labels[idx])


def test_augmented_sample_does_not_depend_on_batch_size_or_position():
    images, labels = _dataset()
    idx = np.arange(20)

    def served(batch_size: int) -> dict[int, np.ndarray]:
        out = {}
        order = epoch_order(idx, 7, 1, True)
        xs = np.concatenate([x for x, _ in iterate_batches(
            images, labels, idx, batch_size=batch_size, seed=7, epoch=1, shuffle=True,
            augment=True)])
        for i, x in zip(order, xs, strict=True):
            out[int(i)] = x
        return out

    a, b = served(4), served(7)
    for i in idx:
        np.testing.assert_array_equal(a[i], b[i])
        expected = augment_image(images[i], 7, 1, int(i)).astype(np.float32) / np.float32(255)
        np.testing.assert_array_equal(a[i], expected)


def test_drop_last_and_count_batches():
    images, labels = _dataset()
    idx = np.arange(20)
    kept = list(iterate_batches(images, labels, idx, batch_size=6, seed=0, epoch=0,
                                shuffle=True, augment=False, drop_last=True))
    assert [len(y) for _, y in kept] == [6, 6, 6]
    assert count_batches(20, 6) == 4 and count_batches(20, 6, drop_last=True) == 3
    assert count_batches(18, 6) == 3 and count_batches(0, 6) == 0


def test_batch_bytes_are_pinned():
    images, labels = _dataset()
    digest = hashlib.sha256()
    for epoch in range(2):
        for x, y in iterate_batches(images, labels, np.arange(20), batch_size=6, seed=1,
                                    epoch=epoch, shuffle=True, augment=True):
            digest.update(x.tobytes())
            digest.update(y.tobytes())
    assert digest.hexdigest() == GOLDEN_BATCHES


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, r"batch_size=0 is not valid: expected an integer >= 1"),
        ({"seed": -1}, r"seed=-1 is not valid: expected an integer >= 0"),
        ({"epoch": 1.5}, r"epoch=1.5 is not valid"),
    ],
)
def test_bad_batch_arguments(kwargs, message):
    images, labels = _dataset()
    args = {"batch_size": 4, "seed": 0, "epoch": 0, **kwargs}
    with pytest.raises(ConfigError, match=message):
        next(iterate_batches(images, labels, np.arange(4), shuffle=True, augment=False, **args))


@pytest.mark.cross_env
def test_same_bytes_in_both_framework_envs():
    """The pinned digests again, computed by the torch (3.11) and tf (3.13) interpreters."""
    from benchmarks.matrix.envs import framework_python
    from common_data.errors import ConfigError as EnvMissing

    code = (
        "import hashlib, numpy as np\n"
        "from common_data.data.augment import augment_image\n"
        "img = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)\n"
        "print(hashlib.sha256(augment_image(img, 0, 0, 0).tobytes()).hexdigest())\n"
    )
    for framework in ("torch", "tf"):
        try:
            python = framework_python(framework)
        except EnvMissing as exc:
            pytest.skip(str(exc))
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.dirname(__file__)), check=True)
        assert out.stdout.strip() == GOLDEN_AUGMENT, framework
