"""Three sentences that answer the product's three questions from stored records.

1. Are the twins equal? The anchor framework's baseline accuracy minus each other one's
   (common_data.frameworks.FRAMEWORK_PAIRS), paired by seed, where the most seeds are paired.
2. Is the augmentation finding reproduced, and where? Augmented − baseline per split and HUD
   mode, paired by seed, called with the finding's own rule (`finding.verdict`).
3. What do the shortcut controls say? The HUD-only probe beside the full frame, and the
   session split beside the random split.

Each answer names the runs it comes from (input size, epochs, seeds), because the answers
of a reduced protocol are not those of the published one. Used by the report's first screen
and by `compare`'s closing summary in the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.findings.verdicts import verdict
from benchmarks.matrix.records import Row, is_baseline_cnn, training_set_note
from benchmarks.stats import mean_ci
from common_data.frameworks import FRAMEWORK_NAMES, FRAMEWORK_PAIRS, pair_label
from common_data.regimes import OVERLAYS, leakage_safe, regime_order

# Above this share of random-split validation frames with a near-copy in training, the
# random split's accuracy is flagged as inflated (the real set: 12.5 %; its session split: 1.8 %,
# which is frames alike across days, not leakage).
NEAR_COPY_FLAG = 0.05


@dataclass(frozen=True)
class Study:
    """Rows comparable with each other: one dataset, input size and dropout source."""

    dataset: str
    image_size: int
    dropout: str


def _study(row: Row) -> Study:
    return Study(row.setting.data_label, row.setting.image_size,
                 row.records[0]["config"].get("dropout", "framework"))


def _label(study: Study, index: dict[tuple, Row], seeds: int) -> str:
    """Size, the baseline's epochs, seeds and dropout source of the runs an answer uses."""
    base = next((r for k, r in index.items() if k[2] == "baseline"), None)
    epochs = f", baseline {base.records[0]['config']['epochs']} epochs" if base else ""
    count = f", {seeds} seed{'s' if seeds != 1 else ''}" if seeds else ""
    return (f"{study.image_size}x{study.image_size}{epochs}{count}, "
            f"{study.dropout} dropout masks")


def _paired(a: Row | None, b: Row | None) -> list[float]:
    """a − b accuracy per seed both rows ran."""
    if a is None or b is None:
        return []
    sa, sb = a.by_seed(), b.by_seed()
    return [sa[s]["metrics"]["accuracy"] - sb[s]["metrics"]["accuracy"]
            for s in sorted(set(sa) & set(sb))]


def _delta_text(deltas: list[float]) -> str:
    mean, _, low, high = mean_ci(deltas)
    if len(deltas) < 2:
        return f"{100 * mean:+.1f} pp (1 seed)"
    return f"{100 * mean:+.1f} pp [{100 * low:+.1f}, {100 * high:+.1f}]"


def _index(rows: list[Row]) -> dict[tuple, Row]:
    """(study-free key) -> row; with several protocols per key, the one with most seeds."""
    out: dict[tuple, Row] = {}
    for row in rows:
        key = (row.setting.split, row.setting.hud, row.variant, row.framework)
        if key not in out or len(row.ok) > len(out[key].ok):
            out[key] = row
    return out


def _studies(rows: list[Row]) -> dict[Study, dict[tuple, Row]]:
    grouped: dict[Study, list[Row]] = {}
    for row in rows:  # the three questions are asked of the baseline CNN
        config = row.records[0]["config"]
        if row.ok and is_baseline_cnn(config) and not training_set_note(config):
            grouped.setdefault(_study(row), []).append(row)
    return {study: _index(group) for study, group in grouped.items()}


def _pair_answer(studies: dict[Study, dict[tuple, Row]], a: str, b: str) -> str | None:
    """a − b baseline accuracy, from the study where the most seeds are paired."""
    best: tuple[tuple[int, int, bool], Study, list[float]] | None = None
    for study, index in studies.items():
        deltas = _paired(index.get(("random", "full", "baseline", a)),
                         index.get(("random", "full", "baseline", b)))
        rank = (len(deltas), study.image_size, study.dropout == "shared")
        if deltas and (best is None or rank > best[0]):
            best = (rank, study, deltas)
    if best is None:
        return None
    _, study, deltas = best
    _, _, low, high = mean_ci(deltas)
    label = _label(study, studies[study], len(deltas))
    call = ("no framework effect is detectable at this sample size"
            if len(deltas) > 1 and low <= 0 <= high else
            "the frameworks differ" if len(deltas) > 1 else "one seed cannot tell")
    return (f"{pair_label(a, b)} baseline accuracy (random split, full frame; {label}): "
            f"{_delta_text(deltas)}, paired by seed: {call}.")


def twins_answer(studies: dict[Study, dict[tuple, Row]]) -> str | None:
    """One sentence per framework pair (anchor − other) that the rows can answer."""
    parts = [text for a, b in FRAMEWORK_PAIRS if (text := _pair_answer(studies, a, b))]
    return "**Are the twins equal?** " + " ".join(parts) if parts else None


