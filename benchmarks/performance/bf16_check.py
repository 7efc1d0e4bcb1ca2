"""`python -m benchmarks bf16-check`: does bf16 train the same model as float32?

Parity (`benchmarks.parity.check`) shows that one bf16 step computes what a float32 step does within
bf16 rounding; it cannot show that twenty epochs of that rounding still reach the same
accuracy. This check does, per twin, from the records of `compare --profile bf16_check` (the
same protocol in float32 and in bf16, 3 seeds): the float32 seeds' final accuracies give a
95 % t-interval for the mean (`benchmarks.stats.mean_ci`), and the mode passes when every bf16
seed's final accuracy falls inside it. The rule is deliberately strict: an interval for the
mean is narrower than the spread of single seeds, so a passing bf16 mode is one whose runs
look like float32's average, not merely like some float32 run.

The verdict goes to `<results>/performance/bf16_check.json`, which PERFORMANCE.md shows and
`benchmarks.matrix.mode_guard` consults before a profile may pick bf16. A twin with a missing or
failed run is `incomplete`, which the guard treats like a failed check.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.cli.args import resolve_data_flag
from benchmarks.matrix.cells import Cell, expand, load_matrix_profile
from benchmarks.matrix.mode_guard import CHECKED_MODES
from benchmarks.matrix.records import load_records
from benchmarks.matrix.relocate import records_here
from benchmarks.matrix.runner import DEFAULT_RESULTS
from benchmarks.stats import PROPORTION, mean_ci
from common_data.atomic import write_json_atomic
from common_data.run.cpu import cpu_name

PROFILE = "bf16_check"
CHECK_FILE = Path("performance") / "bf16_check.json"
CONFIDENCE = 0.95
MIN_FLOAT32_SEEDS = 2  # a t-interval needs two values; the profile gives three


def evaluate(cells: Iterable[Cell], records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """framework -> its verdict, from the cells' records (by run_id): status 'passed',
    'failed' or 'incomplete', the float32 interval and each bf16 seed against it."""
    by_framework: dict[str, list[Cell]] = {}
    for cell in cells:
        by_framework.setdefault(cell.framework, []).append(cell)
    out = {}
    for framework, own in by_framework.items():
        finals: dict[str, dict[int, float]] = {"float32": {}, "bf16": {}}
        missing = []
        for cell in own:
            record = records.get(cell.run_id)
            if not record or record.get("status") != "ok":
                missing.append(cell.run_id)
                continue
            precision = "bf16" if cell.bf16 else "float32"
            finals[precision][cell.seed] = float(record["metrics"]["accuracy"])
        out[framework] = judge(finals["float32"], finals["bf16"], missing)
    return out


def judge(float32: Mapping[int, float], bf16: Mapping[int, float],
          missing: list[str]) -> dict[str, Any]:
    """One twin's verdict; 'incomplete' (never 'passed') while a run is missing or failed."""
    entry: dict[str, Any] = {
        "float32": {"accuracy": dict(sorted(float32.items()))},
        "bf16": {"accuracy": dict(sorted(bf16.items()))}, "missing": missing,
    }
    if missing or len(float32) < MIN_FLOAT32_SEEDS or not bf16:
        return {**entry, "status": "incomplete", "inside": {},
                "reason": (f"{len(missing)} run(s) missing or not ok: {', '.join(missing)}"
                           if missing else f"needs >= {MIN_FLOAT32_SEEDS} float32 seeds and a "
                           "bf16 one")}
    mean, std, low, high = mean_ci(list(float32.values()), CONFIDENCE, within=PROPORTION)
    inside = {seed: low <= accuracy <= high for seed, accuracy in sorted(bf16.items())}
    bf16_mean = sum(bf16.values()) / len(bf16)
    entry["float32"].update(mean=mean, std=std, ci95=[low, high])
    entry["bf16"]["mean"] = bf16_mean
    passed = all(inside.values()) and math.isfinite(low)
    outside = [seed for seed, ok in inside.items() if not ok]
    return {**entry, "inside": inside, "status": "passed" if passed else "failed",
            "reason": ("every bf16 seed inside the float32 interval" if passed else
                       f"seed(s) {', '.join(map(str, outside))} outside the float32 interval")}


def check(results: Path, data: str, command: str) -> dict[str, Any]:
    """The check over the records of the bf16_check profile's cells on `data`."""
    profile = load_matrix_profile(PROFILE)
    profile.setdefault("run", {})["data"] = data
    cells = expand(profile)
    ids = {c.run_id for c in cells}
    records = {run_id: r for run_id, r in records_here(load_records(results / "runs"), data,
                                                        {}).items() if run_id in ids}
    frameworks = evaluate(cells, records)
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "command": command,
        "profile": PROFILE, "data": data, "cpu": cpu_name(), "modes": list(CHECKED_MODES),
        "rule": (f"every bf16 seed's final accuracy inside the float32 seeds' "
                 f"{CONFIDENCE:.0%} t-interval for the mean"),
        "frameworks": frameworks,
        "passed": all(f["status"] == "passed" for f in frameworks.values()),
    }


def section(check_result: Mapping[str, Any] | None) -> list[str]:
    """PERFORMANCE.md's section on the check."""
    lines = ["## bf16 against float32: accuracy", ""]
    if not check_result:
        return [*lines, "Not run: `python -m benchmarks compare --profile bf16_check --data "
                "DATA`, then `python -m benchmarks bf16-check --data DATA`. Until it passes, no "
                "profile may choose bf16 (benchmarks/matrix/mode_guard.py).", ""]
    lines += [f"From `{check_result['command']}` at {check_result['generated_at']} on "
              f"{check_result['cpu']} (profile `{check_result['profile']}`, data "
              f"`{check_result['data']}`): {check_result['rule']}. A twin whose check did not "
              "pass never has bf16 chosen for it.", "",
              "| framework | float32 final accuracy (mean [95 % CI]) | bf16 final accuracy by "
              "seed | verdict |", "| --- | --- | --- | --- |"]
    for framework, entry in check_result["frameworks"].items():
        f32 = entry["float32"]
        interval = (f"{_pct(f32['mean'])} [{_pct(f32['ci95'][0])}, {_pct(f32['ci95'][1])}]"
                    if "ci95" in f32 else "n/a")
        seeds = ", ".join(f"s{seed} {_pct(acc)}" + ("" if entry["inside"].get(seed, True)
                                                     else " (outside)")
                          for seed, acc in entry["bf16"]["accuracy"].items()) or "none"
        lines.append(f"| {framework} | {interval} | {seeds} | {entry['status']}: "
                     f"{entry['reason']} |")
    return [*lines, ""]


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks bf16-check",
        description="Judge bf16 against float32 from the bf16_check profile's records; exit 1 "
                    "unless every twin passed.")
    parser.add_argument("--data", default="synthetic",
                        help="the --data the records were made with ('synthetic' or a folder)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help="results folder: records from runs/, the verdict to "
                             f"{CHECK_FILE}")
    args = parser.parse_args(argv)
    result = check(args.results, resolve_data_flag(args.data),
                   " ".join(["python -m benchmarks bf16-check", *argv]))
    out = args.results / CHECK_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, result)
    for framework, entry in result["frameworks"].items():
        print(f"{framework:>5}: {entry['status']} ({entry['reason']})")
    print(f"bf16 check: {out}")
    return 0 if result["passed"] else 1
