"""The matrix on a real multi-node Ray cluster started on this machine: same records and
metrics as `local`, a node dying mid-matrix loses no cell and duplicates none, Ctrl-C leaves no
partial record, and a node without a framework env fails its cell in one line."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")  # the harness env has Ray; the framework envs skip this file

from conftest import ctrl_c_reaches_child  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from benchmarks.matrix.envs import PROJECT_ROOT  # noqa: E402
from benchmarks.matrix.ray_node import EnvMissing, node_python  # noqa: E402
from common_data.run.schema import read_record  # noqa: E402

pytestmark = pytest.mark.cross_env

CELLS = ["--frameworks", "torch,tf", "--seeds", "0,1", "--variants", "baseline", "--epochs", "1",
         "--image-size", "32", "--data", "synthetic", "--splits", "random", "--no-probe",
         "--jobs", "1", "--no-report"]
NODE = {"num_cpus": 1, "object_store_memory": 100 * 2**20}
# Deadlines, not sleeps: on a quiet machine these cells finish in seconds, but a CI machine or a
# developer's shared with training runs can take minutes to start Ray and import a framework.
PATIENCE_S = 600


def _env() -> dict[str, str]:
    """The harness starts its own Ray unless told an address; wide lines keep messages whole."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return {**env, "COLUMNS": "300"}


def _harness(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, env=_env(), timeout=PATIENCE_S)


def _records(results: Path) -> list[dict]:
    return [read_record(p) for p in sorted((results / "runs").glob("*.json"))]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A head that runs no cells (0 CPUs) and two one-CPU worker nodes, all on this machine."""
    head = {"num_cpus": 0, "include_dashboard": False, "object_store_memory": 100 * 2**20}
    started = Cluster(initialize_head=True, head_node_args=head)
    for _ in range(2):
        started.add_node(**NODE)
    yield started
    started.shutdown()


def _running_on(node_id: str) -> set[str]:
    """Run ids of the cells whose run process is alive on the Ray node `node_id`."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"THERMAL_BENCH_NODE={node_id}".encode() in environ and b"--out" in argv:
            found.add(Path(argv[argv.index(b"--out") + 1].decode()).stem)
    return found


def test_node_dying_mid_matrix_loses_nothing_and_metrics_equal_local(
    tmp_path: Path, cluster: Cluster
) -> None:
    local = _harness("compare", *CELLS, "--results", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr

    results = tmp_path / "ray"
    driver = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "compare", *CELLS, "--results", str(results),
         "--executor", "ray", "--ray-address", cluster.address],
        cwd=PROJECT_ROOT, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    doomed = sorted(cluster.worker_nodes, key=lambda n: n.node_id)[0]
    deadline = time.time() + PATIENCE_S
    while time.time() < deadline and not (killed := _running_on(doomed.node_id)):
        time.sleep(0.2)
    assert killed, "no cell started on the node to remove"
    cluster.remove_node(doomed, allow_graceful=False)
    cluster.add_node(**NODE)
    _, stderr = driver.communicate(timeout=PATIENCE_S)
    assert driver.returncode == 0, stderr
    assert "(4 ran, 0 already done, 0 failed)" in stderr

    records = _records(results)
    assert sorted(r["run_id"] for r in records) == sorted(r["run_id"] for r in _records(
        tmp_path / "local"))
    assert all(r["status"] == "ok" for r in records)
    nodes = {r["run_id"]: r["environment"]["node"] for r in records}
    assert len(set(nodes.values())) >= 2, "cells should have run on more than one node"
    assert all(nodes[run] != doomed.node_id for run in killed), "the killed cell ran elsewhere"
    assert not list((results / "failures").glob("*.json"))
    by_id = {r["run_id"]: r for r in _records(tmp_path / "local")}
    for record in records:
        assert record["metrics"] == by_id[record["run_id"]]["metrics"]
        assert (results / "runs" / record["predictions_file"]).is_file()

    report = _harness("report", "--results", str(results))
    assert report.returncode == 0, report.stderr
    text = (results / "COMPARISON.md").read_text()
    for run_id, node in nodes.items():
        assert f"| `{run_id}` | {os.uname().nodename} | `{node[:12]}` |" in text


