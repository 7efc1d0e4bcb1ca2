"""The architecture spec: the parameter counts both twins are checked against."""

import math
from pathlib import Path

import pytest

from common_data.errors import ConfigError
from common_data.model.spec import SPECS_DIR, load_spec

BASELINE_TOML = (SPECS_DIR / "baseline_cnn.toml").read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str, name: str = "custom.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_baseline_matches_the_published_keras_model():
    spec = load_spec("baseline_cnn")
    assert spec.total_params() == 3_305_285
    counts = {row["layer"]: row["params"] for row in spec.param_counts()}
    assert counts == {
        "conv1": 896, "pool1": 0, "conv2": 18_496, "pool2": 0, "conv3": 73_856, "pool3": 0,
        "flatten": 0, "dense1": 3_211_392, "dropout": 0, "dense2": 645,
    }
    assert dict(spec.output_shapes()) == {
        "conv1": (126, 126, 32), "pool1": (63, 63, 32), "conv2": (61, 61, 64),
        "pool2": (30, 30, 64), "conv3": (28, 28, 128), "pool3": (14, 14, 128),
        "flatten": (25_088,), "dense1": (128,), "dropout": (128,), "dense2": (5,),
    }


def test_published_torch_variant_has_4_3_million_params_with_same_padding():
    spec = load_spec("published_torch_cnn")
    assert spec.total_params() == 4_288_325
    assert dict(spec.output_shapes())["flatten"] == (16 * 16 * 128,)


def test_param_shapes_are_in_the_canonical_keras_layout():
    shapes = dict(load_spec("baseline_cnn").param_shapes())
    assert shapes["conv1.kernel"] == (3, 3, 3, 32)  # HWIO
    assert shapes["conv2.kernel"] == (3, 3, 32, 64)
    assert shapes["conv1.bias"] == (32,)
    assert shapes["dense1.kernel"] == (25_088, 128)  # (in, out)
    assert shapes["dense2.bias"] == (5,)
    assert list(shapes) == [
        f"{layer}.{kind}" for layer in ("conv1", "conv2", "conv3", "dense1", "dense2")
        for kind in ("kernel", "bias")
    ]


def test_param_counts_rows_carry_shapes_as_json_lists():
    rows = load_spec("baseline_cnn").param_counts()
    assert rows[0] == {"layer": "conv1", "params": 896,
                       "shapes": {"kernel": [3, 3, 3, 32], "bias": [32]}}
    assert rows[1] == {"layer": "pool1", "params": 0, "shapes": {}}


def test_image_size_overrides_height_and_width_only():
    spec = load_spec("baseline_cnn", image_size=64)
    assert spec.input_shape == (64, 64, 3)
    assert dict(spec.output_shapes())["flatten"] == (6 * 6 * 128,)
    assert spec.total_params() == 896 + 18_496 + 73_856 + 4608 * 128 + 128 + 645


def test_flops_count_multiply_adds_twice_and_skip_the_images_gradient():
    spec = load_spec("baseline_cnn")
    conv1 = 2 * 126 * 126 * 9 * 3 * 32
    forward = conv1 + 2 * (61 * 61 * 9 * 32 * 64 + 28 * 28 * 9 * 64 * 128
                           + 25_088 * 128 + 128 * 5)
    assert spec.flops_per_image() == forward
    # forward + weight gradients (= forward) + input gradients of every layer but conv1
    assert spec.flops_per_image(training=True) == 3 * forward - conv1


def test_hash_ignores_formatting_but_not_the_model(tmp_path):
    reformatted = "# a comment\n" + BASELINE_TOML.replace('padding = "valid"\n', "")
    assert load_spec(_write(tmp_path, reformatted)).hash() == load_spec("baseline_cnn").hash()
    assert load_spec("baseline_cnn").hash() != load_spec("baseline_cnn", image_size=64).hash()
    assert load_spec("baseline_cnn").hash() != load_spec("published_torch_cnn").hash()
    digest = load_spec("baseline_cnn").hash()
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_spec_is_immutable():
    spec = load_spec("baseline_cnn")
    with pytest.raises(AttributeError):
        spec.num_classes = 7  # type: ignore[misc]


