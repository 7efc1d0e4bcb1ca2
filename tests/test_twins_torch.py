"""The PyTorch twin against the shared contract (tests/twin_cases.py); torch env only."""

import pytest

pytest.importorskip("torch")

from twin_cases import TwinContract

pytestmark = pytest.mark.torch


class TestTorchTwin(TwinContract):
    framework = "torch"
    package = "pytorch_impl"


def test_under_bf16_autocast_only_the_output_layer_computes_in_float32() -> None:
    """As Keras' mixed_bfloat16 keeps the tf twin's output layer in float32."""
    import torch

    from common_data.model.init_weights import init_weights
    from common_data.model.spec import load_spec
    from pytorch_impl.model import build_model, load_weights

    spec = load_spec("baseline_cnn", image_size=32)
    model = build_model(spec)
    load_weights(model, init_weights(spec, 0))
    seen = {}
    for name in ("conv1", "dense1", "dense2"):
        getattr(model, name).register_forward_hook(
            lambda module, args, out, name=name: seen.__setitem__(name, out.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(torch.rand(2, 3, 32, 32))
    assert seen == {"conv1": torch.bfloat16, "dense1": torch.bfloat16, "dense2": torch.float32}
    assert logits.dtype == torch.float32
