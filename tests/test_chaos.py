"""Chaos: SIGKILL the harness or one of its training runs at random moments, rerun, repeat.

Whatever the moment, a rerun must finish the matrix with every cell done exactly once (one
record per cell, an intact predictions file, no temporary file left), and the report must
render. CI kills a few times (`THERMAL_BENCH_CHAOS_KILLS`, default 3); docs/reliability.md
states the figure of a full run with 20 kills:

    THERMAL_BENCH_CHAOS_KILLS=20 .tox/harness/bin/python -m pytest -p no:cacheprovider \
        -s tests/test_chaos.py
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import flat_dataset as dataset

from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from benchmarks.matrix.records import load_records
from common_data.errors import ConfigError
from common_data.run.schema import predictions_problem

pytestmark = pytest.mark.cross_env

KILLS = int(os.environ.get("THERMAL_BENCH_CHAOS_KILLS", "3"))
# a matrix that grows with the kills, so that most of them land while cells remain
SEEDS = list(range(max(3, KILLS // 2 + 1)))
CELLS = 2 * len(SEEDS)  # torch, tf x seeds
EXTRA_S = (0.0, 4.0)  # a kill lands this long after the awaited records (a run takes 3-8 s)


def _children(pid: int) -> list[int]:
    """The training runs the harness started (Linux: /proc/<pid>/task/*/children)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def _records(results: Path) -> int:
    return len(list((results / "runs").glob("*.json")))


def _wait(proc: subprocess.Popen, results: Path, new_records: int, extra_s: float) -> None:
    """Until `new_records` more records exist, then `extra_s` seconds more: kills land after
    some progress whatever the machine's speed, at any phase of a run (start, training, the
    record being written)."""
    target = _records(results) + new_records
    while _records(results) < target and proc.poll() is None:
        time.sleep(0.02)
    deadline = time.monotonic() + extra_s
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)


def _harness(data: Path, results: Path, jobs: int) -> subprocess.Popen:
    args = ["compare", "--data", str(data), "--frameworks", "torch,tf", "--variants", "baseline",
            "--seeds", ",".join(map(str, SEEDS)), "--epochs", "1", "--image-size", "32",
            "--splits", "random", "--no-probe", "--no-report", "--jobs", str(jobs),
            "--results", str(results)]
    return subprocess.Popen([sys.executable, "-m", "benchmarks", *args], cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_random_kills_lose_nothing_and_duplicate_nothing(tmp_path: Path, tmp_cache: Path) -> None:
    try:
        framework_python("torch")
        framework_python("tf")
    except ConfigError as exc:
        pytest.skip(f"framework envs missing: {exc}")
    data = dataset(tmp_path / "data")
    results = tmp_path / "results"
    rng = random.Random(int(os.environ.get("THERMAL_BENCH_CHAOS_SEED", "0")))
    tally = {"harness": 0, "training run": 0}
    attempt = 0
    while sum(tally.values()) < KILLS:
        proc = _harness(data, results, jobs=rng.choice([1, 2]))
        killed_run = False
        attempt += 1
        if attempt % 2:  # every other time a training run first; the harness goes on without it
            _wait(proc, results, 0, rng.uniform(*EXTRA_S))
            runs: list[int] = []
            while not runs and proc.poll() is None:
                runs = _children(proc.pid)  # between two runs: take the next one
                time.sleep(0.02)
            if runs:
                os.kill(rng.choice(runs), signal.SIGKILL)
                tally["training run"] += 1
                killed_run = True
        if sum(tally.values()) < KILLS:  # then the harness itself
            _wait(proc, results, rng.choice([0, 1]), rng.uniform(*EXTRA_S))
            if proc.poll() is None:
                proc.kill()
                tally["harness"] += 1
        _, err = proc.communicate(timeout=600)
        assert "Traceback" not in err, err
        if killed_run and proc.returncode != -signal.SIGKILL:
            assert "killed by SIGKILL" in err, err
        if proc.returncode == 0 and not killed_run:
            break  # the matrix finished between kills: nothing left to interrupt
    assert sum(tally.values()) >= min(KILLS, 2), tally
    done_under_fire = len(list((results / "runs").glob("*.json")))

    final = _harness(data, results, jobs=1)
    _, err = final.communicate(timeout=600)
    assert final.returncode == 0, err
    records = load_records(results / "runs")
    assert len(records) == CELLS, [r["run_id"] for r in records]
    assert len({r["config_hash"] for r in records}) == CELLS
    assert all(r["status"] == "ok" for r in records)
    for record in records:
        assert predictions_problem(record, results / "runs") is None
    assert len(list((results / "runs").glob("*.predictions.npz"))) == CELLS
    assert not list(results.rglob("*.tmp"))
    assert not list((results / "failures").glob("*.json")), "a later success clears its failure"

    report = subprocess.run([sys.executable, "-m", "benchmarks", "report", "--results",
                             str(results)], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    row = f"| PyTorch | baseline | {len(SEEDS)} |"
    assert (results / "COMPARISON.md").read_text().count(row) == 1
    print(f"\nchaos: {sum(tally.values())} SIGKILLs ({json.dumps(tally)}) on {CELLS} cells, "
          f"{done_under_fire} finished between kills; final rerun: "
          f"{err.strip().splitlines()[-1]}")
