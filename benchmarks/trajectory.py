"""Trajectory parity: do the twins, trained alike, stay together over a whole run?

The ten-step parity check proves the twins compute the same update; it cannot show what a
full run does with the small float32 differences that remain, nor what each framework's own
dropout RNG does to a same-seed pair. Two records form a *twin pair* when their configs are
equal but for the framework and its tuned modes: same data, split, seed, initial weights,
batches and dropout source. Comparing a pair epoch by epoch, with shared masks and with each
framework's own, says how much of the gap between the twins is dropout luck and how much is
the frameworks' numerics. Everything here is computed from stored records, so the report
regenerates it; `python -m benchmarks parity --trajectory` runs the pairs it needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.records import FRAMEWORK_NAMES, Setting, setting_of

_NOT_PAIRED = ("framework", "mode", "save_weights")
PARTED_PP = 2.0  # validation accuracies this far apart (pp) count as parted


@dataclass
class Pair:
    setting: Setting
    variant: str
    seed: int
    dropout: str
    torch: dict[str, Any]
    tf: dict[str, Any]

    def curve(self, framework: str, key: str) -> np.ndarray:
        record = self.torch if framework == "torch" else self.tf
        return np.array([h[key] for h in record["history"]], dtype=float)

    def figures(self) -> dict[str, Any]:
        """Per-epoch differences (PyTorch − TensorFlow) over the epochs both ran."""
        acc = [self.curve(fw, "val_accuracy") for fw in ("torch", "tf")]
        loss = [self.curve(fw, "val_loss") for fw in ("torch", "tf")]
        train = [self.curve(fw, "loss") for fw in ("torch", "tf")]
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


def twin_pairs(records: list[dict[str, Any]]) -> list[Pair]:
    """Every same-seed torch/tf pair of 'ok' records whose configs differ only in the
    framework and its modes. Records made before dropout was shared count as 'framework'."""
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for record in records:
        if record.get("status") != "ok" or not record.get("history"):
            continue
        config = {k: v for k, v in record["config"].items() if k not in _NOT_PAIRED}
        config.setdefault("dropout", "framework")
        key = json.dumps(config, sort_keys=True)
        groups.setdefault(key, {})[record["framework"]] = record
    pairs = []
    for group in groups.values():
        if {"torch", "tf"} <= group.keys():
            config = group["torch"]["config"]
            pairs.append(Pair(setting_of(group["torch"]), config["variant"], config["seed"],
                              config.get("dropout", "framework"), group["torch"], group["tf"]))
    return sorted(pairs, key=lambda p: (p.setting.title, p.variant, p.seed, p.dropout))


def shrink_factors(pairs: list[Pair]) -> list[dict[str, Any]]:
    """Where one setting/variant/seed has both a shared-mask and an own-dropout pair: how many
    times smaller the largest validation-accuracy gap is with shared masks."""
    by_key: dict[tuple, dict[str, Pair]] = {}
    for pair in pairs:
        by_key.setdefault((pair.setting, pair.variant, pair.seed), {})[pair.dropout] = pair
    out = []
    for (setting, variant, seed), sources in by_key.items():
        if {"shared", "framework"} <= sources.keys():
            own = sources["framework"].figures()["max_abs_val_acc_pp"]
            shared = sources["shared"].figures()["max_abs_val_acc_pp"]
            out.append({"setting": setting, "variant": variant, "seed": seed,
                        "framework_pp": own, "shared_pp": shared,
                        "factor": own / shared if shared else float("inf")})
    return out


def table(pairs: list[Pair]) -> list[str]:
    """One markdown row per twin pair."""
    lines = [
        "| setting | variant | seed | dropout masks | epochs | max abs Δ val acc (pp) | "
        "max abs Δ val loss | max rel Δ train loss | final Δ val acc (pp) | parted at epoch |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for pair in pairs:
        f = pair.figures()
        parted = f["parted_at_epoch"] or f"never (> {PARTED_PP:g} pp)"
        lines.append(
            f"| {pair.setting.title} | {pair.variant} | {pair.seed} | {pair.dropout} | "
            f"{f['epochs']} | {f['max_abs_val_acc_pp']:.2f} | {f['max_abs_val_loss']:.4f} | "
            f"{f['max_rel_train_loss']:.2e} | {f['final_val_acc_pp']:+.2f} | {parted} |"
        )
    return lines


def section(records: list[dict[str, Any]], fig_dir: Path, out_dir: Path) -> list[str]:
    """The report's trajectory-parity section (empty when no pair exists)."""
    from benchmarks import figures

    pairs = twin_pairs(records)
    if not pairs:
        return []
    lines = [
        "## Trajectory parity",
        "",
        "Same-seed twin pairs: identical configs but the framework (same data, split, "
        "initial weights, batches and dropout source), compared epoch by epoch "
        "(Δ = PyTorch − TensorFlow). *shared*: both apply the dropout masks drawn once in "
        "`common_data.dropout`; *framework*: each draws its own. Regenerate the pairs with "
        "`python -m benchmarks parity --trajectory --data PATH`.",
        "",
        *table(pairs),
        "",
    ]
    for item in shrink_factors(pairs):
        lines.append(
            f"- {item['setting'].title}, {item['variant']}, seed {item['seed']}: the largest "
            f"validation-accuracy gap is {item['framework_pp']:.2f} pp with each framework's "
            f"own dropout and {item['shared_pp']:.2f} pp with shared masks "
            f"({item['factor']:.1f}x smaller)."
        )
    both = [p for p in pairs if any(q.dropout != p.dropout and q.setting == p.setting
                                    and q.seed == p.seed and q.variant == p.variant
                                    for q in pairs)]
    chart = figures.trajectory_chart(both or pairs[:2], fig_dir / "trajectory-parity.png")
    lines += ["", f"![trajectory parity]({chart.relative_to(out_dir).as_posix()})", ""]
    return lines


def describe(pairs: list[Pair]) -> str:
    """The terminal form of the table, for `parity --trajectory`."""
    out = []
    for pair in pairs:
        f = pair.figures()
        out.append(f"{pair.setting.title}, {pair.variant}, seed {pair.seed}, "
                   f"{pair.dropout} dropout masks:")
        out.append(f"{'epoch':>5} {'torch acc':>10} {'tf acc':>8} {'torch loss':>11} "
                   f"{'tf loss':>8}")
        acc = [pair.curve(fw, "val_accuracy") for fw in ("torch", "tf")]
        loss = [pair.curve(fw, "val_loss") for fw in ("torch", "tf")]
        for i in range(f["epochs"]):
            out.append(f"{i + 1:>5} {100 * acc[0][i]:>10.2f} {100 * acc[1][i]:>8.2f} "
                       f"{loss[0][i]:>11.4f} {loss[1][i]:>8.4f}")
        out.append(f"largest |Δ val acc| {f['max_abs_val_acc_pp']:.2f} pp, |Δ val loss| "
                   f"{f['max_abs_val_loss']:.4f}; parted at epoch "
                   f"{f['parted_at_epoch'] or 'never'}")
        out.append("")
    return "\n".join(out) + "".join(
        f"{FRAMEWORK_NAMES['torch']} vs {FRAMEWORK_NAMES['tf']}: own dropout "
        f"{s['framework_pp']:.2f} pp, shared masks {s['shared_pp']:.2f} pp "
        f"({s['factor']:.1f}x smaller)\n" for s in shrink_factors(pairs))
