"""The palette finding in the report: its leave-one-palette-out table and chart, and the
regeneration of its result file from the stored records by `python -m benchmarks report`."""

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.findings.cells import (
    adapt_to_data,
    finding_cells,
    finding_path,
    load_finding,
    selection_from,
)
from benchmarks.findings.verdicts import evaluate_finding
from benchmarks.formatting import percent
from benchmarks.report import figures
from common_data.atomic import json_text, write_json_atomic
from common_data.errors import BenchError, DataError
from common_data.frameworks import FRAMEWORK_NAMES
from common_data.run.config import LEGACY_VALUES, TRAINING_SET_KEYS
from common_data.run.schema import read_record
from common_data.safe_files import read_json_text

FINDING = "palette"
RUN_COMMAND = ("python -m benchmarks finding --finding palette "
               "--data ../shared/datasets/facial-emotion --jobs 2")


def transfer_lines(result: dict[str, Any], fig_dir: Path, out_dir: Path) -> list[str]:
    """The held-out-palette table and chart of a finding result that has one."""
    rows = result.get("palette_transfer") or []
    if not rows:
        return []
    name = f"{result['finding']}-{result['profile']}"
    chart = figures.palette_transfer_chart(rows, fig_dir / f"palette-transfer-{name}.png")
    lines = [
        "",
        "Accuracy by palette: each arm that trains on some palettes, scored on the validation "
        "frames of the palettes it trained on and on those of the palettes it never saw; the "
        "last column is the arm trained on every palette, on those same held-out frames.",
        "",
        "| framework | split | HUD | arm | held-out palettes | seeds | in-palette acc | "
        "held-out acc | all palettes on held-out |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        reference = row.get("reference_on_held_out")
        lines.append(
            f"| {FRAMEWORK_NAMES[row['framework']]} | {row['split']} | {row['hud']} | "
            f"{row['arm']} | {', '.join(row['held_out'])} | {row['n_seeds']} | "
            f"{percent(row['in_palette_accuracy']['mean'])} | "
            f"{percent(row['held_out_accuracy']['mean'])} | "
            f"{'—' if not reference else percent(reference['mean'])} |")
    return [*lines, "", f"![palette transfer]({chart.relative_to(out_dir).as_posix()})"]


def _palette_records(runs_dir: Path) -> list[dict[str, Any]]:
    """The stored palette runs; an unreadable record is left to the report, which names it
    once."""
    found = []
    for path in sorted(runs_dir.glob("*.json")):
        try:
            record = read_record(path)
        except DataError:
            continue
        config = record["config"]
        if any(key in config and config[key] != LEGACY_VALUES[(key,)] for key in TRAINING_SET_KEYS):
            found.append(record)
    return found


def not_run_note(results_dir: Path) -> str:
    """What `report` says when the palette finding has no records (on stdout, beside the
    report's path: COMPARISON.md stays as its records render it)."""
    return (f"note: the palette finding has not been run (no palette records in "
            f"{results_dir / 'runs'}): {RUN_COMMAND}")


def refresh_palette_finding(results_dir: Path) -> list[Path] | None:
    """Re-evaluate the palette finding, under each of its protocols and on each dataset its
    stored records name, into results/findings/palette*.json (as `finding --no-train` would);
    None when no stored record is a palette run."""
    records = _palette_records(results_dir / "runs")
    if not records:
        return None
    finding = load_finding(finding_path(FINDING))
    ids = {r["run_id"] for r in records}
    paths = []
    for data in sorted({r["config"]["data"] for r in records}):
        for protocol in finding["protocol"]:
            try:
                selection = adapt_to_data(selection_from(finding, protocol, data))
                grid, probe = finding_cells(finding, selection)
                if not ids & {c.run_id for c in grid + probe}:
                    continue
                command = (f"python -m benchmarks finding --finding {FINDING} --protocol "
                           f"{protocol} --data {data} --no-train")
                result = evaluate_finding(finding, selection, grid, probe, results_dir, command)
            except BenchError as exc:  # e.g. the dataset is not on this machine
                print(f"warning: the palette finding ({protocol}, {data}) was not "
                      f"re-evaluated: {exc}", file=sys.stderr)
                continue
            name = FINDING if protocol == finding["default_protocol"] else f"{FINDING}-{protocol}"
            out = results_dir / "findings" / f"{name}.json"
            if not same_result(out, result):
                write_json_atomic(out, result)
            paths.append(out)
    return paths


def same_result(path: Path, result: dict[str, Any]) -> bool:
    """Whether the stored result says all that `result` says, but for when it was made: every
    `report` re-evaluates the finding, and rewriting an unchanged file would only move its
    time stamp, a change to review and commit with each report."""
    try:
        stored = json.loads(read_json_text(path, "finding"))
    except (OSError, ValueError):
        return False
    if not isinstance(stored, dict):
        return False
    fresh = json.loads(json_text(result))  # as it would read back
    return ({k: v for k, v in stored.items() if k != "generated_at"}
            == {k: v for k, v in fresh.items() if k != "generated_at"})
