"""A finding's verdicts from the stored records: one per comparison x framework x split x HUD
mode, the HUD-only probe, the integrity checks against a clean pipeline, and the regression
check against the verdicts the finding file records."""

from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.findings.cells import FindingSelection, arm_cells, arms_in
from benchmarks.findings.convergence import still_improving
from benchmarks.findings.regression import (
    partial_notes,
    probe_notes,
    regression_failures,
    threshold_flips,
)
from benchmarks.findings.sentences import (
    comparison_key,
    protocol_departures,
    protocol_label,
    sentences,
)
from benchmarks.findings.spec import VERDICTS, Comparison
from benchmarks.findings.transfer import transfer_rows
from benchmarks.matrix.cells import Cell
from benchmarks.matrix.records import load_predictions, load_records, majority_rate
from benchmarks.matrix.relocate import records_here
from benchmarks.stats import mcnemar, mean_ci, paired_t_test, seed_summary
from common_data.data.cache import Images
from common_data.data.training_set import frame_palettes
from common_data.regimes import full_frame, regime_order
from common_data.run.config import RunConfig, load_run_config
from common_data.run.inputs import load_run_data, run_images, validation_digest
from common_data.run.metrics import ensemble_proba

# How the HUD-only probe stands against the full frame (same split, same seeds): "at_or_above"
# when it comes within WITHIN_PP of the full frame or beats it. The resolution study in the
# report uses the same margin, so the two never disagree on what "close" means.
WITHIN_PP = 3.0
PROBE_RELATIONS = ("at_or_above", "below")


def verdict(delta: float, low: float, high: float, min_effect: float,
            direction: str = "decrease") -> str:
    """'reproduced' when the change goes the way the claim says by at least `min_effect` and
    its CI excludes zero, 'reversed' when it goes the other way so, else 'not reproduced'."""
    if direction == "increase":
        delta, low, high = -delta, -high, -low
    reproduced, not_reproduced, reversed_ = VERDICTS
    if delta <= -min_effect and high < 0:
        return reproduced
    if delta >= min_effect and low > 0:
        return reversed_
    return not_reproduced


def _ensemble_predictions(records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray] | None:
    stored = [load_predictions(r) for r in records]
    if not stored or any(p is None for p in stored):
        return None
    proba = ensemble_proba([p["proba"] for p in stored])
    return stored[0]["y_true"], proba.argmax(axis=1)


def _by_seed(cells: list[Cell], records: dict[str, dict[str, Any]],
             key: tuple[str, str, str]) -> dict[int, dict[str, Any]]:
    return {c.seed: records[c.run_id] for c in cells
            if (c.framework, c.split, c.hud) == key and c.run_id in records
            and records[c.run_id]["status"] == "ok"}


