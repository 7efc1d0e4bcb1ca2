"""`python -m benchmarks report`: render COMPARISON.md and figures from stored records only.

Nothing here trains or imports a framework: every number comes from a record or its stored
predictions, so the report can be regenerated anywhere and always says what was measured.
"""

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.findings.cells import load_finding
from benchmarks.findings.convergence import RULE as CONVERGENCE_RULE
from benchmarks.formatting import percent
from benchmarks.markdown import md_text
from benchmarks.matrix import data_quality
from benchmarks.matrix.records import (
    Row,
    Setting,
    group_rows,
    load_records,
    rows_by_setting,
)
from benchmarks.parity import trajectory
from benchmarks.performance import gpu_report, model_cost
from benchmarks.report import figures, resolution, summary
from benchmarks.report.closing import add_closing_arguments, export_tensorboard_to, print_closing
from benchmarks.report.environment import (
    environment_block,
    failures_block,
    machines_note,
    shared_machine_note,
)
from benchmarks.report.findings_section import finding_protocol, findings_section, read_json
from benchmarks.report.palette_section import not_run_note, refresh_palette_finding
from benchmarks.report.published import protocol_notes, published_table
from benchmarks.report.tables import delta_table, ensemble_table, results_table
from common_data.atomic import write_text_atomic
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORK_PAIRS, pair_label


