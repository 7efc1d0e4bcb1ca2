"""`python -m benchmarks finding`: re-test the published augmentation finding.

The finding is data (`findings/augmentation.toml`): the claim, the published numbers, the
regimes to test and the verdicts recorded from a real run. This module turns it into harness
cells (so a run resumes like any other matrix), computes one verdict per framework x split x
HUD mode from the stored records, and writes `results/findings/augmentation.json`.
"""

import argparse
import sys
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import mode_guard
from benchmarks.compare import (
    DEFAULT_RESULTS,
    add_card_argument,
    add_jobs_argument,
    add_skip_bad_argument,
    card_settings,
    dataset_facts,
    parse_csv,
    parse_jobs,
    parse_seeds,
    resolve_data_flag,
    run_matrix,
)
from benchmarks.convergence import still_improving
from benchmarks.executors import executor_from
from benchmarks.finding_spec import FINDINGS_DIR, Arm, Comparison, load_finding_file
from benchmarks.lock import results_lock
from benchmarks.matrix import Cell, expand
from benchmarks.preflight import preflight
from benchmarks.published_protocol import published_protocol
from benchmarks.records import load_predictions, load_records
from benchmarks.resolution import WITHIN_PP
from benchmarks.stats import mcnemar, mean_ci, paired_t_test
from common_data.atomic import write_json_atomic
from common_data.data.faults import FAULTS
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORK_NAMES, FRAMEWORKS
from common_data.run.metrics import ensemble_proba

FINDING_PATH = FINDINGS_DIR / "augmentation.toml"
VARIANTS = ("baseline", "augmented")
# How the HUD-only probe stands against the full frame (same split, same seeds): "at_or_above"
# when it comes within the resolution study's WITHIN_PP of the full frame or beats it.
PROBE_RELATIONS = ("at_or_above", "below")


def finding_path(name_or_file: str) -> Path:
    """`--finding`: a name in benchmarks/findings/, or a path to a TOML file."""
    path = Path(name_or_file)
    if path.suffix != ".toml":
        path = FINDINGS_DIR / f"{name_or_file}.toml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in FINDINGS_DIR.glob("*.toml")))
        raise ConfigError(f"--finding {name_or_file!r}: no such finding file (expected one of "
                          f"{known}, or a path ending in .toml)")
    return path


def load_finding(path: Path = FINDING_PATH) -> dict[str, Any]:
    """The finding, checked (benchmarks/finding_spec.py), its protocols resolved against the
    published protocol; `min_effect` is its first comparison's, which the report's answers
    use."""
    finding = load_finding_file(path)
    finding["min_effect"] = finding["comparisons"][0].min_effect
    return finding


@dataclass(frozen=True)
class FindingSelection:
    """Which part of the finding's matrix to run (the regression suite runs slices of it)."""

    profile: str
    data: str
    frameworks: list[str]
    seeds: list[int]
    regimes: list[str]
    variants: tuple[str, ...] = VARIANTS   # the arms whose variant is one of these run
    probe: bool = True
    fault: str = "none"
    skip_bad: bool = False
    card: dict[str, str] = field(default_factory=dict)  # compare.card_settings of --card


def selection_from(
    finding: dict[str, Any], profile: str, data: str, **overrides: Any
) -> FindingSelection:
    """The finding's own matrix under `profile`, with any field overridden."""
    if profile not in finding["protocol"]:
        raise ConfigError(f"--protocol {profile!r}: expected one of "
                          f"{', '.join(finding['protocol'])}")
    matrix = finding["matrix"]
    mode_guard.refuse_unchecked(
        mode_guard.profile_choices(finding["protocol"][profile], matrix["frameworks"]),
        f"finding {finding['id']} [protocol.{profile}]")
    regimes = finding["protocol"][profile].get("regimes", matrix["regimes"])
    chosen = {k: v for k, v in overrides.items() if v is not None}
    for regime in chosen.get("regimes", []):
        if regime not in matrix["regimes"]:
            raise ConfigError(
                f"--regimes: unknown regime {regime!r} (expected: {', '.join(matrix['regimes'])})"
            )
    return FindingSelection(
        **{
            "profile": profile,
            "data": data,
            "frameworks": matrix["frameworks"],
            "seeds": matrix["seeds"],
            "regimes": regimes,
            **chosen,
        }
    )