def verdict_rows(
    finding: dict[str, Any], selection: FindingSelection, records: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One verdict per comparison x framework x split x HUD, from the seed-paired accuracy
    differences between the two arms (`arm` minus `reference`)."""
    arms = {arm.name: arm for arm in arms_in(finding, selection)}
    cells = {name: arm_cells(finding, selection, arm) for name, arm in arms.items()}
    rows = []
    for comparison in finding["comparisons"]:
        if comparison.arm not in arms or comparison.against not in arms:
            continue
        keys = sorted({(c.framework, c.split, c.hud) for c in cells[comparison.arm]},
                      key=lambda k: (*regime_order(k[1], k[2]), k[0]))
        for key in keys:
            row = verdict_row(comparison, key, _by_seed(cells[comparison.against], records, key),
                               _by_seed(cells[comparison.arm], records, key))
            if row:
                rows.append(row)
    return rows


def verdict_row(comparison: Comparison, key: tuple[str, str, str],
                 reference: dict[int, dict[str, Any]],
                 arm: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    seeds = sorted(set(reference) & set(arm))
    if not seeds:
        return None
    ref = [reference[s]["metrics"]["accuracy"] for s in seeds]
    alt = [arm[s]["metrics"]["accuracy"] for s in seeds]
    delta, _, low, high = mean_ci([a - b for a, b in zip(alt, ref, strict=True)])
    test = None
    ensembles = (_ensemble_predictions([reference[s] for s in seeds]),
                 _ensemble_predictions([arm[s] for s in seeds]))
    if all(ensembles) and np.array_equal(ensembles[0][0], ensembles[1][0]):
        test = mcnemar(ensembles[0][0], ensembles[0][1], ensembles[1][1])
    framework, split, hud = key
    majority = majority_rate(reference[seeds[0]])  # every arm is scored on one validation set
    return {
        "comparison": {"arm": comparison.arm, "reference": comparison.against,
                       "direction": comparison.direction, "min_effect": comparison.min_effect},
        "framework": framework,
        "split": split,
        "hud": hud,
        "n_seeds": len(seeds),
        "reference_accuracy": seed_summary(ref),
        "arm_accuracy": seed_summary(alt),
        "delta_accuracy": delta,
        "delta_ci95": [low, high] if len(seeds) > 1 else [None, None],  # no spread: null
        "p_value_seeds": paired_t_test(alt, ref) if len(seeds) > 1 else None,
        "mcnemar_ensembles": test,
        "verdict": verdict(delta, low, high, comparison.min_effect, comparison.direction),
        "majority_rate": majority,
        # models that learned less than the minimum effect above chance cannot show the change
        # the claim is about: the verdict stands, but beside this flag it says little
        "near_majority": majority is not None
        and float(np.mean(ref)) - majority < comparison.min_effect,
        "still_improving": {
            "reference": sum(still_improving(reference[s]["history"]) for s in seeds),
            "arm": sum(still_improving(arm[s]["history"]) for s in seeds)},
        "_records": [r for s in seeds for r in (reference[s], arm[s])],
    }


def _ok(cells: list[Cell], records: dict[str, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Seed -> record, for the cells that finished."""
    return {c.seed: records[c.run_id] for c in cells
            if c.run_id in records and records[c.run_id]["status"] == "ok"}


def probe_rows(
    probe: list[Cell], grid: list[Cell], records: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Accuracy of a model that sees only the HUD (face blanked), per framework, beside the
    full-frame baseline on the same split and seeds where the grid has it."""
    out: dict[str, Any] = {}
    for framework in sorted({c.framework for c in probe}):
        cells = [c for c in probe if c.framework == framework]
        done = _ok(cells, records)
        if not done:
            continue
        # from the record's metrics, not its predictions file, which may be unreadable
        first = next(iter(done.values()))
        support = [row["support"] for row in first["metrics"]["per_class"].values()]
        row: dict[str, Any] = {
            "accuracy": seed_summary([r["metrics"]["accuracy"] for r in done.values()]),
            "seeds": list(done),
            "n_seeds": len(done),
            "majority_class_rate": float(max(support) / sum(support)),
        }
        full = _ok([c for c in grid if (c.framework, c.split, c.hud, c.variant)
                    == (framework, cells[0].split, full_frame(), cells[0].variant)], records)
        seeds = sorted(set(done) & set(full))
        if seeds:
            gaps = [100 * (done[s]["metrics"]["accuracy"] - full[s]["metrics"]["accuracy"])
                    for s in seeds]
            gap = float(np.mean(gaps))
            row.update(
                full_frame=seed_summary([full[s]["metrics"]["accuracy"] for s in seeds]),
                probe_minus_full_pp=gap,
                relation="at_or_above" if gap >= -WITHIN_PP else "below",
            )
        out[framework] = row
    return out


class CleanPipeline:
    """What common_data itself makes of the data: the reference for the integrity checks.

    A record whose split hash or validation-input digest differs from these ran on an altered
    split (the `burst_leak` fault) or was scored on altered frames (`augment_val`), or the
    pipeline has a bug; either way its verdict cannot be trusted.
    """

    def __init__(self, data: str) -> None:
        self.data = data
        self._images: dict[tuple[int, str, bool], Images] = {}

    def _decoded(self, record: dict[str, Any]) -> tuple[RunConfig, Images]:
        config = load_run_config({**record["config"], "data": self.data, "fault": "none"})
        key = (config.image_size, config.hud, config.skip_bad)
        if key not in self._images:  # one decode serves every record at these settings
            self._images[key] = run_images(config)
        return config, self._images[key]

    def palettes(self, record: dict[str, Any]) -> np.ndarray:
        """The palette folder of every frame the record's indices point into."""
        images = self._decoded(record)[1]
        return frame_palettes(images, np.arange(len(images)))

    def check(self, record: dict[str, Any]) -> tuple[bool, bool | None]:
        """(split intact, validation inputs intact — None where the record has no digest)."""
        config, images = self._decoded(record)
        images, split = load_run_data(config, images)
        split_ok = record["data"]["split_hash"] == split.hash
        digest = record["data"].get("val_digest")
        if digest is None:
            return split_ok, None
        return split_ok, digest == validation_digest(images, split.val, config)


def expected_key(finding: dict[str, Any], row: dict[str, Any]) -> str:
    """A verdict's key among the recorded ones: framework.split.hud, led by the comparison's
    key where the finding has more than one."""
    key = f"{row['framework']}.{row['split']}.{row['hud']}"
    return key if len(finding["comparisons"]) == 1 else f"{comparison_key(row)}.{key}"


def expected_dataset_key(data: str) -> str:
    return "synthetic" if data == "synthetic" else Path(data).name


def evaluate_finding(
    finding: dict[str, Any],
    selection: FindingSelection,
    grid: list[Cell],
    probe: list[Cell],
    results: Path,
    command: str,
) -> dict[str, Any]:
    records = records_here(load_records(results / "runs"), selection.data, selection.card)
    rows = verdict_rows(finding, selection, records)
    protocol = finding["protocol"][selection.protocol]
    clean = CleanPipeline(selection.data)
    label = expected_dataset_key(selection.data)
    expected = finding.get("expected", {}).get(selection.protocol, {}).get(label, {})
    for row in rows:
        checks = [clean.check(record) for record in row.pop("_records")]
        row["split_intact"] = all(split_ok for split_ok, _ in checks)
        digests = [val_ok for _, val_ok in checks if val_ok is not None]
        row["validation_intact"] = all(digests) if digests else None
        row["expected_key"] = expected_key(finding, row)
        row["expected"] = expected.get(row["expected_key"])
    probes = probe_rows(probe, grid, records)
    first = next((records[c.run_id] for c in grid if records.get(c.run_id, {}).get("data")), None)
    done = [records[c.run_id] for c in grid + probe if c.run_id in records]
    result = {
        "finding": finding["id"],
        "claim": " ".join(finding["claim"].split()),
        "published": finding["published"],
        "source": finding["source"],
        "min_effect": finding["min_effect"],
        "profile": selection.protocol,
        "protocol": protocol,
        "selection": asdict(selection),
        "command": command,
        "data": {
            "label": label,
            "dataset": selection.data,
            "dataset_hash": None if first is None else first["data"]["dataset_hash"],
        },
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "verdicts": rows,
        "hud_only_probe": probes,
        "summary": sentences(rows, probes, protocol, {
            c.key: c.effect or f"{c.arm} (against {c.against})"
            for c in finding["comparisons"]}),
        # time to verdict: what this matrix costs a user, from the runs' own clocks
        "cells": {"total": len(grid) + len(probe), "with_records": len(done)},
        "run_time_s": sum((r.get("timing") or {}).get("total_s") or 0.0 for r in done),
        # records made on several CPU models: their float32 kernels round differently
        "cpus": dict(sorted(Counter(str((r.get("environment") or {}).get("cpu", "unknown"))
                                    for r in done).items())),
        "protocol_label": protocol_label(selection.protocol, protocol, len(selection.seeds)),
        "published_protocol": not protocol_departures(protocol),
        "expected_recorded": bool(expected),
        "expected_probe": (finding.get("expected_probe", {}).get(selection.protocol, {})
                           .get(label, {})),
    }
    transfer = transfer_rows(finding, selection, records, clean.palettes)
    if transfer:  # findings whose arms all train on every palette have no such table
        result["palette_transfer"] = transfer
    result["regression_failures"] = regression_failures(
        result, finding["baseline_tolerance"], finding["effect_tolerance"])
    result["threshold_flips"] = threshold_flips(result, finding["effect_tolerance"])
    result["probe_notes"] = probe_notes(result)
    result["unchecked"] = partial_notes(result)
    return result


def expected_toml(result: dict[str, Any]) -> str:
    """The observed verdicts as the TOML table to paste into the finding file."""
    lines = [f'[expected.{result["profile"]}."{result["data"]["label"]}"]']
    for row in result["verdicts"]:
        lines.append(
            f'"{row["expected_key"]}" = {{ verdict = "{row["verdict"]}", '
            f"reference_accuracy = {row['reference_accuracy']['mean']:.4f}, "
            f"delta = {row['delta_accuracy']:.4f} }}"
        )
    if result["hud_only_probe"]:
        lines.append(f'[expected_probe.{result["profile"]}."{result["data"]["label"]}"]')
        lines += [f"{framework} = {{ seeds = {probe['seeds']}, accuracy = ["
                  + ", ".join(f"{a:.4f}" for a in probe["accuracy"]["per_seed"]) + "] }"
                  for framework, probe in result["hud_only_probe"].items()]
    return "\n".join(lines)


