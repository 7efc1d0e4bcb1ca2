"""The resolution study: at which input size do the data's traps show?

The reduced 32x32, 10-epoch protocol left a model that sees only the HUD near the majority
class, which hid the shortcut that explains a random-split accuracy. The study trains the
baseline (random split, one seed, the published 20 epochs) at several sizes with the full
frame and with the HUD only, and reports the smallest size at which the HUD-only probe comes
within `WITHIN_PP` of the full frame, beside the finding's own input size (and why it
differs, when it does). It is computed from stored records, so the report regenerates it;
the runs are ordinary matrix cells (`compare --profile paper --variants baseline --seeds 0
--hud full,hud_only --image-size N`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from benchmarks.findings.protocol import published_protocol
from benchmarks.findings.verdicts import WITHIN_PP
from benchmarks.markdown import md_text
from benchmarks.matrix.records import is_baseline_cnn, is_bf16, setting_of, training_set_note
from benchmarks.report import figures
from common_data.frameworks import FRAMEWORK_NAMES
from common_data.regimes import OVERLAYS, face_blanked, full_frame

FULL, PROBE = full_frame(), face_blanked()  # the full frame beside the HUD-only probe
HUDS = (FULL, PROBE)

Table = dict[tuple[str, str], dict[int, float]]  # (framework, hud) -> {size: accuracy}


def study_tables(records: list[dict[str, Any]]) -> dict[str, Table]:
    """Per dataset: the baseline CNN's seed-0 accuracies on the random split at the published epoch
    count with shared dropout masks, by framework, HUD mode and input size."""
    epochs = published_protocol().baseline_epochs
    tables: dict[str, Table] = {}
    for record in records:
        config = record["config"]
        if (record.get("status") != "ok" or config["variant"] != "baseline"
                or config["split"] != "random" or config["hud"] not in HUDS
                or config["seed"] != 0 or config["epochs"] != epochs
                or not is_baseline_cnn(config) or is_bf16(config) or training_set_note(config)
                or config.get("dropout", "framework") != "shared"):
            continue
        table = tables.setdefault(setting_of(record).data_label, {})
        points = table.setdefault((record["framework"], config["hud"]), {})
        points[int(config["image_size"])] = float(record["metrics"]["accuracy"])
    # a study needs both modes at two sizes or more for some framework
    return {name: table for name, table in tables.items()
            if any(len(set(table.get((fw, FULL), {})) & set(table.get((fw, PROBE), {})))
                   >= 2 for fw in FRAMEWORK_NAMES)}


def chosen_size(table: Table) -> int | None:
    """The smallest size at which, for every framework measured there, the HUD-only probe
    is within WITHIN_PP of the full frame (or above it)."""
    sizes = sorted({s for points in table.values() for s in points})
    for size in sizes:
        gaps = [100 * (table[(fw, FULL)][size] - table[(fw, PROBE)][size])
                for fw in FRAMEWORK_NAMES
                if size in table.get((fw, FULL), {}) and size in table.get((fw, PROBE), {})]
        if gaps and max(gaps) <= WITHIN_PP:
            return size
    return None


def finding_note(table: Table, size: int | None, finding: tuple[str, int] | None) -> str:
    """Why the finding runs at its own input size when the rule alone would pick a smaller
    one: the full frame's accuracy at both sizes, for each framework measured at both."""
    if finding is None or size is None or finding[1] == size:
        return ""
    profile, chosen = finding
    both = [(fw, table[(fw, FULL)]) for fw in FRAMEWORK_NAMES
            if {size, chosen} <= set(table.get((fw, FULL), {}))]
    if not both:
        return f"The finding's protocol `{profile}` runs at {chosen}x{chosen}."
    figures = "; ".join(f"{FRAMEWORK_NAMES[fw]} {100 * points[size]:.1f} % at {size}x{size}, "
                        f"{100 * points[chosen]:.1f} % at {chosen}x{chosen}"
                        for fw, points in both)
    return (f"The finding's protocol `{profile}` runs at {chosen}x{chosen}, not {size}x{size}: "
            f"the full frame reaches {figures}, so the smaller input would test the finding "
            "on a much weaker model.")


def section(records: list[dict[str, Any]], fig_dir: Path, out_dir: Path,
            finding: tuple[str, int] | None = None) -> list[str]:
    """The report's resolution-study section (empty without study runs); `finding` is the
    finding's protocol name and input size, when its result is stored."""
    lines: list[str] = []
    for dataset, table in study_tables(records).items():
        sizes = sorted({s for points in table.values() for s in points})
        columns = [(fw, hud) for fw in FRAMEWORK_NAMES for hud in HUDS if (fw, hud) in table]
        head = [f"{FRAMEWORK_NAMES[fw]} {OVERLAYS[hud].name}" for fw, hud in columns]
        lines += [
            f"### Resolution study: {md_text(dataset)}",
            "",
            "Baseline, random split, seed 0, the published 20 epochs, shared dropout masks; "
            "validation accuracy (%). *HUD only*: the face blanked, only the burned-in "
            "overlay left (date and time, spot temperature, colour bar).",
            "",
            "| input size | " + " | ".join(head) + " |",
            "|---|" + "---|" * len(head),
        ]
        for size in sizes:
            cells = [f"{100 * table[c][size]:.2f}" if size in table[c] else "not run"
                     for c in columns]
            lines.append(f"| {size}x{size} | " + " | ".join(cells) + " |")
        size = chosen_size(table)
        verdict = (f"The smallest input at which the HUD-only probe comes within "
                   f"{WITHIN_PP:g} pp of the full frame (or beats it) is **{size}x{size}**."
                   if size else
                   f"At no measured size does the HUD-only probe come within {WITHIN_PP:g} pp "
                   "of the full frame.")
        # a file name and a Markdown link target: only characters safe in both
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", dataset.replace("(", "").replace(")", ""))
        chart = figures.resolution_chart(table, fig_dir / f"resolution-{slug}.png")
        note = finding_note(table, size, finding)
        lines += ["", verdict + (f" {note}" if note else ""), "",
                  f"![resolution study]({chart.relative_to(out_dir).as_posix()})", ""]
    return ["## Resolution study", "", *lines] if lines else []
