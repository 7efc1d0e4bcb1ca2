"""`python -m benchmarks compare`: run a matrix of training runs, each in its own process.

Every cell runs as a subprocess with its framework's interpreter, so the harness never imports
a framework and no run can leak state (threads, allocators, RNG) into the next. Records are
written atomically by the runners; a rerun skips cells whose record already matches the cell's
config hash, so a killed or interrupted matrix loses nothing and finishes where it stopped.
"""

import argparse
import contextlib
import ctypes
import dataclasses
import json
import os
import queue
import signal
import subprocess
import sys
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

from benchmarks.closing import add_closing_arguments, export_tensorboard_to, print_closing
from benchmarks.envs import PROJECT_ROOT, framework_python
from benchmarks.executors import LOCAL, Executor, add_executor_arguments, executor_from
from benchmarks.lock import results_lock
from benchmarks.matrix import AXES, Cell, check_matrix, expand, load_matrix_profile
from benchmarks.preflight import preflight
from benchmarks.records import exit_text, warn
from common_data.atomic import write_json_atomic
from common_data.errors import ConfigError, DataError, PipeSafe
from common_data.frameworks import FRAMEWORKS, MODE_FRAMEWORK
from common_data.run.config import Mode, parse_mode_flags
from common_data.run.schema import predictions_problem, read_record
from common_data.wire import CONCURRENT_RUNS_ENV, PROGRESS_PREFIX

DEFAULT_RESULTS = PROJECT_ROOT / "results"
DONE_STATUSES = ("ok", "diverged")
_ERROR_TAIL_LINES = 30


def add_matrix_arguments(parser: argparse.ArgumentParser, default_profile: str) -> None:
    """Flags shared by `compare` and `finding`: which cells to run and where to write them."""
    parser.add_argument(
        "--profile",
        default=default_profile,
        help="profile name (quick, paper) or a TOML file with the matrix",
    )
    parser.add_argument("--data", help="'synthetic' or a dataset folder (overrides the profile)")
    add_card_argument(parser)
    parser.add_argument("--frameworks", help="comma-separated subset of: torch,tf")
    parser.add_argument("--variants", help="comma-separated subset of: baseline,augmented")
    parser.add_argument("--seeds", help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--splits", help="comma-separated subset of: random,session,loso,"
                        "grouped (near-copies kept on one side; for data without sessions)")
    parser.add_argument("--hud", help="comma-separated subset of: full,masked,hud_only")
    parser.add_argument("--no-probe", action="store_true",
                        help="leave out the profile's probe cells (e.g. the HUD-only baseline)")
    parser.add_argument("--epochs", type=int, help="epochs per run (overrides the profile)")
    parser.add_argument("--image-size", type=int, help="input size in pixels (square)")
    parser.add_argument("--pretrained", type=Path, metavar="FILE",
                        help="ImageNet weights for a transfer profile (safetensors, torchvision "
                        "ResNet layout); nothing is ever downloaded")
    parser.add_argument(
        "--mode",
        action="append",
        default=[],
        metavar="KEY=BOOL",
        help="tuned mode flag recorded in each result, e.g. compile=true",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_RESULTS,
        help="results folder (records go to <results>/runs)",
    )
    parser.add_argument(
        "--force", action="store_true", help="rerun cells that already have a record"
    )
    add_skip_bad_argument(parser)
    add_jobs_argument(parser)


def add_card_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--card", metavar="FILE",
                        help="dataset card (TOML) to label the data by, instead of the "
                        "folder's dataset.toml (`python -m common_data describe` prints one)")


def card_settings(value: str) -> dict[str, str]:
    """`--card FILE`: the run-config keys naming the card, checked now so that a bad card is
    one line before any run starts. Its sha256 enters the config, so an edited card makes new
    runs rather than passing for the old ones."""
    from common_data.data.card import load_card
    from common_data.data.datasets import card_digest

    digest = card_digest(value, f"--card {value}")
    load_card(value, f"--card {value}")
    return {"card": str(Path(value).expanduser().resolve()), "card_sha256": digest}


def add_skip_bad_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out images that cannot be decoded (each is listed) instead of stopping",
    )


def add_jobs_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs",
        help="runs at a time (default: the profile's `jobs`, else 1). More suits runs with "
        "fewer threads than cores; their timings are then not those of a run alone, and the "
        "report says so",
    )
    add_executor_arguments(parser)


def parse_jobs(value: str | None, default: Any = 1) -> int:
    """`--jobs`, or when it is absent the profile's `jobs` key (`default`)."""
    if value is None:
        if isinstance(default, bool) or not isinstance(default, int) or default < 1:
            raise ConfigError(f"profile key 'jobs' = {default!r}: expected an integer >= 1")
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"--jobs {value!r}: expected an integer >= 1")
    return int(value)