def adapt_to_data(selection: FindingSelection) -> FindingSelection:
    """The finding's own regimes, fitted to what the dataset can support (as `compare` fits a
    profile's): without two capture sessions the grouped split (near-copies kept on one side)
    stands in for the session split, and without a declared overlay the masked and HUD-only
    regimes and the probe are dropped, since there is nothing to mask. Each change is named
    in one line on stderr."""
    n_sessions, overlay = dataset_facts(selection.data, **selection.card)
    regimes = selection.regimes
    if n_sessions < 2 and any(r.startswith("session.") for r in regimes):
        regimes = list(dict.fromkeys(
            "grouped." + r.split(".")[1] if r.startswith("session.") else r for r in regimes))
        print(f"note: {selection.data} has {n_sessions} capture sessions, so the finding's "
              "session regimes run on the grouped split (near-copies kept on one side)",
              file=sys.stderr)
    probe = selection.probe
    if not overlay and (probe or any(not r.endswith(".full") for r in regimes)):
        regimes = [r for r in regimes if r.endswith(".full")]
        probe = False
        print(f"note: the dataset card of {selection.data} declares no overlay, so the "
              "finding's masked and HUD-only regimes are skipped", file=sys.stderr)
    return replace(selection, regimes=regimes, probe=probe)


def matrix_profile(finding: dict[str, Any], selection: FindingSelection) -> dict[str, Any]:
    """The harness profile (benchmarks.matrix) of the finding's runs under `selection`, before
    each arm's own overrides."""
    protocol = finding["protocol"][selection.profile]
    augmented: dict[str, Any] = {"epochs": protocol["augmented_epochs"]}
    if protocol["early_stopping"]:
        augmented.update(published_protocol().augmented_schedule)
    return {
        "frameworks": selection.frameworks,
        "variants": list(selection.variants),
        "seeds": selection.seeds,
        "run": {
            "data": selection.data,
            "image_size": protocol["image_size"],
            "epochs": protocol["epochs"],
            "fault": selection.fault,
            "skip_bad": selection.skip_bad,
            "threads": protocol.get("threads", 2),
            "dropout": protocol.get("dropout", "shared"),
            **selection.card,
        },
        "variant": {"augmented": augmented},
        "framework": protocol.get("framework", {}),
    }


def arms_in(finding: dict[str, Any], selection: FindingSelection) -> list[Arm]:
    """The finding's arms that `selection` runs (`--variants` keeps those of its variants)."""
    return [arm for arm in finding["arms"] if arm.variant in selection.variants]


def arm_cells(finding: dict[str, Any], selection: FindingSelection,
              arm: Arm) -> list[Cell]:
    """One arm's grid: framework x seed x regime, the arm's variant and run overrides."""
    base = matrix_profile(finding, selection)
    base = dict(base, variants=[arm.variant], run={**base["run"], **arm.run})
    cells = []
    for regime in selection.regimes:
        split, hud = regime.split(".")
        cells += expand(dict(base, splits=[split], hud=[hud]))
    return cells


def finding_cells(
    finding: dict[str, Any], selection: FindingSelection
) -> tuple[list[Cell], list[Cell]]:
    """The grid (each arm's framework x seed x regime) and the probe cells."""
    grid = [cell for arm in arms_in(finding, selection)
            for cell in arm_cells(finding, selection, arm)]
    if not selection.probe:
        return grid, []
    base = matrix_profile(finding, selection)
    probe = finding["matrix"].get("probe")
    if not probe:
        return grid, []
    return grid, expand(
        dict(base, variants=[probe["variant"]], splits=[probe["split"]], hud=[probe["hud"]])
    )


def verdict(delta: float, low: float, high: float, min_effect: float,
            direction: str = "decrease") -> str:
    """'reproduced' when the change goes the way the claim says by at least `min_effect` and
    its CI excludes zero, 'reversed' when it goes the other way so, else 'not reproduced'."""
    if direction == "increase":
        delta, low, high = -delta, -high, -low
    if delta <= -min_effect and high < 0:
        return "reproduced"
    if delta >= min_effect and low > 0:
        return "reversed"
    return "not reproduced"


