"""The TensorFlow twin against the shared contract (tests/twin_cases.py); tf env only."""

import pytest

pytest.importorskip("tensorflow")

from twin_cases import TwinContract

pytestmark = pytest.mark.tf


class TestTFTwin(TwinContract):
    framework = "tf"
    package = "tf_impl"
