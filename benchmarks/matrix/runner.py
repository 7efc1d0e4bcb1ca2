"""`run_matrix`: a matrix's cells under the results lock, on this machine or on a Ray
cluster, with the matrix summary (`matrix.json`) written at the end."""

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from benchmarks.matrix.cells import Cell
from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from benchmarks.matrix.executors import LOCAL, Executor
from benchmarks.matrix.local import MatrixRunner, is_done, quiet
from benchmarks.matrix.lock import results_lock
from benchmarks.matrix.ray_executor import RayMatrixRunner
from common_data.atomic import write_json_atomic
from common_data.errors import PipeSafe

DEFAULT_RESULTS = PROJECT_ROOT / "results"


def run_matrix(
    cells: list[Cell], results: Path, force: bool, command: str, jobs: int = 1,
    executor: Executor = LOCAL,
) -> dict:
    """Run the cells under the results lock; returns the matrix summary (also saved as JSON),
    plus `reader_gone`: whether whoever read the progress lines closed the pipe meanwhile.

    With the Ray executor the framework envs are the nodes' business, not this machine's."""
    if executor.kind == "local":
        for framework in sorted({cell.framework for cell in cells}):
            framework_python(framework)
    stderr = PipeSafe(sys.stderr)  # `compare 2>&1 | head -1` must not fail the cells
    console = Console(file=stderr)
    threads = max((cell.config["threads"] for cell in cells), default=1)
    cores = os.cpu_count() or 1
    if executor.kind == "local" and jobs * threads > cores:
        console.print(
            f"note: --jobs {jobs} x {threads} threads per run asks for more than the "
            f"{cores} cores here; runs will slow each other down"
        )
    started = time.perf_counter()
    with results_lock(results):
        from common_data.data.datasets import EMBEDDED, resolve_data

        for name in sorted({cell.config["data"] for cell in cells} & set(EMBEDDED)):
            resolve_data(name)  # generated once here, not raced for by the runs
        if executor.kind == "ray":
            runner: MatrixRunner = RayMatrixRunner(results, force, console, executor)
        else:
            runner = MatrixRunner(results, force, console, jobs)
        interrupted = False
        try:
            runner.run_all(cells)
        except KeyboardInterrupt:
            interrupted = True
        wall = time.perf_counter() - started
        summary = {
            "command": command,
            "cells": len(cells),
            **runner.counts,
            "interrupted": interrupted,
            "jobs": runner.jobs,
            "executor": executor.kind,
            "run_ids": [cell.run_id for cell in cells],
            "wall_s": round(wall, 3),
            "subprocess_s": round(runner.run_seconds, 3),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if runner.counts["ran"]:  # a rerun that only skipped keeps the last real timing
            write_json_atomic(results / "matrix.json", summary)
    # counted on disk: runs that wrote their record as Ctrl-C came were never settled
    done = sum(is_done(runner.runs_dir / f"{c.run_id}.json", c, note=quiet) for c in cells)
    console.print(
        f"matrix: {done}/{len(cells)} cells have records "
        f"({runner.counts['ran']} ran, {runner.counts['skipped']} already done, "
        f"{runner.counts['failed']} failed) in {wall:.1f} s"
    )
    if interrupted:
        console.print("interrupted: rerun the same command to finish the remaining cells")
        raise KeyboardInterrupt
    return {**summary, "reader_gone": stderr.reader_gone}