def finding_answer(studies: dict[Study, dict[tuple, Row]], min_effect: float) -> str | None:
    best: tuple[tuple[int, int], Study, list[str], int] | None = None
    for study, index in studies.items():
        parts, seeds = [], 0
        for split, hud in sorted({(k[0], k[1]) for k in index},
                                 key=lambda k: (*regime_order(*k), k)):
            for fw in FRAMEWORK_NAMES:
                deltas = _paired(index.get((split, hud, "augmented", fw)),
                                 index.get((split, hud, "baseline", fw)))
                if len(deltas) < 2:
                    continue
                mean, _, low, high = mean_ci(deltas)
                seeds = max(seeds, len(deltas))
                parts.append(f"{FRAMEWORK_NAMES[fw]} {split}/{hud} {_delta_text(deltas)} "
                             f"({verdict(mean, low, high, min_effect)})")
        rank = (study.image_size, len(parts))  # highest fidelity first
        if parts and (best is None or rank > best[0]):
            best = (rank, study, parts, seeds)
    if best is None:
        return None
    _, study, parts, seeds = best
    return (f"**Is the augmentation finding reproduced?** Augmented − baseline accuracy "
            f"({_label(study, studies[study], seeds)}, paired by seed): "
            + "; ".join(parts) + ".")


def _near_copies(index: dict[tuple, Row], audits: dict[str, dict[str, Any]]) -> float | None:
    """The audited share of the random split's validation frames (full frame) that have a
    near-copy in training, for the dataset of these rows, if the preflight audited it."""
    row = next(iter(index.values()))
    digest = row.records[0].get("data", {}).get("dataset_hash", "")
    audit = audits.get(digest, {}).get("splits", {}).get("random, HUD full")
    return float(audit["near_duplicate_fraction"]) if audit else None


def shortcut_answer(studies: dict[Study, dict[tuple, Row]],
                    audits: dict[str, dict[str, Any]] | None = None) -> str | None:
    best: tuple[tuple[int, int], Study, list[str], bool, set[str], list[str]] | None = None
    with_face = [hud for hud, mode in OVERLAYS.items() if mode.face]  # the HUD-only probe: not
    for study, index in studies.items():
        parts: list[str] = []
        probes: set[str] = set()
        kinds: set[str] = set()
        for fw in FRAMEWORK_NAMES:
            full = index.get(("random", "full", "baseline", fw))
            if full is None:
                continue
            acc = float(np.mean(full.values("accuracy")))
            probe = index.get(("random", "hud_only", "baseline", fw))
            safe = next((found for kind in leakage_safe() for hud in with_face
                         if (found := index.get((kind, hud, "baseline", fw))) is not None), None)
            if probe is not None:
                probes.add(fw)
                parts.append(f"{FRAMEWORK_NAMES[fw]} HUD only "
                             f"{100 * np.mean(probe.values('accuracy')):.1f} % vs full frame "
                             f"{100 * acc:.1f} %")
            if safe is not None:
                kinds.add(safe.setting.split)
                parts.append(f"{FRAMEWORK_NAMES[fw]} {safe.setting.split} split "
                             f"({safe.setting.hud}) "
                             f"{100 * np.mean(safe.values('accuracy')):.1f} %{_majority(safe)} "
                             f"vs random {100 * acc:.1f} %{_majority(full)}")
        near = _near_copies(index, audits or {}) if parts else None
        flag = []
        if near is not None and near > NEAR_COPY_FLAG:
            safe_text = (f"the {' / '.join(sorted(kinds))} split above keeps them apart"
                         if kinds else "no session or grouped split ran here to measure "
                         "without them")
            flag = [f"near-copies: {100 * near:.1f} % of the random split's validation "
                    f"frames have a near-copy in training (leakage audit), so its accuracy is "
                    f"inflated; {safe_text}"]
        rank = (study.image_size, len(parts))  # highest fidelity first
        if parts and (best is None or rank > best[0]):
            best = (rank, study, parts, bool(probes), kinds, flag)
    if best is None:
        return None
    _, study, parts, probed, kinds, flag = best
    parts = parts + flag
    # only the controls that ran may be read: no overlay conclusion where no overlay was probed
    clauses = ["A HUD-only model close to the full frame"] if probed else []
    clauses += [f"a {kind} split far below the random one" for kind in sorted(kinds)]
    if not kinds and probed:
        clauses.append("a session split far below the random one")
    reading = ", or ".join(clauses)
    return (f"**What do the shortcut controls say?** Baseline accuracy "
            f"({_label(study, studies[study], 0)}, mean over seeds): "
            + "; ".join(parts) + ". " + reading[0].upper() + reading[1:] + ", means the random "
            "split's accuracy is not emotion recognition.")


def _majority(row: Row | None) -> str:
    found = row.majority() if row is not None else None
    return f" (majority class {100 * found[0]:.1f} %)" if found else ""


def keyed_answers(rows: list[Row], min_effect: float,
                  audits: dict[str, dict[str, Any]] | None = None) -> dict[str, str | None]:
    """The three answers by question (`twins`, `finding`, `shortcuts`); None where the rows
    cannot answer it. Keys are what `--json` prints, for scripts that look one up.
    `audits`: the preflight's data-quality reports by dataset hash (their leakage audits)."""
    studies = _studies(rows)
    return {"twins": twins_answer(studies), "finding": finding_answer(studies, min_effect),
            "shortcuts": shortcut_answer(studies, audits or {})}


def answers(rows: list[Row], min_effect: float,
            audits: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """The three answers that the rows support (a question without data is left out)."""
    return [text for text in keyed_answers(rows, min_effect, audits).values() if text]
