"""A third framework is one row of the framework table plus its twin folder, nothing else.

tests/numpy_twin (a NumPy float64 twin built on the reference model's layers) is registered
through THERMAL_BENCH_FRAMEWORKS, and one tiny matrix goes through `compare` (with its
closing summary), `report` and `parity`: each shows three frameworks where there were two.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS, REGISTRY_ENV

pytestmark = pytest.mark.cross_env

REGISTRY = Path(__file__).resolve().parent / "numpy_twin" / "framework.toml"
TINY = ["--seeds", "0", "--variants", "baseline", "--epochs", "1", "--image-size", "32",
        "--splits", "random", "--no-probe", "--jobs", "1"]


def _harness(*args: str, registered: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != REGISTRY_ENV}
    if registered:
        env[REGISTRY_ENV] = str(REGISTRY)
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A one-seed, one-epoch matrix of the three twins: its results folder and stdout."""
    try:
        for framework in FRAMEWORKS:
            framework_python(framework)
    except ConfigError as exc:
        pytest.skip(f"needs both framework envs: {exc}")
    results = tmp_path_factory.mktemp("three") / "results"
    run = _harness("compare", "--frameworks", f"{','.join(FRAMEWORKS)},numpy", *TINY,
                   "--results", str(results))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return results, run.stdout


def test_the_third_framework_exists_only_once_registered() -> None:
    run = _harness("compare", "--frameworks", "numpy", *TINY, registered=False)
    assert run.returncode == 2
    assert "--frameworks: unknown value 'numpy'" in run.stderr


def test_compare_runs_and_summarises_three_frameworks(matrix: tuple[Path, str]) -> None:
    results, stdout = matrix
    records = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
    assert sorted(r["framework"] for r in records) == sorted([*FRAMEWORKS, "numpy"])
    assert all(r["status"] == "ok" for r in records)
    # the closing summary answers "are the twins equal?" once per pair with the anchor
    for name in (*(fw.name for fw in FRAMEWORKS.values() if "anchor" not in fw.roles), "NumPy"):
        assert f"PyTorch − {name} baseline accuracy" in stdout


def test_report_has_a_column_and_a_delta_per_framework(matrix: tuple[Path, str]) -> None:
    results, _ = matrix
    (results / "COMPARISON.md").unlink()
    run = _harness("report", "--results", str(results))
    assert run.returncode == 0, run.stderr[-2000:]
    report = (results / "COMPARISON.md").read_text()
    for fw in (*FRAMEWORKS.values(),):
        assert f"| {fw.name} | baseline | 1 |" in report
    assert "| NumPy | baseline | 1 |" in report
    assert "Framework delta (PyTorch − TensorFlow), paired by seed:" in report
    assert "Framework delta (PyTorch − NumPy), paired by seed:" in report
    assert "PyTorch − NumPy baseline accuracy" in report  # the first screen's summary


def test_parity_checks_three_twins() -> None:
    try:
        for framework in FRAMEWORKS:
            framework_python(framework)
    except ConfigError as exc:
        pytest.skip(f"needs both framework envs: {exc}")
    run = _harness("parity", "--image-size", "32", "--steps", "2")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    header = next(line for line in run.stdout.splitlines() if line.startswith("parameter"))
    assert header.split() == ["parameter", "spec", *FRAMEWORKS, "numpy", "count"]
    # the float64 twin is the reference itself: its forward pass is exact
    forward = next(line for line in run.stdout.splitlines() if line.startswith("forward,"))
    assert re.search(r"numpy 0\.00e\+00", forward), forward
    assert "torch vs numpy" in forward
    assert run.stdout.rstrip().endswith("PASSED")
