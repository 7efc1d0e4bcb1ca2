"""The comparison harness as a user drives it: resumable matrix, clear errors, the report."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ctrl_c_reaches_child

from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from common_data.errors import ConfigError

pytestmark = pytest.mark.cross_env

TINY = ["--variants", "baseline", "--epochs", "1", "--image-size", "32", "--splits", "random",
        "--no-probe", "--jobs", "1", "--no-report"]


def _harness(
    *args: str, env: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        **kwargs,
    )


def _needs_envs() -> None:
    try:
        framework_python("torch")
        framework_python("tf")
    except ConfigError as exc:
        pytest.skip(f"framework envs missing: {exc}")


def _records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "runs").glob("*.json"))]


def test_killed_matrix_resumes_without_lost_or_duplicated_records(tmp_path: Path) -> None:
    _needs_envs()
    results = tmp_path / "results"
    args = [
        "compare",
        "--frameworks",
        "torch,tf",
        "--seeds",
        "0,1",
        *TINY,
        "--results",
        str(results),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and not list((results / "runs").glob("*.json")):
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _records(results)
    assert 1 <= len(first) < 4, "the kill should land mid-matrix"

    rerun = _harness(*args)
    assert rerun.returncode == 0, rerun.stderr
    records = _records(results)
    assert len(records) == 4
    assert len({r["config_hash"] for r in records}) == 4
    assert all(r["status"] == "ok" for r in records)
    assert f"{len(first)} already done" in rerun.stderr
    assert not list((results / "runs").glob("*.tmp*"))

    again = _harness(*args)
    assert "0 ran, 4 already done" in again.stderr
    assert len(_records(results)) == 4


def test_jobs_run_cells_side_by_side_with_the_same_results(tmp_path: Path) -> None:
    """`--jobs 2` changes only when runs happen: same predictions, the count recorded and
    reported, and Ctrl-C leaves unfinished cells undone rather than failed."""
    _needs_envs()
    cells = ["--frameworks", "torch,tf", "--seeds", "0,1", *TINY]
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    assert _harness("compare", *cells, "--results", str(alone)).returncode == 0

    args = ["compare", *cells, "--jobs", "2", "--results", str(shared)]
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks", *args], cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=ctrl_c_reaches_child)
    deadline = time.time() + 300
    while time.time() < deadline and not list((shared / "runs").glob("*.json")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert len(_records(shared)) < 4, "the interrupt should land mid-matrix"
    assert not list((shared / "failures").glob("*.json")), "interrupted cells are not failures"

    rerun = _harness(*args)
    assert rerun.returncode == 0, rerun.stderr
    by_id = {r["run_id"]: r for r in _records(alone)}
    for record in _records(shared):
        assert record["environment"]["concurrent_runs"] == 2
        twin = by_id[record["run_id"]]
        assert twin["environment"]["concurrent_runs"] == 1
        assert record["metrics"] == twin["metrics"]
    assert len(_records(shared)) == len(by_id) == 4

    assert "**Shared machine** — 4 of these 4 runs were timed while up to 2 runs" in _report(
        shared
    )
    assert "**Shared machine**" not in _report(alone)


def _report(results: Path) -> str:
    run = _harness("report", "--results", str(results))
    assert run.returncode == 0, run.stderr
    return (results / "COMPARISON.md").read_text()


def test_report_regenerates_from_stored_records(tmp_path: Path) -> None:
    _needs_envs()
    results = tmp_path / "results"
    run = _harness(
        "compare",
        "--frameworks",
        "torch,tf",
        "--seeds",
        "0,1",
        "--variants",
        "baseline,augmented",
        "--epochs",
        "2",
        "--image-size",
        "32",
        "--splits",
        "random",
        "--no-probe",
        "--results",
        str(results),
    )
    assert run.returncode == 0, run.stderr
    # the terminal tells the result: the table, the answers with numbers, the report's path
    assert "The matrix just run" in run.stdout
    assert "Are the twins equal? PyTorch − TensorFlow baseline accuracy" in run.stdout
    assert "Is the augmentation finding reproduced?" in run.stdout
    assert f"report: {results / 'COMPARISON.md'}" in run.stdout
    report = (results / "COMPARISON.md").read_text()
    sections = [line for line in report.splitlines() if line.startswith("## ")]
    assert sections[0] == "## The matrix just run"
    assert "![accuracy per regime](figures/matrix-regimes.png)" in report
    assert "| PyTorch | baseline | 2 |" in report
    assert "| TensorFlow | augmented | 2 |" in report
    assert "2-seed ensemble" in report
    assert "Framework delta" in report and "Reduced protocol" in report
    figures = {p.name for p in (results / "figures").glob("*.png")}
    assert "speed.png" in figures and any(name.startswith("curves-") for name in figures)

    (results / "COMPARISON.md").unlink()
    regenerated = _harness("report", "--results", str(results))
    assert regenerated.returncode == 0, regenerated.stderr
    assert (results / "COMPARISON.md").read_text().count("| PyTorch |") >= 2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["compare", "--frameworks", "jax"], "--frameworks: unknown value 'jax'"),
        (["compare", "--variants", "mixup"], "--variants: unknown value 'mixup'"),
        (["compare", "--data", "/no/such/folder"], "--data '/no/such/folder': no such folder"),
        (["compare", "--profile", "nightly"], "--profile 'nightly': no such profile"),
        (["compare", "--mode", "compile"], "--mode 'compile': expected KEY=true|false"),
        (["report", "--results", "/no/such/results"], "no runs/ folder"),
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["finding", "--frameworks", "jax"], "--frameworks: unknown value 'jax'"),
        (["finding", "--data", "/no/such/folder"], "--data '/no/such/folder': no such folder"),
        (["finding", "--regimes", "random.blurred"], "unknown regime 'random.blurred'"),
        (["compare", "--jobs", "0"], "--jobs '0': expected an integer >= 1"),
        (["finding", "--jobs", "two"], "--jobs 'two': expected an integer >= 1"),
    ],
)
def test_bad_input_gives_one_clear_line(args: list[str], expected: str) -> None:
    result = _harness(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_missing_framework_env_says_how_to_create_it(tmp_path: Path) -> None:
    env = dict(os.environ, THERMAL_BENCH_PYTHON_TF=str(tmp_path / "nope" / "python"))
    result = _harness("compare", *TINY, "--results", str(tmp_path / "r"), env=env)
    assert result.returncode == 2
    assert "tox env 'tf' not found" in result.stderr
    assert "tox run -e tf --notest" in result.stderr


def test_locked_results_folder_is_refused(tmp_path: Path) -> None:
    _needs_envs()
    results = tmp_path / "results"
    results.mkdir()
    hold = (
        "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode()); "
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, str(results / ".harness.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        result = _harness("compare", *TINY, "--results", str(results))
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2
    assert f"locked by another harness (pid {holder.pid})" in result.stderr
    assert not (results / "runs").exists(), "nothing may be written beside a live harness"


def test_lock_left_by_a_dead_harness_is_free(tmp_path: Path) -> None:
    """flock dies with its process: a lock file with a dead pid in it blocks nobody."""
    _needs_envs()
    results = tmp_path / "results"
    results.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (results / ".harness.lock").write_text(str(dead.pid))
    result = _harness(
        "compare", "--frameworks", "torch", "--seeds", "0", *TINY, "--results", str(results)
    )
    assert result.returncode == 0, result.stderr
    assert len(_records(results)) == 1
