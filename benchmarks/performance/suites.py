"""`python -m benchmarks performance`: run the benchmark suites, write the performance figures.

Each framework suite (`<package>/bench.py`) runs as `pytest --benchmark-json` with its
framework's interpreter, once per thread count of the profile (a framework may fix its thread
pools when its runtime starts, so a thread count is a process), and for a framework with a
process mode (common_data.frameworks) once per setting of it too (the framework reads its
variable at import; each process gets it set explicitly, `0` or `1`, from its
`SuiteSelection`). Then each twin's best mode is
profiled per op (`<package>.op_profile`, one thread, the primary input size). The
data-layer suite `benchmarks/performance/bench_data.py` runs here, in the framework-free env,
when present.
`--verdict-cells N` trains N seeds per framework of the finding's and the paper's cell in the
chosen modes and out of the box (`benchmarks/performance/verdict_time.py`).
Harness overhead and the runners' data wait come from a matrix summary and its records: the
one under `--results`, or a fresh matrix of a comparison profile with `--matrix quick|paper`
(seed 0 of every cell; the overhead target is judged on `paper`). Everything lands in
`<results>/performance.json` (written atomically) and `<results>/PERFORMANCE.md`; the raw
suite JSON, JUnit XML and logs stay under `<results>/performance/`, and `--reuse` recomputes
the figures from them without running anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.cli.args import resolve_data_flag
from benchmarks.matrix.cells import PROFILES_DIR, load_matrix_profile
from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from benchmarks.performance import figures as pf
from benchmarks.performance import verdict_time
from benchmarks.performance.gpu_kit import read_returned
from benchmarks.performance.render import explain, render
from benchmarks.performance.suite_runs import (
    DATA_SUITE,
    Suite,
    read_data_suite,
    read_matrix,
    read_op_profiles,
    run_data_suite,
    run_op_profile,
    run_overhead_matrix,
    run_suite,
    stored_suite,
)
from common_data.atomic import write_json_atomic, write_text_atomic
from common_data.bench import suite as suite_plan
from common_data.frameworks import FRAMEWORKS
from common_data.run.host import cpu_name

DEFAULT_RESULTS = PROJECT_ROOT / "results"


def main(argv: list[str]) -> int:
    args = _parse(argv)
    profile = suite_plan.load_suite_profile(args.suite)
    frameworks = [fw.strip() for fw in args.frameworks.split(",") if fw.strip()]
    for framework in frameworks:
        framework_python(framework)
    out_dir = args.results / "performance"
    out_dir.mkdir(parents=True, exist_ok=True)

    selections = [(fw, selection) for fw in frameworks
                  for selection in suite_plan.suite_selections(fw, profile, args.data)]
    if args.reuse:
        suites = [stored_suite(selection.name(fw), out_dir) for fw, selection in selections]
    else:
        suites = [run_suite(fw, selection, out_dir) for fw, selection in selections]
    if not args.reuse:
        rows = _rows(suites)
        best = pf.best_peak_fraction(rows, pf.precision_peaks(rows), profile.batch_size,
                                     profile.image_size)
        for fw in frameworks:
            run_op_profile(fw, best.get(fw, {}).get("mode", "default"), profile, args.data,
                           out_dir)
    verdict_cells = None
    if args.verdict_cells:
        verdict_cells = verdict_time.verdict_cells(
            args.verdict_cells, resolve_data_flag(args.data), profile.verdict_epochs, frameworks)
        # with --reuse only the cells without a record run (a measurement can be completed)
        verdict_time.run_verdict_cells(verdict_cells, out_dir / "verdict", " ".join(
            ["python -m benchmarks performance", *argv]), force=not args.reuse)
    data_suite = None
    if not args.no_data_suite:
        data_suite = read_data_suite(out_dir, None) if args.reuse else run_data_suite(out_dir)
    matrix_dir = out_dir / f"matrix-{args.matrix}" if args.matrix else args.results
    if args.matrix and not args.reuse:
        run_overhead_matrix(args.matrix, matrix_dir, args.data)

    to_verdict = verdict_time.stored(args.results)
    if verdict_cells is not None:
        to_verdict["measured"] = verdict_time.measured(verdict_cells, out_dir / "verdict",
                                                       profile.verdict_epochs)
    figures = assemble(profile, suites, data_suite, matrix_dir, " ".join(
        ["python -m benchmarks performance", *argv]), out_dir, to_verdict)
    write_json_atomic(args.results / "performance.json", figures)
    report = args.results / "PERFORMANCE.md"
    write_text_atomic(report, render(figures))
    print(f"performance: {args.results / 'performance.json'}\nreport: {report}")
    failed = [s for s in suites if s.json_path is None] + [
        s for s in suites if any(n["outcome"] != "skipped" for n in s.not_run)]
    return 1 if failed else 0


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks performance",
        description="Run the benchmark suites and write results/PERFORMANCE.md.")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--suite", metavar="NAME_OR_FILE",
                        help="benchmark suite: a [suite.NAME] table of common_data/"
                             f"bench/workload.toml ({', '.join(suite_plan.suite_names())}"
                             "; default quick, a few minutes on two cores) or a TOML file of "
                             "its keys")
    # the spellings before suites were named apart from matrix profiles: one release more
    choice.add_argument("--profile", dest="old_profile", help=argparse.SUPPRESS)
    choice.add_argument("--quick", dest="old_profile", action="store_const", const="quick",
                        help=argparse.SUPPRESS)
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help=f"comma-separated subset of: {','.join(FRAMEWORKS)}")
    parser.add_argument("--data", default="synthetic", help="'synthetic' or a dataset folder")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help="results folder (matrix.json and runs/ are read from here)")
    parser.add_argument("--matrix", choices=sorted(p.stem for p in PROFILES_DIR.glob("*.toml")),
                        help="first run this comparison profile's matrix (seed 0, every cell) "
                             "on --data to measure the harness overhead and the runners' data "
                             "wait: 'paper' (the profile the overhead target is about; 16 min "
                             "on two cores with the synthetic data) or 'quick' (a few minutes)")
    parser.add_argument("--no-data-suite", action="store_true",
                        help=f"skip {DATA_SUITE} (the data-layer suite)")
    parser.add_argument("--verdict-cells", type=int, default=0, metavar="N",
                        help="also train N seeds per framework of the finding's 64-px cell and "
                             "the paper's 128-px cell (baseline, the profile's verdict_epochs) "
                             "as the matrix runs (chosen modes and threads, --jobs to fill the "
                             "cores), out of the box (each framework's own modes on this CPU) "
                             "and with every tuned mode off (these two with every core to one "
                             "run, one at a time) into <results>/performance/verdict, and "
                             "report the ratios of their train times per epoch (default 0)")
    parser.add_argument("--reuse", action="store_true",
                        help="run no suite: recompute the figures from the suites' JSON under "
                             "<results>/performance (and, with --matrix, that matrix); with "
                             "--verdict-cells, only the cells without a record run")
    args = parser.parse_args(argv)
    if args.old_profile:
        old = "--quick" if "--quick" in argv else f"--profile {args.old_profile}"
        print(f"warning: performance {old} is deprecated: use --suite {args.old_profile}",
              file=sys.stderr)
    args.suite = args.suite or args.old_profile or "quick"
    if args.suite.endswith(".toml"):  # the suite processes load it by path, from the root
        args.suite = str(Path(args.suite).expanduser().resolve())
    for framework in args.frameworks.split(","):
        if framework.strip() not in FRAMEWORKS:
            parser.error(f"--frameworks: unknown {framework!r} "
                         f"(expected: {','.join(FRAMEWORKS)})")
    if args.verdict_cells < 0:
        parser.error(f"--verdict-cells {args.verdict_cells}: expected an integer >= 0")
    return args


def _rows(suites: list[Suite]) -> list[pf.Row]:
    rows = []
    for suite in suites:
        if suite.json_path is not None:
            rows += pf.rows_from_suite(json.loads(suite.json_path.read_text(encoding="utf-8")))
    return rows


def assemble(profile: suite_plan.SuiteProfile, suites: list[Suite],
             data_suite: dict[str, Any] | None, matrix_dir: Path, command: str,
             out_dir: Path | None = None,
             time_to_verdict: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything performance.json holds, from the suites' JSON and the matrix."""
    rows, machine_infos, measured_at = [], [], []
    for suite in suites:
        if suite.json_path is not None:
            raw = json.loads(suite.json_path.read_text(encoding="utf-8"))
            rows += pf.rows_from_suite(raw)
            machine_infos.append(raw.get("machine_info", {}))
            measured_at.append(raw.get("datetime", ""))
    peaks = pf.matmul_peaks(rows)
    by_precision = pf.precision_peaks(rows)
    best = pf.best_peak_fraction(rows, by_precision, profile.batch_size, profile.image_size)
    loader = pf.loader_over_train(pf.loader_rates(rows, data_suite), rows)
    e2e = pf.end_to_end(rows)
    matrix, records = read_matrix(matrix_dir)
    ran = pf.matrix_records(matrix, records) if matrix else []
    overhead = pf.harness_overhead(matrix, ran) if matrix else None
    if overhead:
        overhead["matrix"] = str(matrix_dir / "matrix.json")
        if overhead["profile"] != "paper":
            overhead["paper_projection"] = paper_projection(overhead, rows, profile)
    data_wait = data_wait_figures(e2e, pf.records_data_wait(ran),
                                  overhead["profile"] if overhead else None)
    figures: dict[str, Any] = {
        "profile": profile.name, "command": command,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "measured_at": max(measured_at, default=None),
        "machine": machine(rows, machine_infos, profile),
        "loader_over_train": loader["value"] if loader else None,
        "peak_fraction": {fw: entry["fraction"] for fw, entry in best.items()},
        "speedup_vs_published_pipeline": {fw: e2e[fw]["speedup"] for fw in e2e},
        "harness_overhead_fraction": overhead["fraction"] if overhead else None,
        "harness_overhead_profile": overhead["profile"] if overhead else None,
        "data_wait_fraction": data_wait["value"] if data_wait else None,
        "matmul_peak_gflops": {fw: {str(t): g for t, g in sorted(by_t.items(), reverse=True)}
                               for fw, by_t in peaks.items()},
        "details": {"loader": loader, "peak": best, "end_to_end": e2e,
                    "harness_overhead": overhead, "data_wait": data_wait},
        # float32 (sgemm), the peak of every float32 mode; by_precision adds bf16's
        "machine_peak_gflops": {str(t): g for t, g in sorted(
            by_precision.get("sgemm", {}).items(), reverse=True)},
        "machine_peak_gflops_by_precision": {
            precision: {str(t): g for t, g in sorted(by_t.items(), reverse=True)}
            for precision, by_t in by_precision.items()},
        "modes": [mode_row(row, by_precision) for row in rows],
        "not_run": [item for suite in suites for item in suite.not_run],
        "suites": {s.name: {"returncode": s.returncode,
                            "json": str(s.json_path) if s.json_path else None} for s in suites},
        "data_suite": data_suite,
        "workload": {**asdict(profile), "image_size": profile.image_size},
        "op_profiles": read_op_profiles(out_dir) if out_dir else {},
        "gpu_status": suite_plan.shared()["gpu_status"],
        "gpu_measured": (read_returned(out_dir / "gpu", out_dir.parent / "runs")
                         if out_dir else None),
        "time_to_verdict": time_to_verdict or {},
        "bf16_check": read_bf16_check(out_dir) if out_dir else None,
    }
    figures["verdict_speedup"] = verdict_time.speedup(figures)
    figures["targets"] = [judge(t, figures) for t in pf.TARGETS]
    return figures