def test_ctrl_c_leaves_no_partial_record_and_a_rerun_finishes(tmp_path: Path) -> None:
    """On a local Ray instance started by the harness itself (no address, no RAY_ADDRESS)."""
    results = tmp_path / "results"
    args = ["compare", *CELLS, "--results", str(results), "--executor", "ray"]
    driver = subprocess.Popen([sys.executable, "-m", "benchmarks", *args], cwd=PROJECT_ROOT,
                              env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=ctrl_c_reaches_child)
    deadline = time.time() + PATIENCE_S
    while time.time() < deadline and not list((results / "runs").glob("*.json")):
        time.sleep(0.2)
    driver.send_signal(signal.SIGINT)
    assert driver.wait(timeout=60) == 130
    first = _records(results)  # read_record raises on a torn or invalid record
    assert first, f"no cell finished within {PATIENCE_S} s, so the interrupt came too early"
    assert len(first) < 4, "the interrupt should land mid-matrix"
    assert not list(results.rglob("*.tmp")), "no temporary file left behind"
    assert not list((results / "failures").glob("*.json")), "interrupted cells are not failures"

    rerun = _harness(*args)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{4 - len(first)} ran, {len(first)} already done, 0 failed" in rerun.stderr
    assert len({r["config_hash"] for r in _records(results)}) == 4
    leftovers = list(Path(tempfile.gettempdir()).glob("thermal-bench-task-*"))
    assert not leftovers, "the killed tasks' folders on the node are cleaned up"


def test_node_without_a_framework_env_fails_the_cell_in_one_line(
    tmp_path: Path, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    for node in list(cluster.worker_nodes):
        cluster.remove_node(node)
    monkeypatch.setenv("THERMAL_BENCH_PYTHON_TF", "/nowhere/python")  # the new node inherits it
    cluster.add_node(**NODE)
    results = tmp_path / "results"
    run = _harness("compare", "--frameworks", "tf", *CELLS[2:], "--results", str(results),
                   "--executor", "ray", "--ray-address", cluster.address)
    assert run.returncode == 1, run.stderr
    failed = [line for line in run.stderr.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 2
    assert f"node {os.uname().nodename} (" in failed[0]
    assert "tox env 'tf' not found (/nowhere/python" in failed[0]
    failure = json.loads(next((results / "failures").glob("*.json")).read_text())
    assert failure["node"] and failure["host"] == os.uname().nodename


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["compare", "--executor", "dask"], "--executor 'dask': expected one of: local, ray"),
        (["finding", "--ray-address", "10.0.0.1:6379"], "--ray-address needs --executor ray"),
        (["compare", "--executor", "ray", "--ray-address", "127.0.0.1:1"],
         "--ray-address '127.0.0.1:1': no Ray head answers there"),
    ],
)
def test_bad_executor_flags_give_one_clear_line(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    run = _harness(*args, *CELLS[:2], "--results", str(tmp_path / "results"))
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert expected in lines[0]


def test_a_node_reuses_its_built_env_and_names_itself_when_it_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the driver's checkout, a node looks in its own envs folder before building."""
    envs = tmp_path / "node-envs"
    monkeypatch.setenv("THERMAL_BENCH_NODE_ENVS", str(envs))
    monkeypatch.setenv("THERMAL_BENCH_BUILD_ENVS", "0")
    monkeypatch.delenv("THERMAL_BENCH_PYTHON_TF", raising=False)
    with pytest.raises(EnvMissing, match=r"^node n1 \(abc\): tox env 'tf' not found under "):
        node_python("tf", tmp_path / "no-checkout", "node n1 (abc)")
    built = envs / "tf" / "bin" / "python"
    built.parent.mkdir(parents=True)
    built.touch()
    assert node_python("tf", tmp_path / "no-checkout", "node n1 (abc)") == built
