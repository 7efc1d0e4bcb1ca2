"""The findings' section of COMPARISON.md: each finding's verdicts, the HUD-only probe,
the convergence flags and the verdicts recorded in its file."""

import json
from pathlib import Path
from typing import Any

from benchmarks.formatting import percent
from benchmarks.markdown import md_text
from benchmarks.matrix.records import (
    warn,
)
from benchmarks.report import figures
from benchmarks.report.palette_section import transfer_lines
from common_data.frameworks import FRAMEWORK_NAMES
from common_data.safe_files import read_json_text


def read_json(path: Path, what: str) -> dict[str, Any]:
    """A side file of the report (finding, matrix summary); unreadable ones are skipped."""
    try:
        value = json.loads(read_json_text(path, what))
    except (OSError, ValueError) as exc:
        warn(f"skipping {what} {path}: unreadable ({type(exc).__name__})")
        return {}
    if not isinstance(value, dict):
        warn(f"skipping {what} {path}: expected a JSON object")
        return {}
    return value


def _arm_accuracies(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A verdict row's (reference, arm) accuracies; findings written before arms existed
    name them baseline and augmented."""
    if "reference_accuracy" in row:
        return row["reference_accuracy"], row["arm_accuracy"]
    return row["baseline_accuracy"], row["augmented_accuracy"]


def _arm_names(result: dict[str, Any]) -> str:
    """The accuracy columns' heads: the arms' names where every verdict compares the same two,
    else the roles (each row's comparison then leads its framework cell)."""
    pairs = {(c["reference"], c["arm"]) for c in
             (r.get("comparison") or {"reference": "baseline", "arm": "augmented"}
              for r in result["verdicts"])}
    reference, arm = next(iter(pairs)) if len(pairs) == 1 else ("reference", "arm")
    return f"{reference} acc | {arm} acc"


def _lead(result: dict[str, Any], row: dict[str, Any]) -> str:
    """What leads a verdict's framework cell: its comparison, where the rows compare more
    than one pair of arms (the accuracy columns then say reference and arm)."""
    if _arm_names(result) != "reference acc | arm acc":
        return ""
    return f"{row['comparison']['arm']} vs {row['comparison']['reference']}: "


def _improving_note(row: dict[str, Any]) -> str:
    """Beside a verdict: how many of the runs it rests on were still improving at their last
    epoch (findings evaluated before this was recorded say nothing)."""
    counts = row.get("still_improving")
    if not counts or not any(counts.values()):
        return ""
    names = row.get("comparison") or {}
    parts = ", ".join(f"{n} of {row['n_seeds']} {names.get(side, side)}"
                      for side, n in counts.items() if n)
    return f" (still improving at the last epoch: {parts})"


def near_majority_note(row: dict[str, Any]) -> str:
    """Beside a verdict whose reference arm stayed within the minimum effect of the
    majority-class rate: its models learned too little for the claimed change to show."""
    if not row.get("near_majority"):
        return ""
    reference = (row.get("comparison") or {}).get("reference", "reference")
    return (f" (the {reference} models stay within {100 * row['comparison']['min_effect']:g} pp "
            f"of the majority-class rate, {percent(row['majority_rate'])} %: too near chance "
            f"for the change to show)")


def _fmt_ci(values: list[float | None]) -> str:
    """A CI in pp; one seed has none (null, or NaN in findings written before)."""
    low, high = values
    if low is None or high is None or low != low:
        return "n/a"
    return f"[{100 * low:+.1f}, {100 * high:+.1f}]"


def _recorded_text(row: dict[str, Any]) -> str:
    """The verdict recorded for this cell of the finding, in words, with the reference arm's
    recorded accuracy (`baseline_accuracy` in findings written before arms existed)."""
    expected = row.get("expected")
    if not expected:
        return "—"
    reference = (row.get("comparison") or {}).get("reference", "baseline")
    accuracy = expected.get("reference_accuracy", expected.get("baseline_accuracy"))
    return f"{expected['verdict']}, {reference} {percent(accuracy)} %"


def _cells(result: dict[str, Any]) -> tuple[int, int]:
    """(cells with a record, cells in all) of a finding result; (0, 0) where it says nothing."""
    cells = result.get("cells") or {}
    return cells.get("with_records", 0), cells.get("total", 0)


def _missing_cells(result: dict[str, Any]) -> int:
    done, total = _cells(result)
    return max(0, total - done)


def _interim_heading(result: dict[str, Any]) -> str:
    """A finding evaluated while its matrix still runs says so where a reader starts."""
    if not _missing_cells(result):
        return ""
    done, total = _cells(result)
    return f" — interim, {done} of {total} cells"


def _interim_note(result: dict[str, Any]) -> list[str]:
    """Why an interim finding's verdicts may still change: each rests on the seeds recorded so
    far, and a cell with no record at all has no row."""
    missing = _missing_cells(result)
    if not missing:
        return []
    resume = (" (the same command without `--no-train` resumes them)"
              if "--no-train" in result.get("command", "") else "")
    return [f"**Interim:** {missing} of its {_cells(result)[1]} cells have no record yet. "
            "Each verdict below rests on the seeds recorded so far (the seeds column), a "
            "setting with none has no row, and any of them may change when the rest have "
            f"run{resume}.", ""]


def _cpu_note(result: dict[str, Any]) -> list[str]:
    """Where a finding's records were made on more than one CPU model: each model's float32
    kernels round differently, which moves a single run by up to a seed's spread."""
    cpus = result.get("cpus") or {}
    if len(cpus) < 2:
        return []
    made = ", ".join(f"{md_text(name)} ({count})" for name, count in cpus.items())
    return ["", f"Its runs were made on {len(cpus)} CPU models: {made}. Each model's float32 "
            "kernels round differently, which can move one run by up to the spread between "
            "seeds; the verdicts pair runs by seed, whichever machine made them."]


def _finding_order(result: dict[str, Any]) -> tuple[bool, int]:
    """The highest-fidelity protocol first: published, then by input size."""
    return (not result.get("published_protocol", False), -result["protocol"]["image_size"])


def finding_protocol(results_dir: Path) -> tuple[str, int] | None:
    """(protocol name, input size) of the stored default finding result, if there is a
    readable one; an unreadable file is warned about once, by the findings section."""
    path = results_dir / "findings" / "augmentation.json"
    try:
        result = json.loads(read_json_text(path, "finding"))
        return result["profile"], int(result["protocol"]["image_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def findings_section(results_dir: Path, fig_dir: Path, out_dir: Path) -> list[str]:
    """Verdicts of every stored finding, highest fidelity first: a table naming the protocol
    the verdicts come from, a chart and plain sentences."""
    lines = []
    results = [read_json(path, "finding")
               for path in sorted((results_dir / "findings").glob("*.json"))]
    results = [r for r in results
               if r and r.get("verdicts") and "claim" in r
               and r.get("selection", {}).get("fault", "none") == "none"]
    for result in sorted(results, key=_finding_order):
        name = f"{result['finding']}-{result['profile']}"
        chart = figures.finding_chart(result, fig_dir / f"finding-{name}.png")
        data = result.get("data") or {}
        seeds = len(result.get("selection", {}).get("seeds", []))
        label = result.get("protocol_label") or f"`{result['profile']}`"
        kind = ("the published protocol" if result.get("published_protocol")
                else "**not** the published protocol")
        lines += [
            f"### Finding: {result['finding']}, protocol {label}{_interim_heading(result)}",
            "",
            f"> {result['claim']}",
            "",
            *_interim_note(result),
            f"Published: {result['source']}. Re-tested with `{result['command']}` on "
            f"{md_text(Path(str(data.get('dataset', '?'))).name)}, {kind} "
            f"({seeds} seed{'s' if seeds != 1 else ''} per cell). A direction is called when "
            f"the mean change reaches {100 * result['min_effect']:.0f} pp and its 95 % CI "
            "excludes zero.",
            "",
            f"| framework | split | HUD | protocol | seeds | {_arm_names(result)} | Δ (pp) "
            "[95 % CI] | paired t p | McNemar p (ensembles) | verdict | recorded |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        protocol = result["protocol"]
        short = (f"{protocol['image_size']}px, {protocol['epochs']}/"
                 f"{'≤' if protocol['early_stopping'] else ''}{protocol['augmented_epochs']} ep"
                 + ("" if result.get("published_protocol") else " (reduced)"))
        for row in result["verdicts"]:
            test = row.get("mcnemar_ensembles") or {}
            p_seed = row.get("p_value_seeds")
            reference, arm = _arm_accuracies(row)
            lines.append(
                f"| {_lead(result, row)}{FRAMEWORK_NAMES[row['framework']]} | {row['split']} | "
                f"{row['hud']} | "
                f"{short} | {row['n_seeds']} | {percent(reference['mean'])} | "
                f"{percent(arm['mean'])} | "
                f"{100 * row['delta_accuracy']:+.1f} {_fmt_ci(row['delta_ci95'])} | "
                f"{'n/a' if p_seed is None else f'{p_seed:.3g}'} | "
                f"{test.get('p_value', float('nan')):.3g} | **{row['verdict']}**"
                f"{_improving_note(row)}{near_majority_note(row)} | "
                f"{_recorded_text(row)} |"
            )
        probe = result.get("hud_only_probe") or {}
        if probe:
            majority = percent(next(iter(probe.values()))["majority_class_rate"])
            full = {r["framework"]: _arm_accuracies(r)[0]["mean"] for r in result["verdicts"]
                    if r["split"] == "random" and r["hud"] == "full"}
            lines += [
                "",
                "HUD-only probe (face blanked, random split, baseline) beside the full frame: "
                + ", ".join(
                    f"{FRAMEWORK_NAMES[fw]} {percent(p['accuracy']['mean'])} % over "
                    f"{p['n_seeds']} seed{'s' if p['n_seeds'] != 1 else ''}"
                    + (f" (full frame {percent(full[fw])} %)" if fw in full else "")
                    for fw, p in probe.items()
                )
                + f"; majority class {majority} %.",
            ]
        lines += transfer_lines(result, fig_dir, out_dir)
        cells = result.get("cells")
        if cells:
            lines += [
                "",
                f"Time to verdict: {cells['with_records']} of {cells['total']} cells have "
                f"records; their runs took {result['run_time_s'] / 3600:.2f} h of run time "
                "together (each run's own wall clock; with `--jobs 2` on two cores the matrix "
                "takes about half that).",
                *_cpu_note(result),
            ]
        lines += [
            "",
            *result["summary"],
            "",
            f"![finding]({chart.relative_to(out_dir).as_posix()})",
            "",
        ]
    return ["## Findings", "", *lines] if lines else []


