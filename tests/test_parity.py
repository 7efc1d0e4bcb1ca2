"""`python -m benchmarks parity` from the harness side: both twins are the published model."""

import json
import os
import subprocess
import sys

import pytest

from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from common_data.errors import ConfigError

pytestmark = pytest.mark.cross_env


def _parity(*args: str) -> dict:
    """Run `benchmarks parity --json` with `args`; the report, once it passed."""
    try:
        for framework in ("torch", "tf"):
            framework_python(framework)
    except ConfigError as exc:
        pytest.skip(f"parity needs both framework envs: {exc}")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "parity", "--json", *args],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout)


def test_parity_passes_with_the_published_parameter_count() -> None:
    report = _parity()
    assert report["passed"] is True
    assert report["params"] == {"torch": 3_305_285, "tf": 3_305_285, "spec": 3_305_285}
    assert report["forward_max_abs_diff"]["max"] <= report["thresholds"]["forward_max_abs_diff"]
    assert len(report["train_loss"]["torch"]) == len(report["train_loss"]["tf"]) == 10
    assert report["checks"]["shared_dropout"] is True


def test_parity_holds_in_the_profiles_tuned_modes() -> None:
    """The real-data profiles run TF with oneDNN and PyTorch channels_last: those modes are
    only 'faithful' if parity passes under them, which this checks at 64x64."""
    report = _parity("--image-size", "64", "--mode", "onednn=true", "--mode", "channels_last=true")
    assert report["modes"]["tf"]["onednn"] is True
    assert report["modes"]["torch"]["channels_last"] is True
    assert report["passed"] is True


def _fake_probes(spec_size: int, logit_error: float, loss_error: float,
                 bf16: dict[str, bool]) -> tuple:
    """Probes as the twins would write them, built from the float64 reference with every logit
    off by `logit_error` and tf's losses off by `loss_error` relative; `bf16` per framework."""
    import numpy as np

    from common_data.model.dropout import draw_masks, dropout_layers
    from common_data.model.init_weights import init_weights, weights_digest
    from common_data.model.parity_probe import TRAIN_MODE_LR, parity_batch
    from common_data.model.reference import forward, train_forward
    from common_data.model.spec import load_spec

    spec = load_spec("baseline_cnn", image_size=spec_size)
    weights = init_weights(spec, 0)
    x, y = parity_batch(spec)
    masks = draw_masks(dropout_layers(spec), 0, 0, 0, len(y))
    losses = np.linspace(1.6, 1.5, 10)
    probes = {}
    for fw in ("torch", "tf"):
        scale = 1.0 + (loss_error if fw == "tf" else 0.0)
        probes[fw] = {
            "x": x, "y": y, "logits": forward(spec, weights, x) + logit_error,
            "masked_logits": forward(spec, weights, x, masks) + logit_error,
            "losses": losses * scale, "weights_digest": np.asarray(weights_digest(weights)),
            "params": dict(spec.param_shapes()),
            "environment": {"modes": {"mixed_precision": bf16[fw]}},
            "train_mode_logits": train_forward(spec, weights, x, masks)[0] + logit_error,
            "train_mode_losses": losses * scale, "running_step1": np.zeros(0),
            "running_final": np.zeros(0), "trainable_params": np.asarray(spec.trainable_params()),
            "train_mode_lr": np.asarray(TRAIN_MODE_LR),
        }
    return spec, probes


@pytest.mark.parametrize("bf16", [{"torch": True, "tf": False}, {"torch": False, "tf": True},
                                  {"torch": True, "tf": True}])
def test_bf16_on_either_side_gets_the_bf16_tolerance(bf16: dict[str, bool]) -> None:
    """The rounding measured in bf16 (logits 3.7e-3 off, losses 4e-4 apart) passes when a side
    runs in bf16 and fails in float32; a twin that ignored the dropout masks (0.37 off) fails
    in bf16 too."""
    from benchmarks.parity.check import compare

    spec, probes = _fake_probes(32, 3.7e-3, 4e-4, bf16)
    report = compare(spec, 0, 1e-4, probes)
    assert report["bf16"] is True and report["passed"] is True, report["checks"]
    spec, float32 = _fake_probes(32, 3.7e-3, 4e-4, {"torch": False, "tf": False})
    checks = compare(spec, 0, 1e-4, float32)["checks"]
    assert not checks["forward"] and not checks["shared_dropout"] and not checks["training"]
    spec, broken = _fake_probes(32, 0.37, 0.0, bf16)
    checks = compare(spec, 0, 1e-4, broken)["checks"]
    assert not checks["forward"] and not checks["shared_dropout"]
