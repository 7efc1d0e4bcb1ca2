"""`--executor ray`: every cell is one Ray task; this process (the driver) owns `results/`.

The local runner's bookkeeping is kept whole (skip by config hash, `--force`, the lock, the
failures table, Ctrl-C): only how a cell runs changes. A task asks Ray for the CPUs its
`threads` setting uses and for one GPU when its device is `gpu`, runs the cell on its node
(`benchmarks.matrix.ray_node`) and returns the run's files as bytes, which only the driver writes,
atomically. Ray retries a task whose node or worker dies (at most `MAX_RETRIES` times) and
never one that returned, so a cell that fails for its own reason is recorded as failed once,
and a cell whose node died is recorded once, from the node that finished it.
"""

import contextlib
import logging
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from benchmarks.matrix.cells import Cell
from benchmarks.matrix.envs import PROJECT_ROOT, env_python
from benchmarks.matrix.executors import Executor
from benchmarks.matrix.local import ERROR_TAIL_LINES, MatrixRunner
from benchmarks.matrix.ray_node import run_cell
from benchmarks.matrix.records import warn
from common_data.atomic import write_bytes_atomic, write_json_atomic
from common_data.errors import ConfigError, DataError
from common_data.safe_files import inside
from common_data.wire import PROGRESS_PREFIX

MAX_RETRIES = 3
CONNECT_TIMEOUT_S = 10
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # results pass through it once; a small store will do
# Shipped to the nodes as the task's code; results, envs, caches and git stay here.
SHIP_EXCLUDES = ["/.tox", "/.cache", "/results", "__pycache__", "*.pyc"]


@contextlib.contextmanager
def ray_session(executor: Executor) -> Iterator[None]:
    """Connect to the cluster (or start a local instance without the dashboard), shipping
    this project's code to the nodes; disconnect, and stop a local instance, at the end."""
    import ray

    if executor.ray_address:
        _check_reachable(executor.ray_address)
        options: dict[str, Any] = {"address": executor.ray_address}
    else:
        options = {"address": "local", "include_dashboard": False,
                   "object_store_memory": LOCAL_OBJECT_STORE_BYTES}
    try:
        ray.init(**options, logging_level=logging.WARNING, log_to_driver=False,
                 runtime_env={"working_dir": str(PROJECT_ROOT), "excludes": SHIP_EXCLUDES})
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        flag = f"--ray-address {executor.ray_address!r}" if executor.ray_address else "Ray"
        raise ConfigError(f"{flag}: cannot start or reach {executor.where} ({first})") from None
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """Ray waits minutes on an address where nothing listens; a plain connect says so in
    seconds. Only `host:port` is checked (`auto` and `ray://` addresses go to Ray as given)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(
            f"--ray-address {address!r}: no Ray head answers there ({exc.strerror or exc}); "
            "expected the host:port that `ray start --head` printed"
        ) from None


class RayMatrixRunner(MatrixRunner):
    """MatrixRunner whose cells run as Ray tasks, as many in flight as the cluster has CPUs."""

    def __init__(self, results: Path, force: bool, console: Console, executor: Executor) -> None:
        super().__init__(results, force, console)
        self.executor = executor
        self._refs: set[Any] = set()
        self._task: Any = None

    def run_all(self, cells: list[Cell]) -> None:
        import ray

        with ray_session(self.executor):
            self._task = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)(run_cell)
            resources = ray.cluster_resources()
            self.jobs = max(int(resources.get("CPU", 1)), 1)
            nodes = sum(node["Alive"] for node in ray.nodes())
            self.console.print(
                f"Ray: {nodes} node(s), {resources.get('CPU', 0):g} CPUs, "
                f"{resources.get('GPU', 0):g} GPUs on {self.executor.where}"
            )
            super().run_all(cells)

    def _interpreters(self, frameworks: list[str]) -> dict[str, Path]:
        """Nothing to check on the driver: each node finds its own env (`ray_node.node_python`)
        and says so when it has none; this is only where it looks first, in its checkout."""
        return {fw: env_python(Path(".tox"), fw) for fw in frameworks}

    def _stop(self) -> None:
        import ray

        super()._stop()
        with self._lock:
            for ref in self._refs:
                ray.cancel(ref, force=True)

    def _write_files(self, cell: Cell, result: dict[str, Any]) -> None:
        """Write what a node sent into runs/, the record last. A node is another machine: a
        name that would land outside runs/ (absolute, `..`, through a symlink) is not
        written but named in a warning, and the cell then lacks its record and fails."""
        for name, data in result["files"].items():
            try:
                target = inside(self.runs_dir, name, f"file from Ray node {result['node']}")
                if not isinstance(data, bytes):
                    raise DataError(f"file {name!r} from Ray node {result['node']}: "
                                    f"{type(data).__name__} content, expected bytes")
            except DataError as exc:
                warn(f"{cell.run_id}: not written: {exc}")
                continue
            write_bytes_atomic(target, data)

    def _run_cell(self, cell: Cell, python: Path, progress: Progress, lane: Any) -> None:
        import ray

        write_json_atomic(self.configs_dir / f"{cell.run_id}.json", cell.config)
        progress.update(lane, description=f"  {cell.label}: on Ray")
        gpus = 1 if cell.config["device"] == "gpu" else 0
        ref = self._task.options(num_cpus=cell.config["threads"], num_gpus=gpus).remote(
            cell.framework, cell.config, cell.run_id, str(PROJECT_ROOT)
        )
        with self._lock:
            self._refs.add(ref)
            if self._stopping.is_set():  # Ctrl-C came while this task was being submitted
                ray.cancel(ref, force=True)
        try:
            result = ray.get(ref)
        except ray.exceptions.RayError as exc:
            if self._stopping.is_set():
                return  # cancelled by Ctrl-C: a rerun runs the cell again
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            result = {"returncode": 1, "command": [], "files": {}, "node": "", "host": "",
                      "seconds": 0.0,
                      "log": f"error: Ray task failed ({type(exc).__name__}: {first})\n"}
        finally:
            with self._lock:
                self._refs.discard(ref)
        if self._stopping.is_set() or result["returncode"] == -signal.SIGINT:
            return
        log = self.logs_dir / f"{cell.run_id}.log"
        log.write_text(result["log"], encoding="utf-8")
        self._write_files(cell, result)
        lines = [line for line in result["log"].splitlines()
                 if line.strip() and not line.startswith(PROGRESS_PREFIX)]
        started = time.perf_counter() - result["seconds"]  # the run's own time on its node
        self._settle(cell, result["returncode"], result["command"],
                     lines[-ERROR_TAIL_LINES:], started, log.name,
                     node=result["node"], host=result["host"])
