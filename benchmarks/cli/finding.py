"""`python -m benchmarks finding`: re-test the published augmentation finding.

The finding is data (`findings/augmentation.toml`): the claim, the published numbers, the
regimes to test and the verdicts recorded from a real run. This module turns it into harness
cells (so a run resumes like any other matrix), computes one verdict per framework x split x
HUD mode from the stored records, and writes `results/findings/augmentation.json`.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from benchmarks.cli.args import (
    add_card_argument,
    add_jobs_argument,
    add_skip_bad_argument,
    card_settings,
    parse_csv,
    parse_jobs,
    parse_seeds,
    resolve_data_flag,
)
from benchmarks.findings.cells import (
    FindingSelection,
    adapt_to_data,
    check_training_sets,
    finding_cells,
    finding_path,
    load_finding,
    selection_from,
)
from benchmarks.findings.verdicts import (
    evaluate_finding,
    expected_toml,
)
from benchmarks.matrix.executors import executor_from
from benchmarks.matrix.lock import results_lock
from benchmarks.matrix.preflight import preflight
from benchmarks.matrix.relocate import done_elsewhere
from benchmarks.matrix.runner import DEFAULT_RESULTS, run_matrix
from benchmarks.report.render import render
from common_data.atomic import write_json_atomic
from common_data.data.faults import FAULTS
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORKS
from common_data.regimes import OVERLAYS, SPLITS, VARIANTS, choices, full_frame


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks finding",
        description="Re-test the published augmentation finding; exit 1 when a recorded "
        "verdict flips.",
    )
    parser.add_argument("--data", default="synthetic", help="'synthetic' or a dataset folder")
    add_card_argument(parser)
    parser.add_argument("--finding", default="augmentation", metavar="NAME_OR_FILE",
                        help="a finding in benchmarks/findings/ by name, or a finding file of "
                        "your own (default: augmentation)")
    protocols = ", ".join(load_finding()["protocol"])
    parser.add_argument("--protocol",
                        help=f"the finding's protocol (augmentation's: {protocols}; default: "
                        "the file's default_protocol, else its first)")
    parser.add_argument("--profile", dest="old_profile", help=argparse.SUPPRESS)
    parser.add_argument("--seeds", help="comma-separated seeds (default: the finding's)")
    parser.add_argument("--frameworks", help=f"comma-separated subset of: {','.join(FRAMEWORKS)}")
    parser.add_argument("--regimes", help="comma-separated split.hud regimes of the finding, "
                        f"e.g. random.{full_frame()} (splits: {choices(SPLITS)}; hud: "
                        f"{choices(OVERLAYS)})")
    parser.add_argument("--no-probe", action="store_true", help="skip the HUD-only probe")
    parser.add_argument("--variants", help=f"comma-separated subset of: {choices(VARIANTS)} "
                        "(the reference variant alone checks the HUD-only probe against the "
                        "full frame)")
    parser.add_argument(
        "--fault",
        default="none",
        choices=FAULTS,
        help="inject a deliberate pipeline fault (regression-suite self-test)",
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--force", action="store_true", help="rerun cells that have records")
    add_skip_bad_argument(parser)
    add_jobs_argument(parser)
    parser.add_argument("--no-report", action="store_true", help="skip rendering COMPARISON.md")
    parser.add_argument("--no-train", action="store_true",
                        help="train nothing: verdicts from the records already stored (e.g. "
                        "records copied from another machine while the matrix still runs)")
    parser.add_argument(
        "--print-expected",
        action="store_true",
        help="print the observed verdicts as a TOML table to record",
    )
    args = parser.parse_args(argv)
    if args.old_profile:
        print("warning: finding --profile is deprecated: use --protocol "
              f"{args.old_profile}", file=sys.stderr)
        args.protocol = args.old_profile
    finding = load_finding(finding_path(args.finding))
    args.protocol = args.protocol or finding["default_protocol"]
    selection = selection_from(
        finding,
        args.protocol,
        resolve_data_flag(args.data),
        frameworks=args.frameworks
        and parse_csv("--frameworks", args.frameworks, tuple(FRAMEWORKS)),
        seeds=args.seeds and parse_seeds(args.seeds),
        regimes=args.regimes and parse_csv("--regimes", args.regimes),
        variants=args.variants and tuple(parse_csv("--variants", args.variants, VARIANTS)),
        probe=not args.no_probe,
        fault=args.fault,
        skip_bad=args.skip_bad,
        card=card_settings(args.card) if args.card else None,
    )
    if not args.regimes:  # regimes the user named are run as named
        selection = adapt_to_data(selection)
    jobs = parse_jobs(args.jobs)
    with results_lock(args.results):  # from the checks to the report: one harness per folder
        return _run_finding(finding, selection, args, argv, jobs)


def _run_finding(
    finding: dict[str, Any], selection: FindingSelection, args: argparse.Namespace, argv: list[str],
    jobs: int,
) -> int:
    grid, probe = finding_cells(finding, selection)
    check_training_sets(finding, selection)
    preflight(grid + probe, args.results, args.force)
    command = " ".join(["python -m benchmarks finding", *argv])
    if not args.no_train:
        cells = grid + probe
        if not args.force:
            answered = {c.run_id for c in done_elsewhere(cells, args.results / "runs",
                                                         selection.data, selection.card)}
            if answered:
                print(f"note: {len(answered)} of the {len(cells)} cells have records made from "
                      "the same data in another folder: read, not trained again (--force "
                      "trains them)")
            cells = [cell for cell in cells if cell.run_id not in answered]
        run_matrix(cells, args.results, args.force, command, jobs, executor_from(args))
    result = evaluate_finding(finding, selection, grid, probe, args.results, command)
    if not result["verdicts"] and not result["hud_only_probe"]:  # nothing checked: no pass
        hint = "run without --no-train first" if args.no_train else "see the failures above"
        raise ConfigError(f"--results {args.results}: none of the finding's {len(grid)} cells "
                          f"has a usable record, so nothing was checked ({hint})")
    name = (finding["id"] if args.protocol == finding["default_protocol"]
            else f"{finding['id']}-{args.protocol}")
    if args.fault != "none":
        name += f"-fault-{args.fault}"
    out = args.results / "findings" / f"{name}.json"
    write_json_atomic(out, result)
    for row in result["verdicts"]:
        print(
            f"{row['framework']:>5} {row['split']:>7} hud {row['hud']:<6} "
            f"{row['comparison']['reference']} "
            f"{100 * row['reference_accuracy']['mean']:5.1f} % "
            f"delta {100 * row['delta_accuracy']:+6.1f} pp -> {row['verdict']}"
            + (" (reference near the majority-class rate)" if row["near_majority"] else "")
        )
    print("\n".join(result["summary"]))
    if args.print_expected:
        print(expected_toml(result))
    if not result["expected_recorded"] and not result["expected_probe"]:
        print(
            f"note: no verdicts recorded for protocol {args.protocol!r} on "
            f"{result['data']['label']!r}; only split integrity was checked"
        )
    missing = result["cells"]["total"] - result["cells"]["with_records"]
    if missing:
        print(f"note: interim: {missing} of the {result['cells']['total']} cells have no "
              "record yet; each verdict rests on the seeds recorded so far")
    for note in result["threshold_flips"] + result["probe_notes"] + result["unchecked"]:
        print(f"note: {note}")
    for failure in result["regression_failures"]:
        print(f"REGRESSION: {failure}")
    print(f"finding: {out}")
    if not args.no_report:

        print(f"report: {render(args.results, args.results)}")
    return 1 if result["regression_failures"] else 0
