"""The finding as a regression check: what fails a re-run against the verdicts recorded in its
file (an altered split, a moved accuracy, a flipped verdict), and what is only told (a flip at
the threshold, a probe on other seeds, a verdict from fewer seeds than asked)."""

from typing import Any

import numpy as np


def regression_failures(result: dict[str, Any], tolerance: float,
                        effect_tolerance: float = 0.0) -> list[str]:
    """What the regression suite fails on: an altered split or validation input, a baseline
    or HUD-only probe accuracy that moved more than `tolerance` from the recorded one, or a
    flipped verdict whose effect moved more than `effect_tolerance` from the recorded effect.

    A verdict that flips while its effect stays within `effect_tolerance` sat at the
    threshold: CPU kernel families round differently (AVX2 and AVX-512 moved these effects by
    up to 0.5 pp), which is not a code change; `threshold_flips` names those instead.
    """
    failures = []
    for framework, recorded in result["expected_probe"].items():
        moved = _probe_moved(result["hud_only_probe"].get(framework), recorded)
        if moved is not None and abs(moved[0]) > tolerance:
            failures.append(
                f"{framework} HUD-only probe: accuracy moved {100 * moved[0]:+.1f} pp from the "
                f"recorded {100 * moved[1]:.1f} % (tolerance {100 * tolerance:g} pp)"
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
        if not recorded or _partial(result, row):
            continue
        if recorded["verdict"] != row["verdict"] and not _at_threshold(row, effect_tolerance):
            failures.append(
                f"{where}: verdict flipped: recorded {recorded['verdict']!r}, got "
                f"{row['verdict']!r} (delta {100 * row['delta_accuracy']:+.1f} pp"
                + (f", recorded {100 * recorded['delta']:+.1f} pp; not at the threshold within "
                   f"the {100 * effect_tolerance:g} pp effect tolerance)" if "delta" in recorded
                   else ")")
            )
        moved = row["reference_accuracy"]["mean"] - recorded["reference_accuracy"]
        if abs(moved) > tolerance:
            failures.append(
                f"{where}: baseline accuracy moved {100 * moved:+.1f} pp from the recorded "
                f"{100 * recorded['reference_accuracy']:.1f} % (tolerance "
                f"{100 * tolerance:g} pp)"
            )
    return failures


def _probe_moved(probe: dict[str, Any] | None,
                 recorded: dict[str, Any]) -> tuple[float, float] | None:
    """(observed minus recorded mean accuracy, recorded mean) over the seeds both have; None
    where the probe did not run or ran on none of the recorded seeds."""
    if probe is None:
        return None
    by_seed = dict(zip(recorded["seeds"], recorded["accuracy"], strict=True))
    pairs = [(acc, by_seed[seed]) for seed, acc in zip(probe["seeds"],
                                                       probe["accuracy"]["per_seed"], strict=True)
             if seed in by_seed]
    if not pairs:
        return None
    observed, reference = (float(np.mean(values)) for values in zip(*pairs, strict=True))
    return observed - reference, reference


def _at_threshold(row: dict[str, Any], effect_tolerance: float) -> bool:
    """A flipped verdict whose effect is within `effect_tolerance` of the recorded effect and
    which sits at its threshold: the effect within the tolerance of the minimum effect, or the
    CI bound nearest zero within the tolerance of zero. Only there can rounding flip it."""
    recorded = row["expected"].get("delta")
    if recorded is None or abs(row["delta_accuracy"] - recorded) > effect_tolerance:
        return False
    near_effect = abs(abs(row["delta_accuracy"]) - row["comparison"]["min_effect"])
    bounds = [abs(b) for b in row["delta_ci95"] if b is not None]
    return near_effect <= effect_tolerance or (bool(bounds) and min(bounds) <= effect_tolerance)


def probe_notes(result: dict[str, Any]) -> list[str]:
    """Recorded probes the run could not compare (not run, or on none of the recorded seeds)."""
    notes = []
    for framework, recorded in result["expected_probe"].items():
        probe = result["hud_only_probe"].get(framework)
        if _probe_moved(probe, recorded) is None:
            ran = ", ".join(map(str, probe["seeds"])) if probe else "none"
            notes.append(f"{framework} HUD-only probe not compared: recorded for seeds "
                         f"{', '.join(map(str, recorded['seeds']))}, run on {ran}")
    return notes


def _partial(result: dict[str, Any], row: dict[str, Any]) -> bool:
    """A verdict resting on fewer seeds than the run asked for (records still missing): its
    mean is not the recorded one's, so it is not held against it (the split checks still are)."""
    asked = len((result.get("selection") or {}).get("seeds") or ())
    return row.get("n_seeds", asked) < asked


def partial_notes(result: dict[str, Any]) -> list[str]:
    """The recorded verdicts an interim result does not check, and why."""
    return [
        f"{row['framework']} {row['split']} split, HUD {row['hud']}: not checked against the "
        f"recorded verdict, {row['n_seeds']} of {len(result['selection']['seeds'])} seeds have "
        "records"
        for row in result["verdicts"] if row["expected"] and _partial(result, row)
    ]


def threshold_flips(result: dict[str, Any], effect_tolerance: float) -> list[str]:
    """Verdicts that flipped at the threshold (effect within tolerance of the recorded one):
    told, not failed on."""
    return [
        f"{row['framework']} {row['split']} split, HUD {row['hud']}: recorded "
        f"{row['expected']['verdict']!r}, got {row['verdict']!r}; delta "
        f"{100 * row['delta_accuracy']:+.1f} pp against the recorded "
        f"{100 * row['expected']['delta']:+.1f} pp, within the {100 * effect_tolerance:g} pp "
        "effect tolerance: the verdict sits at the threshold"
        for row in result["verdicts"]
        if row["expected"] and row["expected"]["verdict"] != row["verdict"]
        and _at_threshold(row, effect_tolerance) and not _partial(result, row)
    ]