def _ensemble_predictions(records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray] | None:
    stored = [load_predictions(r) for r in records]
    if not stored or any(p is None for p in stored):
        return None
    proba = ensemble_proba([p["proba"] for p in stored])
    return stored[0]["y_true"], proba.argmax(axis=1)


def _summary(values: list[float]) -> dict[str, Any]:
    """Mean, spread and t interval over seeds; one seed has no spread (null in the JSON)."""
    mean, std, low, high = mean_ci(values)
    if len(values) < 2:
        std, low, high = None, None, None
    return {"mean": mean, "std": std, "ci95": [low, high], "per_seed": values}


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
                      key=lambda k: (k[1] != "random", k[2] != "full", k[0]))
        for key in keys:
            row = _verdict_row(comparison, key, _by_seed(cells[comparison.against], records, key),
                               _by_seed(cells[comparison.arm], records, key))
            if row:
                rows.append(row)
    return rows


def _verdict_row(comparison: Comparison, key: tuple[str, str, str],
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
    return {
        "comparison": {"arm": comparison.arm, "reference": comparison.against,
                       "direction": comparison.direction, "min_effect": comparison.min_effect},
        "framework": framework,
        "split": split,
        "hud": hud,
        "n_seeds": len(seeds),
        "reference_accuracy": _summary(ref),
        "arm_accuracy": _summary(alt),
        "delta_accuracy": delta,
        "delta_ci95": [low, high],
        "p_value_seeds": paired_t_test(alt, ref) if len(seeds) > 1 else None,
        "mcnemar_ensembles": test,
        "verdict": verdict(delta, low, high, comparison.min_effect, comparison.direction),
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
            "accuracy": _summary([r["metrics"]["accuracy"] for r in done.values()]),
            "n_seeds": len(done),
            "majority_class_rate": float(max(support) / sum(support)),
        }
        full = _ok([c for c in grid if (c.framework, c.split, c.hud, c.variant)
                    == (framework, cells[0].split, "full", cells[0].variant)], records)
        seeds = sorted(set(done) & set(full))
        if seeds:
            gaps = [100 * (done[s]["metrics"]["accuracy"] - full[s]["metrics"]["accuracy"])
                    for s in seeds]
            gap = float(np.mean(gaps))
            row.update(
                full_frame=_summary([full[s]["metrics"]["accuracy"] for s in seeds]),
                probe_minus_full_pp=gap,
                relation="at_or_above" if gap >= -WITHIN_PP else "below",
            )
        out[framework] = row
    return out


def protocol_departures(protocol: dict[str, Any]) -> list[str]:
    """How a finding profile departs from the published protocol (empty: it is that one)."""
    return published_protocol().departures(
        protocol["image_size"], protocol["epochs"], protocol["augmented_epochs"],
        protocol["early_stopping"])


def protocol_label(profile: str, protocol: dict[str, Any], seeds: int) -> str:
    """`profile` in words: size, schedule, seeds, dropout source."""
    size = protocol["image_size"]
    schedule = (f"augmented <= {protocol['augmented_epochs']} epochs with early stopping"
                if protocol["early_stopping"] else f"augmented {protocol['augmented_epochs']}")
    dropout = protocol.get("dropout", "shared")
    return (f"`{profile}`: {size}x{size}, baseline {protocol['epochs']} epochs, {schedule}, "
            f"{seeds} seed{'s' if seeds != 1 else ''}, {dropout} dropout masks")


def sentences(
    rows: list[dict[str, Any]], probe: dict[str, Any], protocol: dict[str, Any],
    effects: dict[str, str] | None = None,
) -> list[str]:
    """Plain sentences on what the random split's accuracy measures, one pair per comparison
    (`effects`: comparison key -> what it changes, in words). "Published setting" is said
    only when the protocol is the published one; otherwise the departures are named."""
    text = []
    for key, effect in (effects or {"": "geometric augmentation"}).items():
        picked = [r for r in rows if not key or _comparison_key(r) == key]
        text += _effect_sentences(picked, protocol, effect)
    return text + _probe_sentences(rows, probe)


def _comparison_key(row: dict[str, Any]) -> str:
    c = row.get("comparison") or {"arm": "augmented", "reference": "baseline"}
    return f"{c['arm']}-vs-{c['reference']}"


def _effect_sentences(rows: list[dict[str, Any]], protocol: dict[str, Any],
                      effect: str) -> list[str]:
    def where(split: str, hud: str) -> str:
        found = [r for r in rows if r["split"] == split and r["hud"] == hud]
        return ", ".join(
            f"{FRAMEWORK_NAMES[r['framework']]} {100 * r['delta_accuracy']:+.1f} pp "
            f"({r['verdict']})"
            for r in found
        )

    departures = protocol_departures(protocol)
    text = []
    if where("random", "full"):
        setting = ("In the published setting (published protocol, random split, full frame)"
                   if not departures else
                   "On the published split and input (random split, full frame) but not the "
                   f"published protocol ({'; '.join(departures)})")
        text.append(f"{setting} {effect} changes validation accuracy by "
                    f"{where('random', 'full')}.")
    if where("session", "masked"):
        text.append(
            f"With whole capture sessions held out and the HUD masked — the setting that "
            f"measures emotion recognition — the change is {where('session', 'masked')}."
        )
    for hud in ("masked", "full"):
        if where("grouped", hud):
            text.append(
                "With near-copy frames kept on one side of the split (the grouped split, the "
                f"leakage-safe one for data without capture sessions){_HUD_WORDS[hud]} the "
                f"change is {where('grouped', hud)}.")
            break
    return text


_HUD_WORDS = {"masked": " and the overlay masked,", "full": ","}


def _probe_sentences(rows: list[dict[str, Any]], probe: dict[str, Any]) -> list[str]:
    text = []
    if probe:
        full = {r["framework"]: r["reference_accuracy"]["mean"] for r in rows
                if r["split"] == "random" and r["hud"] == "full"}
        full.update({fw: p["full_frame"]["mean"] for fw, p in probe.items() if "full_frame" in p})
        probe_text = ", ".join(
            f"{FRAMEWORK_NAMES[fw]} {100 * p['accuracy']['mean']:.1f} %"
            + (f" (full frame {100 * full[fw]:.1f} %)" if fw in full else "")
            for fw, p in probe.items()
        )
        rate = 100 * next(iter(probe.values()))["majority_class_rate"]
        text.append(
            f"A model that sees only the burned-in HUD (face blanked) reaches {probe_text} "
            f"on the random split (majority class {rate:.1f} %): much of what a random-split "
            f"accuracy measures can be read without looking at a face."
        )
    return text


class CleanPipeline:
    """What common_data itself makes of the data: the reference for the integrity checks.

    A record whose split hash or validation-input digest differs from these ran on an altered
    split (the `burst_leak` fault) or was scored on altered frames (`augment_val`), or the
    pipeline has a bug; either way its verdict cannot be trusted.
    """

    def __init__(self, data: str) -> None:
        self.data = data
        self._images: dict[tuple[int, str, bool], Any] = {}

    def check(self, record: dict[str, Any]) -> tuple[bool, bool | None]:
        """(split intact, validation inputs intact — None where the record has no digest)."""
        from common_data.run.config import load_run_config
        from common_data.run.inputs import load_run_data, run_images, validation_digest

        config = load_run_config({**record["config"], "data": self.data, "fault": "none"})
        key = (config.image_size, config.hud, config.skip_bad)
        if key not in self._images:  # one decode serves every record at these settings
            self._images[key] = run_images(config)
        images, split = load_run_data(config, self._images[key])
        split_ok = record["data"]["split_hash"] == split.hash
        digest = record["data"].get("val_digest")
        if digest is None:
            return split_ok, None
        return split_ok, digest == validation_digest(images, split.val, config)


def expected_key(finding: dict[str, Any], row: dict[str, Any]) -> str:
    """A verdict's key among the recorded ones: framework.split.hud, led by the comparison's
    key where the finding has more than one."""
    key = f"{row['framework']}.{row['split']}.{row['hud']}"
    return key if len(finding["comparisons"]) == 1 else f"{_comparison_key(row)}.{key}"


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
    records = {r["run_id"]: r for r in load_records(results / "runs")}
    rows = verdict_rows(finding, selection, records)
    protocol = finding["protocol"][selection.profile]
    clean = CleanPipeline(selection.data)
    label = expected_dataset_key(selection.data)
    expected = finding.get("expected", {}).get(selection.profile, {}).get(label, {})
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
        "profile": selection.profile,
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
        "protocol_label": protocol_label(selection.profile, protocol, len(selection.seeds)),
        "published_protocol": not protocol_departures(protocol),
        "expected_recorded": bool(expected),
        "expected_probe": (finding.get("expected_probe", {}).get(selection.profile, {})
                           .get(label, {})),
    }
    result["regression_failures"] = regression_failures(result, finding["baseline_tolerance"])
    return result


