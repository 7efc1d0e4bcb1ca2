"""Trajectory parity: do the twins, trained alike, stay together over a whole run?

The ten-step parity check proves the twins compute the same update; it cannot show what a
full run does with the small float32 differences that remain, nor what each framework's own
dropout RNG does to a same-seed pair. Two records form a *twin pair* when their configs are
equal but for the framework and its tuned modes: same data, split, seed, initial weights,
batches and dropout source. Comparing a pair epoch by epoch, with shared masks and with each
framework's own, says how much of the gap between the twins is dropout luck and how much is
the frameworks' numerics. A *precision pair* is one framework in float32 and in bf16, configs
otherwise equal: how far bf16 takes a run from its float32 self, shown beside the floor so a
reduced-precision mode's faithfulness is seen, not assumed. A *floor pair* is one framework
twice, differing only in its thread count: the same model summed in another order. How fast
a floor pair parts is how chaotic training itself is at float32 precision, the yardstick for
the twins: twins that part no faster than one framework does with itself differ by rounding,
not by algorithm. Everything here is computed from stored records, so the report regenerates it;
`python -m benchmarks parity --trajectory` runs the pairs it needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.markdown import md_text
from benchmarks.matrix.records import Setting, is_bf16, setting_of
from benchmarks.report import figures
from common_data.frameworks import FRAMEWORK_NAMES, FRAMEWORK_PAIRS, pair_label
from common_data.run.config import LEGACY_VALUES

_NOT_PAIRED = ("framework", "mode", "save_weights")
_NOT_FLOOR = ("threads", "inter_op_threads", "save_weights")
_NOT_PRECISION = ("mode", "save_weights")
KINDS = ("twins", "precision", "floor")  # the table's order
PARTED_PP = 2.0  # validation accuracies this far apart (pp) count as parted


@dataclass
class Pair:
    """Two runs of one config: the twins (`kind` 'twins': a is the anchor framework, b another),
    one framework in two precisions (`kind` 'precision': a float32, b bf16) or one framework at
    two thread counts (`kind` 'floor': a has fewer threads)."""

    kind: str
    setting: Setting
    variant: str
    seed: int
    dropout: str
    a: dict[str, Any]
    b: dict[str, Any]

    @property
    def label(self) -> str:
        if self.kind == "twins":
            bf16 = " (bf16)" if is_bf16(self.a["config"]) else ""
            return pair_label(self.a["framework"], self.b["framework"], " vs ") + bf16
        if self.kind == "precision":
            return f"{FRAMEWORK_NAMES[self.a['framework']]} float32 vs bf16"
        threads = [r["config"]["threads"] for r in (self.a, self.b)]
        return (f"{FRAMEWORK_NAMES[self.a['framework']]} {threads[0]} vs {threads[1]} "
                "threads (floor)")

    def curve(self, side: str, key: str) -> np.ndarray:
        record = self.a if side == "a" else self.b
        return np.array([h[key] for h in record["history"]], dtype=float)

    def figures(self) -> dict[str, Any]:
        """Per-epoch differences (a − b) over the epochs both ran."""
        acc = [self.curve(side, "val_accuracy") for side in "ab"]
        loss = [self.curve(side, "val_loss") for side in "ab"]
        train = [self.curve(side, "loss") for side in "ab"]
        n = min(len(acc[0]), len(acc[1]))
        d_acc = 100 * (acc[0][:n] - acc[1][:n])
        d_loss = loss[0][:n] - loss[1][:n]
        d_train = np.abs(train[0][:n] - train[1][:n]) / np.maximum(np.abs(train[1][:n]), 1e-12)
        parted = np.flatnonzero(np.abs(d_acc) > PARTED_PP)
        return {
            "epochs": n,
            "max_abs_val_acc_pp": float(np.abs(d_acc).max()),
            "max_abs_val_loss": float(np.abs(d_loss).max()),
            "max_rel_train_loss": float(d_train.max()),
            "final_val_acc_pp": float(d_acc[-1]),
            "parted_at_epoch": int(parted[0]) + 1 if parted.size else None,
        }


def _ok(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("status") == "ok" and r.get("history")]


def _groups(records: list[dict[str, Any]], ignored: tuple[str, ...],
            by_precision: bool = True) -> list[list[dict]]:
    """Records whose configs agree but in `ignored`; with the modes ignored, a group still holds
    one precision unless `by_precision` is off (a bf16 run is never another run's twin)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in _ok(records):
        # a key at its legacy value reads as the runs made before the key existed
        config = {k: v for k, v in record["config"].items() if k not in ignored
                  and not ((k,) in LEGACY_VALUES and v == LEGACY_VALUES[(k,)])}
        config.setdefault("dropout", "framework")
        if by_precision:
            config["bf16"] = is_bf16(record["config"])
        groups.setdefault(json.dumps(config, sort_keys=True), []).append(record)
    return list(groups.values())


def _pair(kind: str, a: dict[str, Any], b: dict[str, Any]) -> Pair:
    config = a["config"]
    return Pair(kind, setting_of(a), config["variant"], config["seed"],
                config.get("dropout", "framework"), a, b)


def twin_pairs(records: list[dict[str, Any]]) -> list[Pair]:
    """Every same-seed (anchor, other framework) pair of 'ok' records whose configs differ only
    in the framework and its modes (records made before dropout was shared count as 'framework'),
    every floor pair: one framework at two thread counts, configs otherwise equal, and every
    precision pair: one framework in float32 and in bf16, configs otherwise equal."""
    pairs = []
    for group in _groups(records, _NOT_PAIRED):
        by_framework = {r["framework"]: r for r in group}
        pairs += [_pair("twins", by_framework[a], by_framework[b])
                  for a, b in FRAMEWORK_PAIRS if {a, b} <= by_framework.keys()]
    for group in _groups(records, _NOT_FLOOR):
        by_threads = {r["config"]["threads"]: r for r in group}
        if len(by_threads) >= 2:
            low, high = sorted(by_threads)[:2]
            pairs.append(_pair("floor", by_threads[low], by_threads[high]))
    for group in _groups(records, _NOT_PRECISION, by_precision=False):
        # a float32 run with several tuned modes on record: the first by its modes, every time
        ordered = sorted(group, key=lambda r: json.dumps(r["config"]["mode"], sort_keys=True))
        floats = [r for r in ordered if not is_bf16(r["config"])]
        halves = [r for r in ordered if is_bf16(r["config"])]
        if floats and halves:
            pairs.append(_pair("precision", floats[0], halves[0]))
    return sorted(pairs, key=lambda p: (p.setting.title, p.variant, p.seed, p.dropout,
                                        KINDS.index(p.kind)))


def shrink_factors(pairs: list[Pair]) -> list[dict[str, Any]]:
    """Where one setting/variant/seed has both a shared-mask and an own-dropout pair: how many
    times smaller the largest validation-accuracy gap is with shared masks."""
    by_key: dict[tuple, dict[str, Pair]] = {}
    for pair in (p for p in pairs if p.kind == "twins"):
        key = (pair.label, pair.setting, pair.variant, pair.seed)
        by_key.setdefault(key, {})[pair.dropout] = pair
    out = []
    for (label, setting, variant, seed), sources in by_key.items():
        if {"shared", "framework"} <= sources.keys():
            own = sources["framework"].figures()["max_abs_val_acc_pp"]
            shared = sources["shared"].figures()["max_abs_val_acc_pp"]
            out.append({"label": label, "setting": setting, "variant": variant, "seed": seed,
                        "framework_pp": own, "shared_pp": shared,
                        "factor": own / shared if shared else float("inf")})
    return out


def table(pairs: list[Pair]) -> list[str]:
    """One markdown row per twin pair."""
    lines = [
        "| setting | variant | seed | dropout masks | pair | epochs | max abs Δ val acc (pp) | "
        "max abs Δ val loss | max rel Δ train loss | final Δ val acc (pp) | parted at epoch |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for pair in pairs:
        f = pair.figures()
        parted = f["parted_at_epoch"] or f"never (> {PARTED_PP:g} pp)"
        lines.append(
            f"| {md_text(pair.setting.title)} | {pair.variant} | {pair.seed} | {pair.dropout} | "
            f"{pair.label} | {f['epochs']} | {f['max_abs_val_acc_pp']:.2f} | "
            f"{f['max_abs_val_loss']:.4f} | {f['max_rel_train_loss']:.2e} | "
            f"{f['final_val_acc_pp']:+.2f} | {parted} |"
        )
    return lines


def section(records: list[dict[str, Any]], fig_dir: Path, out_dir: Path) -> list[str]:
    """The report's trajectory-parity section (empty when no pair exists)."""
    pairs = twin_pairs(records)
    if not pairs:
        return []
    lines = [
        "## Trajectory parity",
        "",
        "Same-seed twin pairs: identical configs but the framework (same data, split, "
        "initial weights, batches and dropout source), compared epoch by epoch "
        f"(Δ = {', '.join(pair_label(a, b) for a, b in FRAMEWORK_PAIRS)}). *shared*: both "
        "apply the dropout masks drawn once in "
        "`common_data.model.dropout`; *framework*: each draws its own. *Floor* pairs are one "
        "framework at two thread counts (the same sums in another order): how fast they part "
        "measures how chaotic float32 training itself is, the yardstick for the twins. "
        "*Precision* pairs are one framework in float32 and in bf16 (`mode.mixed_precision`), "
        "all else equal: how far bf16 takes a run from its float32 self, to be read against "
        "the floor. "
        "Regenerate the pairs with `python -m benchmarks parity --trajectory --data PATH`.",
        "",
        *table(pairs),
        "",
    ]
    for item in shrink_factors(pairs):
        lines.append(
            f"- {_pair_prefix(item)}{md_text(item['setting'].title)}, {item['variant']}, "
            f"seed {item['seed']}: "
            f"the largest "
            f"validation-accuracy gap is {item['framework_pp']:.2f} pp with each framework's "
            f"own dropout and {item['shared_pp']:.2f} pp with shared masks "
            f"({item['factor']:.1f}x smaller)."
        )
    precision = [p for p in pairs if p.kind == "precision"]
    pairs = [p for p in pairs if p.kind != "precision"]
    both = [p for p in pairs if any((q.dropout, q.kind) != (p.dropout, p.kind)
                                    and q.setting == p.setting and q.seed == p.seed
                                    and q.variant == p.variant for q in pairs)]
    if pairs:
        chart = figures.trajectory_chart(both or pairs[:2], fig_dir / "trajectory-parity.png")
        lines += ["", f"![trajectory parity]({chart.relative_to(out_dir).as_posix()})", ""]
    if precision:
        chart = figures.trajectory_chart(precision, fig_dir / "trajectory-bf16.png")
        lines += [f"![bf16 against float32]({chart.relative_to(out_dir).as_posix()})", ""]
    return lines


def _pair_prefix(item: dict[str, Any]) -> str:
    """With more than one framework pair, which one a shrink factor is about."""
    return f"{item['label']}, " if len(FRAMEWORK_PAIRS) > 1 else ""


def describe(pairs: list[Pair]) -> str:
    """The terminal form of the table, for `parity --trajectory`."""
    out = []
    for pair in pairs:
        f = pair.figures()
        out.append(f"{pair.setting.title}, {pair.variant}, seed {pair.seed}, "
                   f"{pair.dropout} dropout masks, {pair.label}:")
        out.append(f"{'epoch':>5} {'a acc':>10} {'b acc':>8} {'a loss':>11} {'b loss':>8}")
        acc = [pair.curve(side, "val_accuracy") for side in "ab"]
        loss = [pair.curve(side, "val_loss") for side in "ab"]
        for i in range(f["epochs"]):
            out.append(f"{i + 1:>5} {100 * acc[0][i]:>10.2f} {100 * acc[1][i]:>8.2f} "
                       f"{loss[0][i]:>11.4f} {loss[1][i]:>8.4f}")
        out.append(f"largest |Δ val acc| {f['max_abs_val_acc_pp']:.2f} pp, |Δ val loss| "
                   f"{f['max_abs_val_loss']:.4f}; parted at epoch "
                   f"{f['parted_at_epoch'] or 'never'}")
        out.append("")
    return "\n".join(out) + "".join(
        f"{s['label']}: own dropout "
        f"{s['framework_pp']:.2f} pp, shared masks {s['shared_pp']:.2f} pp "
        f"({s['factor']:.1f}x smaller)\n" for s in shrink_factors(pairs))
