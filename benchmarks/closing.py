"""What `compare` prints when its matrix ends: one table, three answers, the report's path.

A user who ran the main job should not have to open a file to learn what it found; the
table and sentences are computed from the very records the report reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks.data_quality import load_reports
from benchmarks.figures import regime_label
from benchmarks.records import group_rows, load_records
from benchmarks.stats import mean_ci
from benchmarks.summary import answers
from common_data.frameworks import FRAMEWORK_NAMES


def _majority_text(row: Any) -> str:
    found = row.majority()
    return f"{100 * found[0]:.1f}" if found else ""


def print_closing(console: Console, results_runs: Any, run_ids: list[str], report: Any,
                  min_effect: float) -> None:
    """Summarise the cells `run_ids` (those of the matrix just run) from their records."""
    wanted = set(run_ids)
    records = [r for r in load_records(results_runs) if r["run_id"] in wanted]
    rows = [row for row in group_rows(records) if row.ok]
    if not rows:
        print(f"report: {report}")
        return
    table = Table(title="The matrix just run: validation accuracy (%), mean [95 % CI] over seeds")
    numbers = ("seeds", "accuracy", "majority class")
    for column in ("data", "regime", "framework", "variant", *numbers):
        table.add_column(column, justify="right" if column in numbers else "left")
    for row in sorted(rows, key=lambda r: (r.setting.data_label, r.setting.split != "random",
                                           r.setting.hud, r.variant != "baseline", r.framework)):
        values = row.values("accuracy")
        mean, _, low, high = mean_ci(values)
        interval = "" if len(values) < 2 or np.isnan(low) else \
            f" [{100 * low:.1f}, {100 * high:.1f}]"
        table.add_row(f"{row.setting.data_label}, {row.setting.image_size}px",
                      regime_label(row.setting.split, row.setting.hud),
                      FRAMEWORK_NAMES[row.framework], row.variant, str(len(values)),
                      f"{100 * mean:.1f}{interval}", _majority_text(row))
    console.print(table)
    # plain prints: rich would wrap sentences and paths at the terminal's width, and a path
    # broken over two lines cannot be copied
    audits = load_reports(Path(results_runs).parent)
    for text in answers(rows, min_effect, audits):
        print(text.replace("**", ""))
    print(f"report: {report}")
