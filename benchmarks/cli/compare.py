"""`python -m benchmarks compare`: run a matrix of training runs, then write the report."""

import argparse
import sys

from benchmarks.cli.args import add_matrix_arguments, apply_overrides, parse_jobs
from benchmarks.findings.cells import load_finding
from benchmarks.matrix.build import build_cells
from benchmarks.matrix.cells import load_matrix_profile
from benchmarks.matrix.executors import executor_from
from benchmarks.matrix.lock import results_lock
from benchmarks.matrix.preflight import preflight
from benchmarks.matrix.runner import run_matrix
from benchmarks.report.closing import add_closing_arguments, export_tensorboard_to, print_closing
from benchmarks.report.render import render
from common_data.errors import PipeSafe


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
            out = render(args.results, args.results)
            print_closing(args.results / "runs", summary["run_ids"], out,
                          load_finding()["min_effect"], as_json=args.json, stream=stdout)
        if args.tensorboard:
            export_tensorboard_to(args.results, quiet_stdout=args.json)
    if summary["failed"]:
        return 1
    # 141, as for a tool the pipe killed: the report is written, only the reader went away
    return 141 if summary["reader_gone"] or stdout.reader_gone else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