def read_bf16_check(out_dir: Path) -> dict[str, Any] | None:
    """`python -m benchmarks bf16-check`'s verdict, as it left it (None: not run, or a file
    that is not JSON)."""
    path = out_dir / "bf16_check.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def judge(target: pf.Target, figures: dict[str, Any]) -> dict[str, Any]:
    """The harness-overhead target is about the paper profile: a figure from another profile
    is reported beside it, never counted as meeting or missing it."""
    judged = pf.judge(target, pf.lookup(figures, target.key))
    judged["why"] = explain(target.key, figures)
    profile = figures["harness_overhead_profile"]
    if target.key == "harness_overhead_fraction" and profile not in (None, "paper"):
        judged["status"] = f"not measured on paper ({judged['status']} on {profile})"
    return judged


def paper_projection(overhead: dict[str, Any], rows: list[pf.Row],
                     profile: suite_plan.SuiteProfile) -> dict[str, Any] | None:
    """Overhead of the shortest paper-profile run (baseline, 20 epochs), projected from the
    measured per-run fixed cost and the fastest default-mode step times at batch 32."""
    paper = load_matrix_profile("paper")["run"]
    steps = {kind: [r for r in rows if r.kind == kind and r.mode == "default"
                    and r.batch_size == paper["batch_size"] and r.threads == profile.threads[0]
                    and r.image_size in (paper["image_size"], None)]
             for kind in ("train", "eval")}
    if not steps["train"] or not steps["eval"]:
        return None
    train = min(steps["train"], key=lambda r: r.median_s)
    evaluation = min(steps["eval"], key=lambda r: r.median_s)
    n_train, n_val = int(train.info["n_train"]), int(train.info["n_val"])
    fraction = pf.projected_overhead(overhead["per_run_overhead_s"], train.median_s,
                                     evaluation.median_s, n_train, n_val,
                                     paper["batch_size"], paper["epochs"])
    return {"fraction": fraction, "epochs": paper["epochs"], "n_train": n_train, "n_val": n_val,
            "step_s": train.median_s, "eval_step_s": evaluation.median_s,
            "framework": train.framework}