def parse_csv(flag: str, value: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    """A comma-separated flag value, each item checked against `allowed` when given."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"{flag} {value!r}: expected a comma-separated list")
    if allowed:
        for item in items:
            if item not in allowed:
                raise ConfigError(
                    f"{flag}: unknown value {item!r} (expected one of: {', '.join(allowed)})"
                )
    return items


def parse_seeds(value: str) -> list[int]:
    """Distinct seeds >= 0: a seed listed twice would run one cell twice at once, into one
    record, and a bad one is blamed on the flag, not on the profile the flag overrides."""
    try:
        seeds = [int(s) for s in parse_csv("--seeds", value)]
    except ValueError:
        raise ConfigError(f"--seeds {value!r}: expected integers like 0,1,2") from None
    for seed in seeds:
        if seed < 0:
            raise ConfigError(f"--seeds {value!r}: seed {seed} is negative (expected integers "
                              ">= 0)")
        if seeds.count(seed) > 1:
            raise ConfigError(f"--seeds {value!r}: seed {seed} is listed twice (each seed runs "
                              "once)")
    return seeds


def check_image_size(size: int) -> None:
    """`--image-size` in the range preprocessing allows, blamed on the flag: a size of 100000
    would have a child process ask for terabytes, and 0 would be reported against the
    profile file the flag overrides."""
    from common_data.data.preprocess import MAX_SIZE, MIN_SIZE

    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ConfigError(f"--image-size {size}: expected an integer in {MIN_SIZE}..{MAX_SIZE} "
                          "(pixels per side)")


def resolve_data_flag(value: str) -> str:
    """`--data`: 'synthetic', or an existing folder made absolute (it enters the config hash)."""
    from common_data.data.datasets import EMBEDDED

    if value in EMBEDDED:
        return value
    path = Path(value).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"--data {value!r}: no such folder (expected 'synthetic' or a dataset folder)"
        )
    return str(path.resolve())


def apply_overrides(profile: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Fold command-line flags into the profile; flags win."""
    run = profile.setdefault("run", {})
    if args.frameworks:
        profile["frameworks"] = parse_csv("--frameworks", args.frameworks, tuple(FRAMEWORKS))
    if args.variants:
        profile["variants"] = parse_csv("--variants", args.variants, ("baseline", "augmented"))
    if args.splits:
        profile["splits"] = parse_csv("--splits", args.splits, AXES["splits"])
    if args.hud:
        profile["hud"] = parse_csv("--hud", args.hud, ("full", "masked", "hud_only"))
    if args.seeds:
        profile["seeds"] = parse_seeds(args.seeds)
    if args.no_probe:
        profile.pop("probe", None)
    if args.data:
        run["data"] = resolve_data_flag(args.data)
    if args.card:
        run.update(card_settings(args.card))
    if args.epochs is not None:
        if args.epochs < 1:
            raise ConfigError(f"--epochs {args.epochs}: expected an integer >= 1")
        run["epochs"] = args.epochs
    if args.image_size is not None:
        check_image_size(args.image_size)
        run["image_size"] = args.image_size
    if args.skip_bad:
        run["skip_bad"] = True
    if args.pretrained is not None:
        if not args.pretrained.is_file():
            raise ConfigError(f"--pretrained {args.pretrained}: no such file (expected a "
                              "safetensors file in the torchvision ResNet layout)")
        run["pretrained"] = str(args.pretrained.resolve())
    return apply_mode_flags(profile, args.mode)


def apply_mode_flags(profile: dict[str, Any], items: list[str]) -> dict[str, Any]:
    """`--mode KEY=BOOL` flags into a matrix profile: a mode that exists in one framework only
    goes to that framework's table, so `--mode onednn=true` leaves the torch cells valid."""
    modes = [f.name for f in dataclasses.fields(Mode)]
    for key, value in parse_mode_flags(items).items():
        if key not in modes:
            raise ConfigError(f"--mode {key}: unknown key {key!r} (expected one of: "
                              f"{', '.join(modes)})")
        owner = MODE_FRAMEWORK.get(key)
        table = profile.setdefault("framework", {}).setdefault(owner, {}) if owner else None
        if table is None:
            table = profile.setdefault("run", {})
        table.setdefault("mode", {})[key] = value
    return profile


def dataset_facts(data: str, card: str = "", card_sha256: str = "") -> tuple[int, bool]:
    """(dated capture sessions, whether its card declares an overlay) of the dataset: for
    expanding `loso` into folds and for choosing the controls the data can support."""
    from common_data.data.datasets import open_dataset

    dataset = open_dataset(data, card, card_sha256)
    sessions = {record.session for record in dataset.records} - {"unknown"}
    return len(sessions), bool(dataset.card is not None and dataset.card.overlay)


def build_cells(profile: dict[str, Any], adapt: frozenset[str] = frozenset()) -> list[Cell]:
    """The profile's cells. On the axes in `adapt` ("splits", "hud": those the profile set, not
    the user's flags) the controls follow the data, each change with a note: a dataset with
    fewer than two capture sessions gets the grouped split (near-copies kept on one side) in
    place of the session split, and one whose card declares no overlay runs no masked or
    HUD-only regime (there is nothing to mask, so no overlay conclusion can be drawn)."""
    check_matrix(profile)
    run = profile.get("run", {})
    data = run.get("data", "synthetic")
    huds = {*profile["hud"], (profile.get("probe") or {}).get("hud", "full")}
    needs_sessions = bool({"loso", "session"} & set(profile["splits"]))
    n_sessions, overlay = (dataset_facts(data, run.get("card", ""), run.get("card_sha256", ""))
                           if needs_sessions or huds != {"full"}
                           else (None, True))
    if "splits" in adapt and "session" in profile["splits"] and (n_sessions or 0) < 2:
        profile["splits"] = list(dict.fromkeys(
            "grouped" if split == "session" else split for split in profile["splits"]))
        print(f"note: {data} has {n_sessions} capture sessions, so the grouped split (frames "
              "that are near-copies kept on one side) stands in for the session split",
              file=sys.stderr)
    if "hud" in adapt and not overlay and huds != {"full"}:
        profile["hud"] = ["full"]
        if (profile.get("probe") or {}).get("hud", "full") != "full":
            profile.pop("probe")
        print(f"note: the dataset card of {data} declares no overlay, so the masked and "
              "HUD-only regimes are skipped and no overlay conclusion is drawn", file=sys.stderr)
    return expand(profile, n_sessions if needs_sessions else None)


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
    if record["status"] == "ok":
        problem = predictions_problem(record, record_path.parent)
        if problem is not None:
            note(f"rerunning {cell.run_id}: {problem}")
        return problem is None
    return record["status"] in DONE_STATUSES


def _die_with_parent() -> None:
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
        tail: deque[str] = deque(maxlen=_ERROR_TAIL_LINES)
        started = time.perf_counter()
        with open(self.logs_dir / f"{cell.run_id}.log", "w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=_die_with_parent,
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
        ok = returncode == 0 and is_done(record_path, cell, note=_quiet)
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
            from benchmarks.ray_executor import RayMatrixRunner

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
    done = sum(is_done(runner.runs_dir / f"{c.run_id}.json", c, note=_quiet) for c in cells)
    console.print(
        f"matrix: {done}/{len(cells)} cells have records "
        f"({runner.counts['ran']} ran, {runner.counts['skipped']} already done, "
        f"{runner.counts['failed']} failed) in {wall:.1f} s"
    )
    if interrupted:
        console.print("interrupted: rerun the same command to finish the remaining cells")
        raise KeyboardInterrupt
    return {**summary, "reader_gone": stderr.reader_gone}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks compare",
        description="Run the comparison matrix, then write the report.",
    )
    add_matrix_arguments(parser, default_profile="quick")
    parser.add_argument("--no-report", action="store_true", help="skip rendering COMPARISON.md")
    add_closing_arguments(parser)
    args = parser.parse_args(argv)
    profile = apply_overrides(load_matrix_profile(args.profile), args)
    command = " ".join(["python -m benchmarks compare", *argv])
    jobs = parse_jobs(args.jobs, profile.get("jobs", 1))
    stdout = PipeSafe(sys.stdout)  # rich exits 1 on a closed pipe; this keeps it quiet
    with results_lock(args.results):  # from the checks to the report: one harness per folder
        cells = build_cells(profile, frozenset(
            axis for axis in ("splits", "hud") if getattr(args, axis) is None))
        preflight(cells, args.results, args.force)
        summary = run_matrix(cells, args.results, args.force, command, jobs, executor_from(args))
        if not args.no_report:
            from benchmarks.finding import load_finding
            from benchmarks.report import render

            out = render(args.results, args.results)
            print_closing(args.results / "runs", summary["run_ids"], out,
                          load_finding()["min_effect"], as_json=args.json, stream=stdout)
        if args.tensorboard:
            export_tensorboard_to(args.results, quiet_stdout=args.json)
    if summary["failed"]:
        return 1
    # 141, as for a tool the pipe killed: the report is written, only the reader went away
    return 141 if summary["reader_gone"] or stdout.reader_gone else 0


def _quiet(_: str) -> None:
    """`note` for an is_done that only counts."""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
