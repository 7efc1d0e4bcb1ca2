"""Run cells on this machine, each in its own process with its framework's interpreter, as many
at once as `--jobs` says; `is_done` decides what a rerun skips.

Every cell runs as a subprocess, so the harness never imports a framework and no run can leak
state (threads, allocators, RNG) into the next. Records are written atomically by the
runners; a rerun skips cells whose record already matches the cell's config hash, so a killed
or interrupted matrix loses nothing and finishes where it stopped.
"""

import contextlib
import ctypes
import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from benchmarks.matrix.cells import Cell
from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from benchmarks.matrix.records import exit_text, warn
from common_data.atomic import write_json_atomic
from common_data.errors import DataError
from common_data.frameworks import FRAMEWORKS
from common_data.run.schema import predictions_problem, read_record
from common_data.wire import CONCURRENT_RUNS_ENV, PROGRESS_PREFIX

DONE_STATUSES = ("ok", "diverged")
ERROR_TAIL_LINES = 30  # the lines of a failed run's stderr its record and the terminal keep


def is_done(record_path: Path, cell: Cell, note: Callable[[str], None] = warn) -> bool:
    """A cell is done when its record exists, validates against the schema (the one check
    report and export apply too), matches the cell's config hash and, for an 'ok' run, its
    predictions file is intact (the checksum the record stores, when it has one); anything
    less reruns the cell instead of reporting from a damaged file. A record that is there but
    fails a check is named in one line through `note` (a warning by default), so a rerun is
    never a surprise."""
    if not record_path.exists() and not record_path.is_symlink():
        return False
    try:
        record = read_record(record_path)
    except DataError as exc:
        note(f"rerunning {cell.run_id}: {exc}")
        return False
    if record["config_hash"] != cell.config_hash:
        return False
    return settles(record, record_path.parent, lambda problem: note(f"rerunning {cell.run_id}: "
                                                                    f"{problem}"))


def settles(record: dict[str, Any], folder: Path, note: Callable[[str], None]) -> bool:
    """Whether a valid record in `folder` answers its cell: the run finished ('ok' or
    'diverged') and an 'ok' run's predictions file is intact; a damaged one goes to `note`."""
    if record["status"] == "ok":
        problem = predictions_problem(record, folder)
        if problem is not None:
            note(problem)
        return problem is None
    return record["status"] in DONE_STATUSES


