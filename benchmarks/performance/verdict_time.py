"""Time to verdict: what the finding's matrix and the paper protocol cost a user, with the
chosen (tuned) modes and out of the box.

Two sources, both read by `python -m benchmarks performance`:

* stored: the finding result's own clock (`results/findings/augmentation.json`: `run_time_s`
  over the cells with records) and the records of the 128-px paper protocol's baseline runs
  (the paper profile's input size, variant and epochs), each with the modes it ran in;
* measured (`--verdict-cells N`): N seeds per framework of the finding's 64-px cell (random
  split, full frame, baseline) and of the paper's 128-px baseline cell, each trained for the
  suite profile's `verdict_epochs` three ways, through `benchmarks.cli.compare.run_matrix` into a
  folder of their own, matrix by matrix, back to back:
  - modes off: every tuned mode off (process modes forced off), every core given to one
    run (intra-op threads), one run at a time;
  - out of the box: the same, but each framework's modes as it sets them itself on this
    machine, asked of the framework (`envs.framework_defaults`: a framework may turn a mode on
    by itself on some CPUs). On a CPU where the two coincide, their cells are
    the same runs;
  - tuned: as the matrix is run, in the chosen modes with the profile's threads per run and
    as many runs at once as the cores allow (`--jobs`, two on two cores, one thread each).
  - tuned in bf16: the same as tuned with bf16 (`mixed_precision`) on for every framework
    whose bf16-vs-float32 accuracy check passed (benchmarks/matrix/mode_guard.py) on a CPU with
    native bf16; absent otherwise. The findings' protocols stay in float32 (the published
    precision, and the precision of their committed records), so this is what a user gains by
    opting in, reported beside the judged figure.
  The figure is the ratio of the matrix's training seconds per epoch, summed over its cells
  (what its wall time scales with); a run that shared the cores with k - 1 others counts
  1/k of its seconds, since the matrix advances k runs in that time. The judged ratio is out
  of the box over tuned; modes off over tuned is reported beside it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from benchmarks.findings.cells import load_finding, matrix_profile, selection_from
from benchmarks.matrix import mode_guard
from benchmarks.matrix.build import apply_mode_flags
from benchmarks.matrix.cells import Cell, expand, load_matrix_profile
from benchmarks.matrix.envs import framework_defaults
from benchmarks.matrix.records import is_baseline_cnn
from benchmarks.matrix.runner import run_matrix
from common_data.run.config import Mode
from common_data.run.cpu import bf16_cpu_problem

FINDING_RESULT = "findings/augmentation.json"  # the schedule64 finding, under results/
FINDING_PROFILE = "schedule64"
# the settings each matrix runs in, in this order; the first two give every core to one run
SETTINGS = ("modes_off", "out_of_box", "tuned", "tuned_bf16")
TUNED = ("tuned", "tuned_bf16")  # the settings that run as the matrix does, side by side
# every tuned mode off, whatever the profiles' [framework.*.mode] tables choose
MODES_OFF = [f"{field.name}=false" for field in dataclasses.fields(Mode)]


def stored(results: Path) -> dict[str, Any]:
    """The finding's time to verdict and the paper protocol's per-seed run times, from what
    the results folder already holds."""
    return {"finding": _stored_finding(results / FINDING_RESULT),
            "paper": paper_runs(_records(results / "runs"))}


def _stored_finding(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    result = json.loads(path.read_text(encoding="utf-8"))
    protocol = result.get("protocol", {})
    return {"source": str(path), "profile": result.get("profile"),
            "protocol_label": result.get("protocol_label"),
            "run_time_s": result.get("run_time_s"), "cells": result.get("cells"),
            "modes": {fw: table.get("mode", {})
                      for fw, table in protocol.get("framework", {}).items()}}


def _records(folder: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return records


def paper_runs(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per finished baseline run of the paper protocol (its input size, epochs, split
    and HUD mode, so a probe at the same size is not counted): framework, seed, modes, run
    seconds (the record's total_s) and concurrent runs."""
    profile = load_matrix_profile("paper")
    paper = profile["run"]
    rows = []
    for r in records:
        config = r.get("config") or {}
        if (r.get("status") != "ok" or config.get("variant") != "baseline"
                or config.get("image_size") != paper["image_size"]
                or config.get("epochs") != paper["epochs"]
                or config.get("split", "random") not in profile["splits"]
                or config.get("hud", "full") not in profile["hud"]
                or not is_baseline_cnn(config)):
            continue
        timing = r.get("timing") or {}
        rows.append({"framework": config["framework"], "seed": config.get("seed"),
                     "dataset": Path(str(config.get("data", "?"))).name,
                     "modes": mode_text(config.get("mode", {})),
                     "threads": config.get("threads"),
                     "concurrent_runs": (r.get("environment") or {}).get("concurrent_runs"),
                     "run_s": timing.get("total_s"), "epochs": len(r.get("history", []))})
    return sorted(rows, key=lambda row: (row["framework"], row["seed"] or 0))


