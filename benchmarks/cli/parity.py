"""`python -m benchmarks parity`: prove the two twins are the same model before comparing them
(the checks are benchmarks/parity/check.py's), or with --trajectory over a whole run."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

from benchmarks.cli.args import add_jobs_argument, check_image_size, parse_jobs, resolve_data_flag
from benchmarks.findings.cells import load_finding, matrix_profile, selection_from
from benchmarks.matrix.build import apply_mode_flags
from benchmarks.matrix.cells import expand
from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from benchmarks.matrix.executors import executor_from
from benchmarks.matrix.records import load_records
from benchmarks.matrix.runner import run_matrix
from benchmarks.parity.check import ProbeError, compare, render, run_probe
from benchmarks.parity.trajectory import describe, twin_pairs
from common_data.errors import ConfigError
from common_data.frameworks import (
    ANCHOR,
    EXAMPLE_MODE,
    FRAMEWORK_NAMES,
    FRAMEWORK_PAIRS,
    FRAMEWORKS,
)
from common_data.model.dropout import SOURCES as DROPOUT_SOURCES
from common_data.model.parity_probe import PARITY_LR
from common_data.model.spec import load_spec

TRAJECTORY_PROFILE = "schedule64"

def run_trajectory(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Run (or resume) the four runs of the trajectory check and print the comparison."""
    finding = load_finding()
    selection = selection_from(finding, TRAJECTORY_PROFILE, resolve_data_flag(args.data),
                               seeds=[args.seed], regimes=["random.full"], probe=False)
    profile = matrix_profile(finding, selection)
    profile.update(variants=["baseline"], splits=["random"], hud=["full"])
    apply_mode_flags(profile, args.mode)
    cells = []
    for source in DROPOUT_SOURCES:
        profile["run"]["dropout"] = source
        cells += expand(profile)
    # the floor: the anchor framework with shared masks again at another thread count, i.e.
    # the same model with its sums in another order (see benchmarks.parity.trajectory)
    floor = dict(profile, frameworks=[ANCHOR])
    floor["run"] = dict(profile["run"], dropout="shared",
                        threads=profile["run"]["threads"] + 1)
    cells += expand(floor)
    command = " ".join(["python -m benchmarks parity", *(argv or [])])
    summary = run_matrix(cells, args.results, False, command, parse_jobs(args.jobs),
                         executor_from(args))
    ids = {cell.run_id for cell in cells}
    pairs = twin_pairs([r for r in load_records(args.results / "runs") if r["run_id"] in ids])
    print(describe(pairs))
    expected = len(DROPOUT_SOURCES) * len(FRAMEWORK_PAIRS) + 1
    return 0 if len(pairs) == expected and not summary["failed"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks parity",
        description="Prove the twins equivalent: parameters, forward pass, training.")
    parser.add_argument("--spec", default="baseline_cnn", help="spec name or TOML path")
    parser.add_argument("--image-size", type=int, default=128, help="input size in pixels (square)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the shared initial weights")
    parser.add_argument("--steps", type=int, default=10, help="Adam steps in the training check")
    parser.add_argument("--lr", type=float, default=PARITY_LR,
                        help="Adam learning rate of the training check")
    parser.add_argument("--device", choices=("cpu", "auto", "gpu"), default="cpu",
                        help="where the probes run (cpu: float32 comparable to the reference)")
    parser.add_argument("--mode", action="append", default=[], metavar="KEY=BOOL",
                        help=f"tuned mode to check parity under, e.g. {EXAMPLE_MODE}=true "
                        "(repeatable; each goes to the twin it applies to)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    trajectory = parser.add_argument_group(
        "trajectory check", "--trajectory trains the twins for a whole run instead (the "
        f"finding's `{TRAJECTORY_PROFILE}` baseline: 64x64, 20 epochs, lr 1e-3, dropout on), "
        "once with shared dropout masks and once with each framework's own, plus "
        f"{FRAMEWORK_NAMES[ANCHOR]} again at one more thread (the float32 'floor'), and "
        "compares their per-epoch "
        "validation accuracy and loss")
    trajectory.add_argument("--trajectory", action="store_true")
    trajectory.add_argument("--data", default="synthetic", help="'synthetic' or a dataset folder")
    trajectory.add_argument("--results", type=Path, default=PROJECT_ROOT / "results",
                            help="results folder; the runs are ordinary, resumable records")
    add_jobs_argument(trajectory)
    args = parser.parse_args(argv)
    check_image_size(args.image_size)
    if args.trajectory:
        return run_trajectory(args, argv)
    if args.steps < 1:
        raise ConfigError(f"--steps {args.steps}: expected an integer >= 1 (a training check "
                          "with no step compares nothing)")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ConfigError(f"--lr {args.lr}: expected a finite number > 0")
    spec = load_spec(args.spec, image_size=args.image_size)
    for framework in FRAMEWORKS:
        framework_python(framework)
    with tempfile.TemporaryDirectory(prefix="parity-") as tmp:
        try:
            probes = {fw: run_probe(fw, Path(tmp) / f"{fw}.npz", args) for fw in FRAMEWORKS}
        except ProbeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    report = compare(spec, args.seed, args.lr, probes)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