def regression_failures(result: dict[str, Any], tolerance: float) -> list[str]:
    """What the regression suite fails on: an altered split or validation input, a flipped
    verdict, a baseline accuracy that moved more than `tolerance` from the recorded one, or a
    HUD-only probe whose recorded relation to the full frame changed."""
    failures = []
    for framework, recorded in result["expected_probe"].items():
        probe = result["hud_only_probe"].get(framework, {})
        if "relation" in probe and probe["relation"] != recorded:
            failures.append(
                f"{framework} HUD-only probe: recorded {recorded!r} the full frame, got "
                f"{probe['relation']!r} (probe - full {probe['probe_minus_full_pp']:+.1f} pp over "
                f"{probe['n_seeds']} seed{'s' if probe['n_seeds'] != 1 else ''})"
            )
    for row in result["verdicts"]:
        where = f"{row['framework']} {row['split']} split, HUD {row['hud']}"
        if not row["split_intact"]:
            failures.append(f"{where}: split altered (records' split hash is not common_data's)")
        if row["validation_intact"] is False:
            failures.append(
                f"{where}: validation inputs altered (digest differs from the clean pipeline's)"
            )
        recorded = row["expected"]
        if not recorded:
            continue
        if recorded["verdict"] != row["verdict"]:
            failures.append(
                f"{where}: verdict flipped: recorded {recorded['verdict']!r}, got "
                f"{row['verdict']!r} (delta {100 * row['delta_accuracy']:+.1f} pp)"
            )
        moved = row["reference_accuracy"]["mean"] - recorded["reference_accuracy"]
        if abs(moved) > tolerance:
            failures.append(
                f"{where}: baseline accuracy moved {100 * moved:+.1f} pp from the recorded "
                f"{100 * recorded['reference_accuracy']:.1f} % (tolerance "
                f"{100 * tolerance:.0f} pp)"
            )
    return failures


