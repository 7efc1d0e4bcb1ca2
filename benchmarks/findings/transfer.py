"""Accuracy by palette: how a model trained on some palettes does on validation frames of the
palettes it never saw, beside those it trained on (the palette finding's leave-one-palette-out
table).

Every arm is scored on the same validation frames, every palette; an arm that names
`train_palettes` splits them into the frames of its palettes ("in-palette") and the rest
("held-out"). The arm that trains on every palette in colour, where the finding has one, is
scored on the same held-out frames too: the accuracy a model reaches on them when it has seen
their palette, so a drop on an unseen palette is not mistaken for those frames being harder.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.findings.cells import FindingSelection, arm_cells, arms_in
from benchmarks.matrix.cells import Cell
from benchmarks.matrix.records import load_predictions
from benchmarks.stats import seed_summary

Palettes = Callable[[dict[str, Any]], np.ndarray]   # record -> palette of each frame index


def _correct(record: dict[str, Any], palettes: Palettes) -> tuple[np.ndarray, np.ndarray] | None:
    """(palette, correct) of each validation frame of a finished run with readable
    predictions."""
    stored = load_predictions(record)
    if stored is None:
        return None
    hits = stored["proba"].argmax(axis=1) == stored["y_true"]
    return palettes(record)[stored["val_indices"]], hits


def _runs(cells: list[Cell], records: dict[str, dict[str, Any]]
          ) -> dict[tuple[str, str, str, int], dict[str, Any]]:
    return {(c.framework, c.split, c.hud, c.seed): records[c.run_id] for c in cells
            if c.run_id in records and records[c.run_id]["status"] == "ok"}


def transfer_rows(finding: dict[str, Any], selection: FindingSelection,
                  records: dict[str, dict[str, Any]], palettes: Palettes) -> list[dict[str, Any]]:
    """One row per arm naming `train_palettes` x framework x split x HUD, over seeds."""
    arms = arms_in(finding, selection)
    cells = {arm.name: arm_cells(finding, selection, arm) for arm in arms}
    reference = next((a.name for a in arms if cells[a.name]
                      and not cells[a.name][0].config["train_palettes"]
                      and cells[a.name][0].config["colour"] == "rgb"), None)
    seen_all = _runs(cells[reference], records) if reference else {}
    rows = []
    for arm in arms:
        if not cells[arm.name] or not cells[arm.name][0].config["train_palettes"]:
            continue
        trained = cells[arm.name][0].config["train_palettes"]
        by_key: dict[tuple[str, str, str], dict[str, list[float]]] = {}
        held: dict[tuple[str, str, str], set[str]] = {}
        for (framework, split, hud, seed), record in sorted(_runs(cells[arm.name],
                                                                  records).items()):
            scored = _correct(record, palettes)
            if scored is None:
                continue
            frame_palette, hits = scored
            inside = np.isin(frame_palette, trained)
            if inside.all() or not inside.any():
                continue
            key = (framework, split, hud)
            held.setdefault(key, set()).update(frame_palette[~inside].tolist())
            acc = by_key.setdefault(key, {"in": [], "out": [], "ref": []})
            acc["in"].append(float(hits[inside].mean()))
            acc["out"].append(float(hits[~inside].mean()))
            other = seen_all.get((framework, split, hud, seed))
            scored_ref = _correct(other, palettes) if other else None
            if scored_ref is not None and np.array_equal(scored_ref[0], frame_palette):
                acc["ref"].append(float(scored_ref[1][~inside].mean()))
        for (framework, split, hud), acc in by_key.items():
            rows.append({
                "arm": arm.name, "framework": framework, "split": split, "hud": hud,
                "train_palettes": list(trained), "held_out": sorted(held[(framework, split, hud)]),
                "n_seeds": len(acc["in"]),
                "in_palette_accuracy": seed_summary(acc["in"]),
                "held_out_accuracy": seed_summary(acc["out"]),
                "reference_arm": reference,
                # the all-palettes arm on the same held-out frames, where every seed has it
                "reference_on_held_out": (seed_summary(acc["ref"])
                                          if len(acc["ref"]) == len(acc["in"]) else None),
            })
    return rows
