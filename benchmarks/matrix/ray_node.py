"""What one Ray task does on the node it lands on: run one cell exactly as `local` would.

The cell still runs as its own subprocess with the framework env's python, in a temporary
folder on the node; the task hands the files the run wrote (record, predictions, weights) and
its log back to the driver as bytes, and only the driver writes into `results/`. So nodes need
no shared filesystem for results, and a node that dies mid-run leaves nothing half-written:
Ray runs the task again elsewhere and the driver records the one result it receives.

Which code and envs a node uses: the driver's project folder when it exists on the node (the
same machine, or a shared filesystem, as on most Slurm clusters), else the copy Ray shipped
(`runtime_env` `working_dir`) with tox envs built once per node under `THERMAL_BENCH_NODE_ENVS`.
"""

import fcntl
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.matrix.envs import PROJECT_ROOT, env_python
from benchmarks.matrix.local import die_with_parent
from common_data.frameworks import FRAMEWORKS
from common_data.safe_files import open_regular
from common_data.wire import CONCURRENT_RUNS_ENV, NODE_ENV

NODE_ENVS = "THERMAL_BENCH_NODE_ENVS"  # where a node keeps the tox envs it built
BUILD_ENVS = "THERMAL_BENCH_BUILD_ENVS"  # "0": fail at once when a node lacks an env
_NODE_HOME = Path.home() / ".cache" / "thermal-fer-bench"
_LOG_LIMIT = 1 << 20  # the log's last MiB goes back to the driver
_TMP_PREFIX = "thermal-bench-task-"  # + the worker's pid: a killed worker's folder is found


class EnvMissing(Exception):
    """A node cannot run a framework; the message is the one line the user sees."""


def run_cell(framework: str, config: dict[str, Any], run_id: str, driver_root: str) -> dict:
    """The Ray task's body; returns {node, host, returncode, command, seconds, log, files}.

    `files` maps paths relative to the runs folder to their bytes, the record last. A run that
    fails for its own reason comes back as a result (returncode != 0), not as an exception, so
    Ray does not retry it; Ray retries only when the node or worker dies.
    """
    import ray  # the node's worker runs Ray already; this module is only imported there

    node = ray.get_runtime_context().get_node_id()
    host = socket.gethostname()
    where = f"node {host} ({node[:12]})"
    print(f"thermal-bench: {run_id} starts on {where}", flush=True)
    result: dict[str, Any] = {"node": node, "host": host, "command": [], "files": {},
                              "seconds": 0.0}
    root = Path(driver_root) if (Path(driver_root) / "benchmarks").is_dir() else PROJECT_ROOT
    try:
        python = node_python(framework, root, where)
    except EnvMissing as exc:
        return {**result, "returncode": 2, "log": f"error: {exc}\n"}
    cpus = next((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["NodeID"] == node), 0)
    fits = max(int(cpus) // max(int(config["threads"]), 1), 1)  # runs that may share the node
    _remove_orphans()
    with tempfile.TemporaryDirectory(prefix=f"{_TMP_PREFIX}{os.getpid()}-") as tmp:
        folder = Path(tmp)
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
        command = [str(python), "-m", FRAMEWORKS[framework].module("run"), "--config",
                   str(folder / "config.json"), "--out", str(folder / "runs" / f"{run_id}.json")]
        (folder / "runs").mkdir()
        env = dict(os.environ, PYTHONPATH=str(root), PYTHONUNBUFFERED="1", PYTHONHASHSEED="0",
                   TF_CPP_MIN_LOG_LEVEL="2", **{CONCURRENT_RUNS_ENV: str(fits),
                                                NODE_ENV: node})
        if root != Path(driver_root):
            env.setdefault("THERMAL_BENCH_CACHE", str(_NODE_HOME / "cache"))
        started = time.perf_counter()
        with open(folder / "run.log", "w+", encoding="utf-8") as log:
            returncode = subprocess.run(command, cwd=root, env=env, stdout=log,
                                        stderr=subprocess.STDOUT, preexec_fn=die_with_parent,
                                        check=False).returncode
            seconds = time.perf_counter() - started
            log.seek(0)
            text = log.read()[-_LOG_LIMIT:]
        files = run_files(folder / "runs")
        record = folder / "runs" / f"{run_id}.json"
        ordered = [p for p in files if p != record] + ([record] if record in files else [])
        payload = {p.relative_to(folder / "runs").as_posix(): _read(p) for p in ordered}
    return {**result, "returncode": returncode, "command": command, "seconds": seconds,
            "log": text, "files": payload}


def run_files(runs: Path) -> list[Path]:
    """The regular files a run wrote under `runs`: a symlink there could name any file on the
    node, and a FIFO would block the read, so neither is sent."""
    base = runs.resolve()
    return sorted(p for p in runs.rglob("*")
                  if stat.S_ISREG(p.lstat().st_mode) and p.resolve().is_relative_to(base))


def _read(path: Path) -> bytes:
    with open_regular(path, "run output") as handle:
        return handle.read()


def _remove_orphans() -> None:
    """Remove the temporary folders of tasks whose worker was killed (a cancelled task, Ctrl-C):
    a killed process cleans nothing up, and a long-lived node would fill its /tmp."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_TMP_PREFIX}*"):
        pid = folder.name.removeprefix(_TMP_PREFIX).split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def node_python(framework: str, root: Path, where: str) -> Path:
    """The framework env's python on this node: `THERMAL_BENCH_PYTHON_<FW>`, else the
    project's `.tox`, else the node's own envs folder, built with tox the first time."""
    variable = f"THERMAL_BENCH_PYTHON_{framework.upper()}"
    override = os.environ.get(variable)
    if override:
        if Path(override).exists():
            return Path(override)
        raise EnvMissing(f"{where}: tox env {framework!r} not found ({override}, from {variable})")
    envs = Path(os.environ.get(NODE_ENVS) or _NODE_HOME / "tox")
    for python in (env_python(root / ".tox", framework), env_python(envs, framework)):
        if python.exists():
            return python
    if os.environ.get(BUILD_ENVS, "1") == "0":
        raise EnvMissing(
            f"{where}: tox env {framework!r} not found under {root / '.tox'} or {envs} "
            f"(building is off: {BUILD_ENVS}=0)"
        )
    return _build_env(framework, envs, where)


def _build_env(framework: str, envs: Path, where: str) -> Path:
    """Build the env once per node (tasks that land meanwhile wait on a file lock)."""
    envs.mkdir(parents=True, exist_ok=True)
    python = env_python(envs, framework)
    with open(envs / f".{framework}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists():  # built by a task that held the lock before this one
            return python
        build = subprocess.run(
            [sys.executable, "-m", "tox", "run", "-q", "-e", framework, "--notest",
             "--workdir", str(envs)],
            cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
        )
    if build.returncode != 0 or not python.exists():
        lines = [line for line in (build.stdout + build.stderr).splitlines() if line.strip()]
        raise EnvMissing(f"{where}: tox env {framework!r} missing and building it in {envs} "
                         f"failed: {lines[-1] if lines else f'exit {build.returncode}'}")
    return python
