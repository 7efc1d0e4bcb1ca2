"""The TensorFlow twin against the shared contract (tests/twin_cases.py); tf env only."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")

from twin_cases import PROJECT_ROOT, TwinContract

pytestmark = pytest.mark.tf


class TestTFTwin(TwinContract):
    framework = "tf"
    package = "tf_impl"


def test_a_twin_refuses_a_onednn_mode_that_tensorflow_does_not_run() -> None:
    """With the variable unset TF decides by the CPU; a twin built with mode.onednn false must
    then be refused exactly where TF turned oneDNN on by itself (AVX-512 VNNI/AMX)."""
    script = """
import json, os
os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)
from tf_impl.defaults import cpu_defaults
from tf_impl.run import make_twin
from common_data.model.init_weights import init_weights
from common_data.model.spec import load_spec
from common_data.run.config import load_run_config
spec = load_spec("baseline_cnn", image_size=32)
try:
    make_twin().build(spec, init_weights(spec, 0), load_run_config({"framework": "tf"}))
    refused = False
except RuntimeError:
    refused = True
print(json.dumps({"refused": refused, "on_by_itself": cpu_defaults()["onednn"]}))
"""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["refused"] == answer["on_by_itself"]


def test_under_mixed_bfloat16_only_the_output_layer_computes_in_float32() -> None:
    """Keras' advice for the layer feeding softmax; the torch twin mirrors it under autocast."""
    import keras

    from common_data.model.spec import load_spec
    from tf_impl.model import build_model

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_model(load_spec("baseline_cnn", image_size=32), dropout_seed=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    dtypes = {layer.name: layer.compute_dtype for layer in model.layers}
    assert dtypes["conv1"] == dtypes["dense1"] == "bfloat16" and dtypes["dense2"] == "float32"
    assert {v.dtype for v in model.weights} == {"float32"}