def die_with_parent() -> None:
    """Linux: a run dies with a killed harness instead of writing behind a rerun's back."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class MatrixRunner:
    """Runs cells, `jobs` at a time, streaming each run's epoch lines into a live progress view.

    Each run is still its own process; `jobs` > 1 only lets several share the machine, which
    suits runs that use fewer threads than there are cores. Their records carry the count,
    because timings taken beside other runs are not the timings of a run alone.
    """

    def __init__(self, results: Path, force: bool, console: Console, jobs: int = 1) -> None:
        self.runs_dir = results / "runs"
        self.logs_dir = results / "logs"
        self.configs_dir = results / "configs"
        self.failures_dir = results / "failures"
        for folder in (self.runs_dir, self.logs_dir, self.configs_dir, self.failures_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.force = force
        self.console = console
        self.jobs = jobs
        self.counts = {"ran": 0, "skipped": 0, "failed": 0}
        self.run_seconds = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._live: set[subprocess.Popen] = set()

    def run_all(self, cells: list[Cell]) -> None:
        pythons = self._interpreters(sorted({c.framework for c in cells}))
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as progress:
            matrix = progress.add_task("matrix", total=len(cells))
            todo = []
            for cell in cells:
                if not self.force and is_done(self.runs_dir / f"{cell.run_id}.json", cell):
                    # a run killed after writing its record left a note the record outdates
                    (self.failures_dir / f"{cell.run_id}.json").unlink(missing_ok=True)
                    self.counts["skipped"] += 1
                    progress.advance(matrix)
                else:
                    todo.append(cell)
            lanes: queue.SimpleQueue[Any] = queue.SimpleQueue()
            for _ in range(self.jobs):
                lanes.put(progress.add_task("", total=1, visible=False))

            def run_in_a_lane(cell: Cell) -> None:
                if self._stopping.is_set():
                    return
                lane = lanes.get()
                progress.reset(lane, total=cell.config["epochs"], visible=True,
                               description=f"  {cell.label}: loading data, building model")
                try:
                    self._run_cell(cell, pythons[cell.framework], progress, lane)
                finally:
                    progress.update(lane, visible=False)
                    lanes.put(lane)
                progress.advance(matrix)

            pool = ThreadPoolExecutor(max_workers=self.jobs)
            try:
                for future in [pool.submit(run_in_a_lane, cell) for cell in todo]:
                    future.result()
            except BaseException:
                self._stop()
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    def _interpreters(self, frameworks: list[str]) -> dict[str, Path]:
        return {fw: framework_python(fw) for fw in frameworks}

    def _stop(self) -> None:
        """On Ctrl-C: start nothing more and kill the runs in flight (their cells stay undone)."""
        self._stopping.set()
        with self._lock:
            for proc in self._live:
                proc.kill()

    def _run_cell(self, cell: Cell, python: Path, progress: Progress, lane: Any) -> None:
        record_path = self.runs_dir / f"{cell.run_id}.json"
        config_path = self.configs_dir / f"{cell.run_id}.json"
        write_json_atomic(config_path, cell.config)
        command = [
            str(python),
            "-m",
            FRAMEWORKS[cell.framework].module("run"),
            "--config",
            str(config_path),
            "--out",
            str(record_path),
        ]
        env = dict(
            os.environ,
            PYTHONPATH=str(PROJECT_ROOT),
            PYTHONUNBUFFERED="1",
            PYTHONHASHSEED="0",
            TF_CPP_MIN_LOG_LEVEL="2",
            **{CONCURRENT_RUNS_ENV: str(self.jobs)},
        )
        tail: deque[str] = deque(maxlen=ERROR_TAIL_LINES)
        started = time.perf_counter()
        with open(self.logs_dir / f"{cell.run_id}.log", "w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=die_with_parent,
            )
            with self._lock:
                self._live.add(proc)
                if self._stopping.is_set():  # Ctrl-C came while this run was starting
                    proc.kill()
            try:
                assert proc.stderr is not None
                for line in proc.stderr:
                    log.write(line)
                    log.flush()
                    if line.startswith(PROGRESS_PREFIX):
                        self._show_epoch(line, cell, progress, lane)
                    else:
                        tail.append(line.rstrip())
                returncode = proc.wait()
            finally:
                with self._lock:
                    self._live.discard(proc)
        if self._stopping.is_set() or returncode == -signal.SIGINT:
            return  # interrupted, not failed: a rerun runs the cell again
        self._settle(cell, returncode, command, list(tail), started, log.name)

    def _settle(
        self, cell: Cell, returncode: int, command: list[str], tail: list[str], started: float,
        log_name: str, **where: str,
    ) -> None:
        """Count a finished cell; a cell without a complete record goes to the failures table
        (`where` adds the executor's facts, e.g. the Ray node that ran it)."""
        record_path = self.runs_dir / f"{cell.run_id}.json"
        failure_path = self.failures_dir / f"{cell.run_id}.json"
        ok = returncode == 0 and is_done(record_path, cell, note=quiet)
        with self._lock:
            self.run_seconds += time.perf_counter() - started
            self.counts["ran" if ok else "failed"] += 1
        if ok:
            failure_path.unlink(missing_ok=True)
            self.console.print(self._summary(record_path, cell))
            return
        write_json_atomic(
            failure_path,
            {
                "run_id": cell.run_id,
                "config_hash": cell.config_hash,
                "returncode": returncode,
                "command": command,
                "error_tail": tail,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                **where,
            },
        )
        last = next((line for line in reversed(tail) if line.strip()), "no output")
        if returncode < 0:
            last = f"{exit_text(returncode)}; {last}"
        self.console.print(f"[red]FAILED[/red] {cell.label}: {last}  (log: {log_name})")

    @staticmethod
    def _show_epoch(line: str, cell: Cell, progress: Progress, task: Any) -> None:
        try:
            info = json.loads(line[len(PROGRESS_PREFIX) :])
            text = (
                f"  {cell.label}: epoch {info['epoch']}/{info['epochs']}  loss {info['loss']:.4f}  "
                f"acc {info['accuracy']:.3f}  val_acc {info['val_accuracy']:.3f}"
            )
            progress.update(task, completed=info["epoch"], total=info["epochs"], description=text)
        except (ValueError, KeyError, TypeError):
            return

    @staticmethod
    def _summary(record_path: Path, cell: Cell) -> str:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        metrics = record.get("metrics") or {}
        acc = metrics.get("accuracy")
        acc_text = f"val acc {acc:.4f}" if isinstance(acc, float) else record["status"]
        seconds = (record.get("timing") or {}).get("total_s") or 0.0
        return f"done {cell.label}: {acc_text} ({seconds:.1f} s)"


def quiet(_: str) -> None:
    """`note` for an is_done that only counts."""