def expected_toml(result: dict[str, Any]) -> str:
    """The observed verdicts as the TOML table to paste into the finding file."""
    lines = [f'[expected.{result["profile"]}."{result["data"]["label"]}"]']
    for row in result["verdicts"]:
        lines.append(
            f'"{row["expected_key"]}" = {{ verdict = "{row["verdict"]}", '
            f"reference_accuracy = {row['reference_accuracy']['mean']:.4f} }}"
        )
    return "\n".join(lines)


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
    parser.add_argument("--frameworks", help="comma-separated subset of: torch,tf")
    parser.add_argument("--regimes", help="comma-separated split.hud regimes, e.g. random.full")
    parser.add_argument("--no-probe", action="store_true", help="skip the HUD-only probe")
    parser.add_argument("--variants", help="comma-separated subset of: baseline,augmented "
                        "(baseline alone checks the HUD-only probe against the full frame)")
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
    preflight(grid + probe, args.results, args.force)
    command = " ".join(["python -m benchmarks finding", *argv])
    if not args.no_train:
        run_matrix(grid + probe, args.results, args.force, command, jobs, executor_from(args))
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
        )
    print("\n".join(result["summary"]))
    if args.print_expected:
        print(expected_toml(result))
    if not result["expected_recorded"] and not result["expected_probe"]:
        print(
            f"note: no verdicts recorded for profile {args.protocol!r} on "
            f"{result['data']['label']!r}; only split integrity was checked"
        )
    for failure in result["regression_failures"]:
        print(f"REGRESSION: {failure}")
    print(f"finding: {out}")
    if not args.no_report:
        from benchmarks.report import render

        print(f"report: {render(args.results, args.results)}")
    return 1 if result["regression_failures"] else 0
