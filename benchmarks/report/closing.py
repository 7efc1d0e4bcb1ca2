"""What `compare` prints when its matrix ends: one table, three answers, the report's path.

A user who ran the main job should not have to open a file to learn what it found; the
table and sentences are computed from the very records the report reads. Per dataset, the
dataset is named once above its table, so the table's columns stay short enough for an
80-column terminal or a CI log; the answers are wrapped to the same width. `--json` gives
the same content as one JSON document (`closing_document`), for scripts and CI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from benchmarks.matrix.data_quality import load_reports
from benchmarks.matrix.records import Row, group_rows, is_bf16, load_records
from benchmarks.report.summary import keyed_answers
from benchmarks.stats import PROPORTION, mean_ci
from common_data.frameworks import FRAMEWORK_NAMES
from common_data.regimes import SPLITS, VARIANTS, regime_label

TITLE = "validation accuracy (%), mean [95 % CI] over seeds; maj.: majority-class rate"
# width when stdout is a file or a pipe and COLUMNS does not say otherwise
REDIRECTED_WIDTH = 80


def closing_console(stream: TextIO | None = None) -> Console:
    """On a terminal, rich asks it for its width (COLUMNS first); written to a file or a
    pipe, rich would fall back on the width of whichever terminal stdin or stderr is, so the
    width is fixed: COLUMNS, else 80. `stream` (default stdout) may be a PipeSafe wrapper."""
    stream = stream or sys.stdout
    if stream.isatty():
        return Console(file=stream)
    columns = os.environ.get("COLUMNS", "")
    return Console(file=stream, width=int(columns) if columns.isdigit() and int(columns) > 0
                   else REDIRECTED_WIDTH)


def ok_rows(results_runs: Path, run_ids: list[str] | None = None) -> list[Row]:
    """The rows of the runs `run_ids` (every stored run when None) that finished."""
    records = load_records(results_runs)
    if run_ids is not None:
        wanted = set(run_ids)
        records = [r for r in records if r["run_id"] in wanted]
    return [row for row in group_rows(records) if row.ok]


def table_entries(rows: list[Row]) -> list[dict[str, Any]]:
    """One entry per row of the table, numbers unrounded (accuracy as a fraction)."""
    entries = []
    for row in sorted(rows, key=lambda r: (r.setting.image_size,
                                           not SPLITS[r.setting.split].published,
                                           r.setting.hud, not VARIANTS[r.variant].reference,
                                           r.framework)):
        values = row.values("accuracy")
        mean, _, low, high = mean_ci(values, within=PROPORTION)
        bounded = len(values) > 1 and not np.isnan(low)
        entries.append({
            "image_size": row.setting.image_size,
            "split": row.setting.split,
            "hud": row.setting.hud,
            "framework": row.framework,
            "variant": row.variant,
            "precision": "bf16" if is_bf16(row.records[0]["config"]) else "float32",
            # what tells apart two rows of one setting made under different protocols
            "model": row.records[0]["config"].get("spec", "baseline_cnn"),
            "epochs": row.records[0]["config"]["epochs"],
            "dropout": row.records[0]["config"].get("dropout", "framework"),
            "seeds": len(values),
            "accuracy": float(mean),
            "ci_low": float(low) if bounded else None,
            "ci_high": float(high) if bounded else None,
            "majority": majority[0] if (majority := row.majority()) else None,
        })
    return entries


def closing_document(rows: list[Row], min_effect: float, report: Any,
                     audits: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The table and the three answers per dataset, plus the report's path: what `--json`
    prints. Answers are plain text (the report's bold marks removed); `audits` are the
    preflight's data-quality reports (their leakage audits flag near-copy inflation)."""
    by_dataset: dict[str, list[Row]] = {}
    for row in rows:
        by_dataset.setdefault(row.setting.data_label, []).append(row)
    datasets = []
    for label in sorted(by_dataset):
        found = keyed_answers(by_dataset[label], min_effect, audits)
        datasets.append({
            "dataset": label,
            "table": table_entries(by_dataset[label]),
            "answers": {key: text and text.replace("**", "") for key, text in found.items()},
        })
    return {"datasets": datasets, "report": str(report)}


def render_table(entries: list[dict[str, Any]]) -> Table:
    """Short columns without vertical rules: 128 px, 'random, HUD only', TensorFlow,
    augmented, 10 seeds and '62.3 [60.1, 64.5]' fit in 80 columns with room to spare."""
    # one space of padding and the box's one-space rule between columns: 78 columns at most
    table = Table(title=TITLE, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=(0, 1, 0, 0))
    numbers = ("size", "seeds", "accuracy", "maj.")
    for column in ("size", "regime", "framework", "variant", *numbers[1:]):
        table.add_column(column, no_wrap=True, justify="right" if column in numbers else "left")
    for entry in entries:
        interval = "" if entry["ci_low"] is None else \
            f" [{100 * entry['ci_low']:.1f}, {100 * entry['ci_high']:.1f}]"
        cells = (f"{entry['image_size']} px", regime_label(entry["split"], entry["hud"]),
                 FRAMEWORK_NAMES[entry["framework"]],
                 entry["variant"] + (" (bf16)" if entry.get("precision") == "bf16" else ""),
                 str(entry["seeds"]),
                 f"{100 * entry['accuracy']:.1f}{interval}",
                 "" if entry["majority"] is None else f"{100 * entry['majority']:.1f}")
        table.add_row(*map(Text, cells))  # Text: a '[' in a value is never read as markup
    return table


def print_closing(results_runs: Path, run_ids: list[str] | None, report: Any,
                  min_effect: float, as_json: bool = False,
                  stream: TextIO | None = None) -> None:
    """Summarise the runs `run_ids` (those of the matrix just run; every stored run when
    None) from their records: as text at the console's width, or as one JSON document, on
    `stream` (default stdout)."""
    document = closing_document(ok_rows(results_runs, run_ids), min_effect, report,
                                load_reports(Path(results_runs).parent))
    if as_json:
        print(json.dumps(document, indent=2, ensure_ascii=False), file=stream or sys.stdout)
        return
    console = closing_console(stream)
    for dataset in document["datasets"]:
        console.print(f"The matrix just run, on {dataset['dataset']}:", markup=False,
                      highlight=False, soft_wrap=True)
        console.print(render_table(dataset["table"]))
        for text in filter(None, dataset["answers"].values()):
            # words only: a path or a number range is never broken in the middle
            console.print(textwrap.fill(text, width=console.width, break_long_words=False,
                                        break_on_hyphens=False), markup=False,
                          highlight=False, soft_wrap=True)
            console.print()
    # soft_wrap: a path broken over two lines cannot be copied
    console.print(f"report: {report}", markup=False, highlight=False, soft_wrap=True)


def add_closing_arguments(parser: argparse.ArgumentParser) -> None:
    """What `compare` and `report` share for when they finish."""
    parser.add_argument("--json", action="store_true",
                        help="print the summary table and the three answers as one JSON "
                             "document on stdout (nothing else goes to stdout)")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also export every stored run to <results>/tensorboard "
                             "(as `export --format tensorboard`)")


def export_tensorboard_to(results: Path, quiet_stdout: bool) -> None:
    """`--tensorboard`: the export, its one line on stderr when stdout is JSON."""
    from benchmarks.report.export import export_tensorboard_checked

    folder = results / "tensorboard"
    count = export_tensorboard_checked(results / "runs", folder)
    print(f"tensorboard: {count} runs -> {folder} (view: tensorboard --logdir {folder})",
          file=sys.stderr if quiet_stdout else sys.stdout)

