"""Run the benchmark suites and read back what they wrote: one pytest process per framework,
thread count and process-mode setting, the per-op profiles, the data-layer suite and the overhead
matrix, each streamed to a log under `<results>/performance/`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.matrix.build import build_cells
from benchmarks.matrix.cells import load_matrix_profile
from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from benchmarks.matrix.runner import run_matrix
from common_data.bench import suite as suite_plan
from common_data.frameworks import FRAMEWORKS

DATA_SUITE = "benchmarks/performance/bench_data.py"
OUTCOMES = ("PASSED", "SKIPPED", "FAILED", "ERROR")
MATRIX_SEEDS = [0]  # overhead is per run, so one seed of each cell measures it


@dataclass
class Suite:
    """One pytest process: where its JSON went and what did not pass."""

    name: str
    returncode: int | None
    json_path: Path | None
    not_run: list[dict[str, str]] = field(default_factory=list)



def run_suite(framework: str, selection: suite_plan.SuiteSelection, out_dir: Path) -> Suite:
    """One framework suite process (a thread count, and a process-mode setting); progress lines
    go to the console, the full output to <out>/logs/<suite>.log."""
    name = selection.name(framework)
    json_path, junit = out_dir / f"{name}.json", out_dir / f"{name}.junit.xml"
    json_path.unlink(missing_ok=True)
    command = [str(framework_python(framework)), "-m", "pytest", FRAMEWORKS[framework].bench_suite,
               "-v",
               "-p", "no:cacheprovider", "--benchmark-json", str(json_path),
               "--junitxml", str(junit)]
    returncode = _stream(command, name, out_dir, selection.to_env(framework))
    return stored_suite(name, out_dir, returncode)


def run_op_profile(framework: str, mode: str, profile: suite_plan.SuiteProfile, data: str,
                   out_dir: Path) -> None:
    """The per-op profile of one twin's best mode, one thread, in a process of its own (its
    process-mode setting is the mode's); a failure leaves no JSON and the report says so."""
    setting = suite_plan.mode_process_setting(framework, mode)
    selection = suite_plan.SuiteSelection(profile.name, 1, data, setting)
    out = out_dir / f"op-profile-{framework}.json"
    out.unlink(missing_ok=True)
    command = [str(framework_python(framework)), "-m", FRAMEWORKS[framework].module("op_profile"),
               "--mode", mode, "--out", str(out)]
    _stream(command, f"op-profile-{framework}", out_dir, selection.to_env(framework))


def read_op_profiles(out_dir: Path) -> dict[str, Any]:
    """framework -> its per-op profile, as the last run left them."""
    return {path.stem.removeprefix("op-profile-"): json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(out_dir.glob("op-profile-*.json"))}


def stored_suite(name: str, out_dir: Path, returncode: int | None = None) -> Suite:
    """A suite's outputs as the last run left them (returncode None: not run now). A suite
    that stopped before timing anything (e.g. refused at collection) may leave an empty JSON
    file: that counts as no JSON, and its JUnit XML says why."""
    json_path = out_dir / f"{name}.json"
    return Suite(name, returncode, json_path if _parses(json_path) else None,
                 read_junit(out_dir / f"{name}.junit.xml", name))


def _parses(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def run_data_suite(out_dir: Path) -> dict[str, Any] | None:
    """The data layer's own suite, in this (framework-free) interpreter, when it exists."""
    if not (PROJECT_ROOT / DATA_SUITE).is_file():
        return None
    json_path = out_dir / "data.json"
    json_path.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", DATA_SUITE, "-v", "-p", "no:cacheprovider",
               "--benchmark-json", str(json_path)]
    return read_data_suite(out_dir, _stream(command, "data", out_dir, {}))


def read_data_suite(out_dir: Path, returncode: int | None) -> dict[str, Any] | None:
    json_path = out_dir / "data.json"
    if not json_path.is_file():
        return None if returncode is None else {"returncode": returncode, "benchmarks": []}
    suite = json.loads(json_path.read_text(encoding="utf-8"))
    return {"returncode": returncode, "json": str(json_path), "benchmarks": [
        {"name": b["name"], "median_s": b["stats"]["median"], "ops": b["stats"]["ops"],
         "extra_info": b["extra_info"]} for b in suite.get("benchmarks", [])]}


def _stream(command: list[str], name: str, out_dir: Path, extra_env: dict[str, str]) -> int:
    logs = out_dir / "logs"
    logs.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYTHONHASHSEED="0",
               TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1", **extra_env)
    print(f"suite {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    with open(logs / f"{name}.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                log.write(line)
                if "::" in line and any(s in line for s in OUTCOMES):
                    print(f"  {name}: {line.split('::', 1)[1].strip()}", file=sys.stderr,
                          flush=True)
            return proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise


def read_junit(path: Path, suite: str) -> list[dict[str, str]]:
    """Cases that were skipped, failed or errored, with pytest's message: the report names
    every case that did not run and why (e.g. a GPU-only mode on a CPU machine)."""
    if not path.is_file():
        return [{"suite": suite, "case": "(whole suite)", "outcome": "error",
                 "reason": "pytest wrote no JUnit XML: see the suite's log"}]
    out = []
    for case in ET.parse(path).getroot().iter("testcase"):
        for child in case:
            if child.tag in ("skipped", "failure", "error"):
                reason = (child.get("message") or child.text or "").strip().splitlines()
                out.append({"suite": suite, "case": case.get("name", "?"),
                            "outcome": {"failure": "failed"}.get(child.tag, child.tag),
                            "reason": reason[0][:300] if reason else ""})
    return out


def run_overhead_matrix(name: str, matrix_dir: Path, data: str) -> None:
    """A comparison profile's matrix, seed 0, forced, so every cell runs inside the timed
    matrix and the overhead is measured rather than read from skipped cells. The profile's run
    settings stay as they are: only the seeds are cut (the overhead is per run)."""
    profile = load_matrix_profile(name)
    profile["seeds"] = MATRIX_SEEDS
    # weights are not part of the protocol and nothing here reads them back
    profile.setdefault("run", {}).update(data=data, save_weights=False)
    command = (f"python -m benchmarks compare --profile {name} --seeds 0 --data {data} --force "
               f"(run by benchmarks performance --matrix {name})")
    run_matrix(build_cells(profile), matrix_dir, force=True, command=command)


def read_matrix(matrix_dir: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """matrix.json and the records under runs/, or (None, []) when there is no matrix."""
    summary = matrix_dir / "matrix.json"
    if not summary.is_file():
        return None, []
    records = []
    for path in sorted((matrix_dir / "runs").glob("*.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return json.loads(summary.read_text(encoding="utf-8")), records