def mode_text(mode: Mapping[str, bool]) -> str:
    """The modes a run switched on, or 'default'."""
    return ", ".join(key for key, on in sorted(mode.items()) if on) or "default"


def bf16_frameworks(frameworks: Iterable[str]) -> list[str]:
    """The frameworks whose bf16 check passed, on a CPU with native bf16 (none elsewhere)."""
    if bf16_cpu_problem("bf16") is not None:
        return []
    return [fw for fw in frameworks if mode_guard.check_status(fw) == "passed"]


def verdict_cells(n_seeds: int, data: str, epochs: int, frameworks: list[str],
                  cores: int | None = None,
                  defaults: Mapping[str, Mapping[str, bool]] | None = None,
                  bf16: Iterable[str] | None = None,
                  ) -> list[tuple[str, str, Cell]]:
    """(matrix, setting, cell) for `n_seeds` seeds per framework of each matrix's cell, in
    each of SETTINGS, matrix by matrix. `defaults` (framework -> the modes it turns on by
    itself here) is asked of the frameworks' envs when not given; `bf16` (the frameworks
    whose tuned_bf16 cells run) is `bf16_frameworks` when not given."""
    cores = cores or os.cpu_count() or 1
    if defaults is None:
        defaults = {fw: framework_defaults(fw) for fw in frameworks}
    own = [f"{key}={str(on).lower()}" for fw in frameworks for key, on in defaults[fw].items()]
    flags = {"modes_off": MODES_OFF, "out_of_box": [*MODES_OFF, *own]}
    bf16 = list(bf16_frameworks(frameworks) if bf16 is None else bf16)
    matrices = {"finding": _finding_profile(data, frameworks),
                "paper": _paper_profile(data, frameworks)}
    out: list[tuple[str, str, Cell]] = []
    for name, profile in matrices.items():
        profile["seeds"] = list(range(n_seeds))
        profile["run"].update(epochs=epochs, save_weights=False, data=data)
        for setting in SETTINGS:
            variant = copy.deepcopy(profile)
            if setting in flags:
                variant = apply_mode_flags(variant, list(flags[setting]))
                variant["run"]["threads"] = cores
            if setting == "tuned_bf16":
                if not bf16:
                    continue
                variant["frameworks"] = [fw for fw in variant["frameworks"] if fw in bf16]
                for fw in variant["frameworks"]:
                    tables = variant.setdefault("framework", {}).setdefault(fw, {})
                    tables.setdefault("mode", {})["mixed_precision"] = True
            out += [(name, setting, cell) for cell in expand(variant)]
    return out