def matrix_section(
    matrix: dict[str, Any], rows: list[Row], fig_dir: Path, out_dir: Path,
    audits: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """The report's opening: what the last `compare` matrix found, with one figure."""
    if not rows:
        return []
    only = [Row(r.setting, r.framework, r.variant, r.protocol,
                [x for x in r.records if x["run_id"] in matrix["run_ids"]]) for r in rows]
    datasets = sorted({md_text(r.setting.data_label) for r in only})
    chart = figures.regime_chart(only, fig_dir / "matrix-regimes.png")
    answers = summary.answers(only, load_finding()["min_effect"], audits)
    return [
        "## The matrix just run",
        "",
        f"`{matrix['command']}` on {', '.join(datasets)}: {len(matrix['run_ids'])} cells "
        f"({matrix['ran']} trained now, {matrix['skipped']} already stored), "
        f"{matrix['wall_s']:.0f} s wall time. Its tables come first under *Results*.",
        "",
        *(f"- {text}" for text in answers),
        "",
        f"![accuracy per regime]({chart.relative_to(out_dir).as_posix()})",
        "",
    ]


def summary_section(rows: list[Row],
                    audits: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """The first screen: the three questions answered per dataset, with their numbers."""
    min_effect = load_finding()["min_effect"]
    datasets: dict[str, list[Row]] = {}
    for row in rows:
        datasets.setdefault(row.setting.data_label, []).append(row)
    lines = []
    for dataset, group in datasets.items():
        found = summary.answers(group, min_effect, audits)
        if found:
            lines += [f"### {md_text(dataset)}", "", *(f"- {text}" for text in found), ""]
    return ["## Summary of all stored runs, by dataset", "", *lines] if lines else []


def data_section(rows: list[Row], reports: dict[str, dict[str, Any]]) -> list[str]:
    """Per dataset (name and content hash): what the data left out or got wrong, from the
    data-quality files the harness's preflight kept (`reports`, by dataset hash)."""
    datasets = {row.setting.dataset_hash: row.setting.data_label for row in rows}
    lines = []
    for digest, label in datasets.items():
        report = reports.get(digest)
        if report is None:
            found = ["- no data-quality file (these runs were made before the harness kept one)"]
        else:
            found = data_quality.summary_lines(report) or ["- nothing left out or flagged"]
        lines += [f"### {md_text(label)}", "", *found, ""]
    return ["## Data quality", "", *lines] if lines else []


def majority_note(rows: list[Row]) -> list[str]:
    """The split's majority-class rate, beside its accuracies: a model that predicts one class
    for every frame scores exactly this, so an accuracy near it means nothing was learnt."""
    found = next((m for row in rows if (m := row.majority()) is not None), None)
    if found is None:
        return []
    rate, name = found
    return [f"Majority-class rate of this split's validation frames: {percent(rate)} % "
            f"(always predicting `{name}`).", ""]


def _setting_section(setting: Setting, rows: list[Row], fig_dir: Path, out_dir: Path) -> list[str]:
    curves = figures.learning_curves(rows, setting.title, fig_dir / f"curves-{setting.slug}.png")
    confusion = figures.confusion_matrices(
        rows, setting.title, fig_dir / f"confusion-{setting.slug}.png"
    )
    # per setting: one folder often holds a reduced matrix beside a published-protocol one
    lines = [f"### {md_text(setting.title)}", "", *protocol_notes(rows), "",
             *majority_note(rows),
             *results_table(rows), ""]
    for note in (shared_machine_note(rows), machines_note(rows)):
        if note:
            lines += [*note, ""]
    for a, b in FRAMEWORK_PAIRS:
        deltas = delta_table(rows, a, b)
        if deltas:
            lines += [f"Framework delta ({pair_label(a, b)}), paired by seed:", "", *deltas, ""]
    ensembles = ensemble_table(rows)
    if ensembles:
        lines += [
            "Ensembles (softmax average of the seeds' stored validation probabilities):",
            "",
            *ensembles,
            "",
        ]
    lines += [
        f"![learning curves]({curves.relative_to(out_dir).as_posix()})",
        "",
        f"![confusion matrices]({confusion.relative_to(out_dir).as_posix()})",
        "",
    ]
    return lines


def check_writable(folder: Path) -> None:
    """Fail before reading anything when the report cannot be written where it goes."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(
            f"--out {folder.parent}: cannot write the report there ({exc.strerror or exc}); "
            "expected a writable folder (pass --out with another one)"
        ) from None


def render(results_dir: Path, out_dir: Path) -> Path:
    """Write `<out>/COMPARISON.md` and `<out>/figures/*.png`; returns the markdown path."""
    check_writable(out_dir / "figures")
    records = load_records(results_dir / "runs")
    rows = group_rows(records)
    fig_dir = out_dir / "figures"
    matrix_path = results_dir / "matrix.json"
    matrix = read_json(matrix_path, "matrix summary") if matrix_path.is_file() else {}
    lines = [
        "# Framework comparison: thermal facial emotion recognition",
        "",
        f"Generated by `python -m benchmarks report` on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} from {len(records)} run records "
        f"in `{results_dir.name}/runs/`.",
    ]
    if matrix.get("command"):
        lines += [
            "",
            f"Last matrix that trained: `{matrix['command']}`: {matrix['ran']} runs in "
            f"{matrix['wall_s']:.0f} s wall time, of which {matrix['subprocess_s']:.0f} s inside "
            "the run processes.",
        ]
    lines += [
        "",
        "Accuracy and F1 are percentages on the validation frames, computed in "
        "`common_data.run.metrics` from each run's stored predictions; cells read "
        "`mean ± std [95 % t-interval over seeds, clipped to 0-100 %]`. Times exclude the "
        "first (warm-up/compile) step, which is reported apart. Convergence: "
        + CONVERGENCE_RULE + ".",
        "",
    ]
    if not records:
        lines += ["No run records yet: run `tox -m compare` first.", ""]
    else:
        audits = data_quality.load_reports(results_dir)  # the preflight's leakage audits
        just_run = {r["run_id"] for r in records} & set(matrix.get("run_ids", []))
        lines += [
            *matrix_section(matrix, [r for r in rows
                                     if any(x["run_id"] in just_run for x in r.records)],
                            fig_dir, out_dir, audits),
            *summary_section(rows, audits),
            *findings_section(results_dir, fig_dir, out_dir),
            *resolution.section(records, fig_dir, out_dir, finding_protocol(results_dir)),
            *trajectory.section(records, fig_dir, out_dir),
            *data_section(rows, audits),
            "## Results",
            "",
        ]
        settings = rows_by_setting(rows)
        # the settings of the matrix just run first, then the stored ones
        order = sorted(settings, key=lambda s: not any(
            r["run_id"] in just_run for row in settings[s] for r in row.records))
        for setting in order:
            lines += _setting_section(setting, settings[setting], fig_dir, out_dir)
        speed = figures.speed_chart(rows, fig_dir / "speed.png")
        lines += [
            "## Speed",
            "",
            f"![speed]({speed.relative_to(out_dir).as_posix()})",
            "",
            *model_cost.section(records),
            *gpu_report.section(results_dir),
            "## Published figures beside ours",
            "",
            *published_table(rows),
            "",
            *failures_block(results_dir, records),
            "## Environment",
            "",
            *environment_block(records),
            "",
        ]
    path = out_dir / "COMPARISON.md"
    write_text_atomic(path, "\n".join(lines))
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks report",
        description="Render COMPARISON.md from stored run records.",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="results folder holding runs/ (default: results)",
    )
    parser.add_argument(
        "--out", type=Path, help="where to write COMPARISON.md (default: --results)"
    )
    add_closing_arguments(parser)
    args = parser.parse_args(argv)
    if not (args.results / "runs").is_dir():
        raise ConfigError(
            f"--results {args.results}: no runs/ folder with records inside "
            "(run `python -m benchmarks compare` first)"
        )
    palette = refresh_palette_finding(args.results)
    out = render(args.results, args.out or args.results)
    if args.json:  # every stored run, by dataset, as the report's summary has them

        print_closing(args.results / "runs", None, out, load_finding()["min_effect"],
                      as_json=True)
    else:
        print(out)
        if palette is None:
            print(not_run_note(args.results))
    if args.tensorboard:
        export_tensorboard_to(args.results, quiet_stdout=args.json)
    return 0
