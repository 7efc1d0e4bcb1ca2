"""The PyTorch twin against the shared contract (tests/twin_cases.py); torch env only."""

import pytest

pytest.importorskip("torch")

from twin_cases import TwinContract

pytestmark = pytest.mark.torch


class TestTorchTwin(TwinContract):
    framework = "torch"
    package = "pytorch_impl"