def data_wait_figures(e2e: dict[str, Any], runs: dict[str, Any] | None,
                      runs_profile: str | None) -> dict[str, Any] | None:
    """The worst data-wait fraction measured: the end-to-end runs at the paper setting (the
    shared loader, timed as common_data.run.loop.train_epoch times it) and the matrix's own
    records."""
    sources = {f"end_to_end {fw} cached": e2e[fw]["cached"]["data_wait_fraction"]
               for fw in e2e if fw != "overall"
               and e2e[fw]["cached"].get("data_wait_fraction") is not None}
    prefetched = {fw: e2e[fw]["cached_prefetch"]["data_wait_fraction"]
                  for fw in e2e if fw != "overall" and "cached_prefetch" in e2e[fw]}
    if runs:
        sources[f"run records ({runs_profile} profile, max of {runs['runs']})"] = runs["max"]
    if not sources:
        return None
    worst = max(sources, key=lambda k: sources[k])
    return {"value": sources[worst], "source": worst, "sources": sources, "runs": runs,
            "with_prefetch": prefetched}


def mode_row(row: pf.Row, peaks: pf.Peaks) -> dict[str, Any]:
    fraction = pf.peak_fraction(row, peaks) if row.kind in ("train", "eval") else None
    return {"framework": row.framework, "kind": row.kind, "mode": row.mode,
            "image_size": row.image_size, **suite_plan.process_fields(row.framework, row.info),
            "precision": row.precision,
            "pipeline": row.info.get("pipeline"), "threads": row.threads,
            "batch_size": row.batch_size, "median_ms": row.median_s * 1e3,
            "min_ms": row.min_s * 1e3, "rounds": row.rounds, "images_per_s": row.images_per_s,
            "gflops": row.gflops, "peak_fraction": fraction, "first_call_s": row.first_call_s,
            "device": row.device, "framework_version": row.info.get("framework_version")}


def machine(rows: list[pf.Row], infos: list[dict[str, Any]],
            profile: suite_plan.SuiteProfile) -> dict[str, Any]:
    gpus = sorted({r.device for r in rows if r.device not in ("cpu", "/CPU:0")})
    versions = {r.framework: r.info.get("framework_version") for r in rows}
    pythons = sorted({i.get("python_version") for i in infos if i.get("python_version")})
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": list(profile.threads),
            "gpu": gpus or None, "cpu_only": not gpus, "os": platform.platform(),
            "framework_versions": versions, "pythons": pythons,
            "harness_python": platform.python_version()}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