def test_unknown_name_lists_the_available_specs():
    with pytest.raises(ConfigError, match=r"spec 'baselin_cnn'.*baseline_cnn, published_torch_cnn"):
        load_spec("baselin_cnn")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('type = "conv"\nfilters = 32', 'type = "convolution"\nfilters = 32',
         r"layer 'conv1': unknown type 'convolution' \(expected one of: conv, maxpool"),
        ("kernel = 3\npadding = \"valid\"\nactivation = \"relu\"\n\n[[layers]]\nname = \"pool1\"",
         "kernel = 3\ndilation = 2\n\n[[layers]]\nname = \"pool1\"",
         r"layer 'conv1': unknown key 'dilation' for a conv layer \(expected one of: name, type, "
         r"filters, kernel, padding, activation, stride, bias\)"),
        ('padding = "valid"', 'padding = "full"',
         r"layer 'conv1': 'padding' must be 'valid', 'same' or an integer >= 0, got 'full'"),
        ("filters = 32", "filters = true", r"layer 'conv1': 'filters' must be an integer >= 1"),
        ("rate = 0.5", "rate = 1.5", r"layer 'dropout': 'rate' must be a number in \[0, 1\)"),
        ('units = "num_classes"', "units = 7",
         r"must output \(5,\) logits to match num_classes, got \(7,\)"),
        ('name = "pool2"', 'name = "pool1"', r"layer name 'pool1' is used twice"),
        ('name = "flatten"\ntype = "flatten"', 'name = "drop0"\ntype = "dropout"\nrate = 0.1',
         r"layer 'dense1': a dense layer needs a flattened input"),
        ("num_classes = 5", "num_classes = 5\nclasses = 5",
         r"unknown key 'classes' \(expected one of: name, input_shape, num_classes, layers\)"),
        ('type = "maxpool"\nsize = 2', 'type = "maxpool"', r"layer 'pool1': missing key 'size'"),
    ],
)
def test_invalid_spec_names_file_layer_and_expectation(tmp_path, old, new, message):
    assert old in BASELINE_TOML
    path = _write(tmp_path, BASELINE_TOML.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message) as info:
        load_spec(path)
    assert str(info.value).startswith(f"spec {path}:")


def test_too_small_image_names_the_layer_that_runs_out_of_pixels():
    with pytest.raises(ConfigError, match=r"layer 'conv3': its input \(1, 1, 64\) is too small"):
        load_spec("baseline_cnn", image_size=12)


def test_broken_toml_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_spec(_write(tmp_path, "name = \n"))


def test_total_params_is_the_sum_of_param_shapes():
    spec = load_spec("published_torch_cnn", image_size=64)
    assert spec.total_params() == sum(math.prod(s) for _, s in spec.param_shapes())
    assert spec.total_params() == sum(row["params"] for row in spec.param_counts())


def test_the_head_takes_the_datasets_class_count_and_five_keeps_the_recorded_hash() -> None:
    """Committed records were trained with five classes: their spec hashes must not move."""
    import json

    runs = Path(__file__).resolve().parent.parent / "results" / "runs"
    record = json.loads(next(runs.glob("*-baseline-random-full-128px-*.json")).read_text())
    five = load_spec(record["config"]["spec"], image_size=128)
    assert five.hash() == record["model"]["spec_hash"]
    assert load_spec(record["config"]["spec"], image_size=128, num_classes=5).hash() == five.hash()
    six = load_spec("baseline_cnn", image_size=128, num_classes=6)
    assert six.num_classes == 6 and six.output_shapes()[-1][1] == (6,)
    with pytest.raises(ConfigError, match="the dataset has 1 classes: expected at least 2"):
        load_spec("baseline_cnn", num_classes=1)