def tuned_jobs(cells: list[tuple[str, str, Cell]]) -> int:
    """Runs at once for the tuned cells: as many as their threads per run fit in the cores
    (the other settings' thread count: they are given every core)."""
    cores = max((c.config["threads"] for _, s, c in cells if s not in TUNED),
                default=os.cpu_count() or 1)
    threads = max((c.config["threads"] for _, s, c in cells if s in TUNED), default=1)
    return max(1, cores // threads)


def _finding_profile(data: str, frameworks: list[str]) -> dict[str, Any]:
    finding = load_finding()
    selection = selection_from(finding, FINDING_PROFILE, data, frameworks=frameworks,
                               variants=("baseline",), probe=False)
    return dict(matrix_profile(finding, selection), splits=["random"], hud=["full"])


def _paper_profile(data: str, frameworks: list[str]) -> dict[str, Any]:
    profile = load_matrix_profile("paper")
    profile.pop("jobs", None)
    return dict(profile, frameworks=frameworks, variants=["baseline"], splits=["random"],
                hud=["full"])


def run_verdict_cells(cells: list[tuple[str, str, Cell]], folder: Path, command: str,
                      force: bool = True) -> None:
    """Matrix by matrix, setting by setting (SETTINGS' order): the cells given every core one
    at a time, the tuned cells `tuned_jobs` at a time, under the results lock of their own
    folder. A cell two settings share runs once; unforced, only the cells without a record
    run."""
    jobs = tuned_jobs(cells)
    done: set[str] = set()
    for matrix in dict.fromkeys(name for name, _, _ in cells):
        for setting in SETTINGS:
            batch = [cell for name, s, cell in cells
                     if (name, s) == (matrix, setting) and cell.run_id not in done]
            if not batch:
                continue
            done.update(cell.run_id for cell in batch)
            at_once = jobs if setting in TUNED else 1
            # never more jobs than cells: a run's record says how many ran beside it
            run_matrix(batch, folder, force=force, command=command,
                       jobs=max(1, min(at_once, len(batch))))


def measured(cells: list[tuple[str, str, Cell]], folder: Path,
             epochs: int) -> dict[str, Any] | None:
    """Per matrix: training seconds per epoch summed over its cells in each setting, the
    ratios out of the box over tuned (`ratio`, the judged one) and modes off over tuned
    (`ratio_modes_off`), and every cell's figure; None when nothing ran."""
    by_matrix: dict[str, dict[str, Any]] = {}
    for name, setting, cell in cells:
        path = folder / "runs" / f"{cell.run_id}.json"
        if not path.is_file():
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        epochs_run = len(record.get("history", []))
        if record.get("status") != "ok" or not epochs_run:
            continue
        per_epoch = float(record["timing"]["train_s"]) / epochs_run
        at_once = (record.get("environment") or {}).get("concurrent_runs") or 1
        entry = by_matrix.setdefault(name, {**{f"{s}_s": 0.0 for s in SETTINGS}, "cells": []})
        entry[f"{setting}_s"] += per_epoch / at_once
        entry["cells"].append({"framework": cell.framework, "seed": cell.seed,
                               "setting": setting, "modes": mode_text(cell.config["mode"]),
                               "image_size": cell.config["image_size"],
                               "threads": cell.config["threads"], "runs_at_once": at_once,
                               "train_s_per_epoch": per_epoch, "run_id": cell.run_id})
    if not by_matrix:
        return None
    for entry in by_matrix.values():
        tuned = entry["tuned_s"]
        entry["ratio"] = entry["out_of_box_s"] / tuned if tuned else None
        entry["ratio_modes_off"] = entry["modes_off_s"] / tuned if tuned else None
        # bf16 ran only for the frameworks whose check passed; the others count as tuned
        in_bf16 = {c["framework"] for c in entry["cells"] if c["setting"] == "tuned_bf16"}
        bf16_s = entry["tuned_bf16_s"] + sum(
            c["train_s_per_epoch"] / c["runs_at_once"] for c in entry["cells"]
            if c["setting"] == "tuned" and c["framework"] not in in_bf16)
        entry["bf16_frameworks"] = sorted(in_bf16)
        entry["ratio_bf16"] = entry["out_of_box_s"] / bf16_s if in_bf16 and bf16_s else None
    return {"epochs": epochs, "folder": str(folder), "matrices": by_matrix}


def speedup(figures: Mapping[str, Any]) -> dict[str, float | None]:
    """The judged figure: out-of-the-box over tuned seconds per epoch, per matrix."""
    runs = (figures.get("time_to_verdict") or {}).get("measured") or {}
    return {name: entry["ratio"] for name, entry in runs.get("matrices", {}).items()}
