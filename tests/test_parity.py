"""`python -m benchmarks parity` from the harness side: both twins are the published model."""

import json
import os
import subprocess
import sys

import pytest

from benchmarks.envs import PROJECT_ROOT, framework_python
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
