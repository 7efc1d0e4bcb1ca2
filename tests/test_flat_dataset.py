"""A new user's dataset end to end: flat JPEG folders, six classes, no timestamps, no overlay,
bursts of near-copies (`synthetic-flat`), run with the default `compare` and no card."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from common_data.data.synthetic_flat import EMOTIONS
from common_data.errors import ConfigError

pytestmark = pytest.mark.cross_env


def test_default_compare_follows_the_data(tmp_path: Path) -> None:
    try:
        framework_python("torch")
    except ConfigError as exc:
        pytest.skip(f"framework env missing: {exc}")
    results = tmp_path / "results"
    env = dict(os.environ, THERMAL_BENCH_CACHE=str(tmp_path / "cache"))
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "compare", "--data", "synthetic-flat",
         "--frameworks", "torch", "--seeds", "0", "--epochs", "1", "--image-size", "32",
         "--results", str(results)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "the grouped split (frames that are near-copies kept on one side) stands in" \
        in run.stderr
    assert "declares no overlay, so the masked and HUD-only regimes are skipped" in run.stderr

    records = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
    assert {r["data"]["split"] for r in records} == {"random", "grouped"}
    assert {r["data"]["hud"] for r in records} == {"full"}
    assert {tuple(r["metrics"]["classes"]) for r in records} == {EMOTIONS}  # all six trained
    assert all(len(r["metrics"]["confusion"]) == 6 for r in records)

    assert "majority class" in run.stdout  # the closing table's column
    report = (results / "COMPARISON.md").read_text(encoding="utf-8")
    assert "Majority-class rate of this split's validation frames" in report
    assert "grouped split (full)" in report and "(majority class" in report
    assert "near-copies: 100.0 % of the random split's validation frames" in report
    assert "HUD only" not in report.split("## Results")[0]
    published = report.split("## Published figures beside ours")[1]
    assert published.strip().startswith("None for these datasets")
