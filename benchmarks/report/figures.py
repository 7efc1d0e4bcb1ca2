"""PNG figures for the report, drawn from stored records only (matplotlib, no display)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from benchmarks.matrix.records import Row, is_bf16
from benchmarks.stats import PROPORTION, mean_ci
from common_data.atomic import atomic_file
from common_data.frameworks import FRAMEWORK_NAMES, FRAMEWORKS
from common_data.regimes import OVERLAYS, VARIANTS, regime_label, regime_order


def _style(variant: str) -> str:
    """A variant's line: solid for the reference variant, dashed for the others, dotted for
    anything the regimes table does not list."""
    if variant not in VARIANTS:
        return ":"
    return "-" if VARIANTS[variant].reference else "--"


def _save(fig: plt.Figure, path: Path) -> Path:
    """Write atomically (common_data.atomic) so a killed report never leaves half a PNG."""
    try:
        with atomic_file(path) as handle:
            fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def learning_curves(rows: list[Row], title: str, path: Path) -> Path:
    """Validation accuracy and training loss per epoch, mean over seeds with min-max band."""
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for row in rows:
        histories = [r["history"] for r in row.ok if r["history"]]
        if not histories:
            continue
        length = min(len(h) for h in histories)
        epochs = np.arange(1, length + 1)
        label = f"{FRAMEWORK_NAMES[row.framework]} {row.variant} (n={len(histories)})"
        style = dict(color=FRAMEWORKS[row.framework].colour,
                     linestyle=_style(row.variant))
        for ax, key in ((ax_acc, "val_accuracy"), (ax_loss, "loss")):
            values = np.array([[h[i][key] for i in range(length)] for h in histories])
            ax.plot(epochs, values.mean(axis=0), label=label, **style)
            ax.fill_between(
                epochs, values.min(axis=0), values.max(axis=0), color=style["color"], alpha=0.12
            )
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy")
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="training loss")
    ax_acc.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def confusion_matrices(rows: list[Row], title: str, path: Path) -> Path:
    """Row-normalised confusion matrices summed over seeds, one panel per framework x variant."""
    rows = [row for row in rows if row.ok]
    fig, axes = plt.subplots(
        1, max(len(rows), 1), figsize=(3.6 * max(len(rows), 1), 3.6), squeeze=False
    )
    for ax, row in zip(axes[0], rows, strict=False):
        total = np.sum([np.array(r["metrics"]["confusion"], dtype=float) for r in row.ok], axis=0)
        norm = total / np.maximum(total.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        for i, j in np.ndindex(norm.shape):
            ax.text(
                j,
                i,
                f"{norm[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.5 else "black",
            )
        classes = row.ok[0]["metrics"]["classes"]
        ax.set_xticks(range(len(classes)), classes, rotation=45, fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_title(f"{FRAMEWORK_NAMES[row.framework]} {row.variant}", fontsize=9)
        ax.set_xlabel("predicted", fontsize=8)
    axes[0][0].set_ylabel("true", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _mean_timing(row: Row, key: str) -> float:
    """Runs too short to time a step after the warm-up record None; the bar is then left out."""
    values = [r["timing"][key] for r in row.ok if r["timing"][key] is not None]
    return float(np.mean(values)) if values else 0.0


def speed_chart(rows: list[Row], path: Path) -> Path:
    """Training throughput and median step time for every row, to compare like with like."""
    rows = [row for row in rows if row.ok]
    labels = [
        f"{FRAMEWORK_NAMES[r.framework]} {r.variant}\n{r.setting.image_size}px "
        f"{r.ok[0]['environment']['device']}"
        for r in rows
    ]
    ips = [_mean_timing(r, "images_per_s") for r in rows]
    step = [_mean_timing(r, "step_ms_median") for r in rows]
    colours = [FRAMEWORKS[r.framework].colour for r in rows]
    fig, (ax_ips, ax_step) = plt.subplots(1, 2, figsize=(11, 0.5 * len(rows) + 2))
    positions = np.arange(len(rows))
    ax_ips.barh(positions, ips, color=colours)
    ax_ips.set_yticks(positions, labels, fontsize=7)
    ax_ips.set(xlabel="training images / s (higher is better)")
    ax_step.barh(positions, step, color=colours)
    ax_step.set_yticks(positions, [""] * len(rows))
    ax_step.set(xlabel="median ms / training step (lower is better)")
    fig.suptitle("speed (warm-up excluded; synchronised step timing)", fontsize=10)
    return _save(fig, path)


def finding_chart(result: dict, path: Path) -> Path:
    """A finding's arm − reference accuracy per regime (per comparison and regime where it
    has several comparisons) with its 95 % CI, one bar per framework."""
    rows = result["verdicts"]
    names = rows[0].get("comparison") or {"arm": "augmented", "reference": "baseline"}

    def group(row: dict) -> tuple[str, str, str, str]:
        compared = row.get("comparison") or names
        return (compared["arm"], compared["reference"], row["split"], row["hud"])

    pairs = list(dict.fromkeys(group(r)[:2] for r in rows))
    groups = sorted({group(r) for r in rows},
                    key=lambda k: (pairs.index(k[:2]), regime_order(k[2], k[3])))
    fig, ax = plt.subplots(figsize=(8 if len(pairs) == 1 else 4 * len(pairs) + 2, 3.8))
    width = 0.76 / len(FRAMEWORKS)  # one bar per framework, side by side around the tick
    for i, framework in enumerate(FRAMEWORKS):
        offset = (i - (len(FRAMEWORKS) - 1) / 2) * width
        found = {group(r): r for r in rows if r["framework"] == framework}
        xs = [i + offset for i, key in enumerate(groups) if key in found]
        picked = [found[key] for key in groups if key in found]
        if not picked:
            continue
        deltas = np.array([100 * r["delta_accuracy"] for r in picked])
        bounds = [[r["delta_accuracy"] if b is None else b for b in r["delta_ci95"]]
                  for r in picked]   # one seed: no interval
        low = np.array([100 * b[0] for b in bounds])
        high = np.array([100 * b[1] for b in bounds])
        err = np.nan_to_num(np.vstack([deltas - low, high - deltas]))
        ax.bar(
            xs,
            deltas,
            width,
            yerr=err,
            capsize=3,
            color=FRAMEWORKS[framework].colour,
            label=FRAMEWORK_NAMES[framework],
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(groups)), [
        ("" if len(pairs) == 1 else f"{arm}\nvs {reference}\n") + f"{split} split\nHUD {hud}"
        for arm, reference, split, hud in groups], fontsize=10 if len(pairs) == 1 else 7)
    if len(pairs) == 1:
        ax.set_ylabel(f"{names['arm']} − {names['reference']} accuracy (pp)")
        ax.set_title(f"{result['finding']}: {names['arm']} against {names['reference']} "
                     "(mean over seeds, 95 % CI)", fontsize=10)
    else:
        ax.set_ylabel("arm − reference accuracy (pp)")
        ax.set_title(f"{result['finding']}: each comparison's arm against its reference "
                     "(mean over seeds, 95 % CI)", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def palette_transfer_chart(rows: list[dict], path: Path) -> Path:
    """Accuracy on the palettes an arm trained on beside the palettes it never saw (and the
    all-palettes arm on those same frames), one panel per framework and regime."""
    panels = sorted({(r["framework"], r["split"], r["hud"]) for r in rows},
                    key=lambda k: (k[1] != "random", k[0]))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False,
                             sharey=True)
    series = (("in_palette_accuracy", "palettes it trained on"),
              ("held_out_accuracy", "palettes it never saw"),
              ("reference_on_held_out", "the same frames, all-palettes arm"))
    for ax, (framework, split, hud) in zip(axes[0], panels, strict=True):
        picked = [r for r in rows if (r["framework"], r["split"], r["hud"])
                  == (framework, split, hud)]
        positions = np.arange(len(picked))
        for i, (key, label) in enumerate(series):
            values = [100 * r[key]["mean"] if r.get(key) else np.nan for r in picked]
            ax.bar(positions + (i - 1) * 0.27, values, 0.27, label=label)
        ax.set_xticks(positions, [r["arm"] for r in picked], rotation=30, ha="right",
                      fontsize=7)
        ax.set_title(f"{FRAMEWORK_NAMES[framework]}, {split} split, HUD {hud}", fontsize=9)
    axes[0][0].set_ylabel("validation accuracy (%), mean over seeds")
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)


def trajectory_chart(pairs: list, path: Path) -> Path:
    """Validation accuracy per epoch of each twin pair (trajectory parity), one panel per
    pair: the twins' curves on top of each other mean they trained the same model."""
    fig, axes = plt.subplots(1, max(len(pairs), 1), figsize=(4.6 * max(len(pairs), 1), 3.6),
                             squeeze=False, sharey=True)
    for ax, pair in zip(axes[0], pairs, strict=False):
        for side, record in (("a", pair.a), ("b", pair.b)):
            values = 100 * pair.curve(side, "val_accuracy")
            threads = record["config"]["threads"]
            ax.plot(np.arange(1, len(values) + 1), values,
                    color=FRAMEWORKS[record["framework"]].colour,
                    linestyle="-" if side == "a" else "--",
                    label=f"{FRAMEWORK_NAMES[record['framework']]}, {threads} thread(s)"
                    + (", bf16" if is_bf16(record["config"]) else ""))
            ax.legend(fontsize=7)
        ax.set(xlabel="epoch", title=f"{pair.label}, {pair.dropout} dropout masks, "
               f"seed {pair.seed}\n{pair.setting.title}")
        ax.title.set_fontsize(8)
    axes[0][0].set_ylabel("validation accuracy (%)")
    return _save(fig, path)


def resolution_chart(table: dict, path: Path) -> Path:
    """Accuracy against input size, full frame beside the HUD-only probe, per framework."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (framework, hud), points in sorted(table.items()):
        sizes = sorted(points)
        ax.plot(sizes, [100 * points[s] for s in sizes], marker="o",
                color=FRAMEWORKS[framework].colour,
                linestyle="--" if OVERLAYS[hud].overlay else "-",
                label=f"{FRAMEWORK_NAMES[framework]}, {OVERLAYS[hud].name}")
    ax.set(xlabel="input size (px, square)", ylabel="validation accuracy (%)",
           title="Resolution study: baseline, random split, 1 seed")
    ax.title.set_fontsize(10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def majority_rates(rows: list[Row], regimes: list[tuple[str, str]]) -> list[float | None]:
    """Per regime (split, HUD mode), the majority-class rate of its validation frames."""
    out = []
    for regime in regimes:
        found = [m for r in rows if (r.setting.split, r.setting.hud) == regime
                 and (m := r.majority()) is not None]
        out.append(found[0][0] if found else None)
    return out


def regime_chart(rows: list[Row], path: Path) -> Path:
    """Accuracy per regime (split x HUD mode) for both twins and both variants, mean over
    seeds with a 95 % t-interval: the story of a matrix in one picture."""
    regimes = sorted({(r.setting.split, r.setting.hud) for r in rows if r.ok},
                     key=lambda k: (*regime_order(*k), k))
    series = sorted({(r.framework, r.variant) for r in rows if r.ok},
                    key=lambda k: (not VARIANTS[k[1]].reference, k[0]))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.9 * len(regimes)), 3.8))
    width = 0.8 / max(len(series), 1)
    for i, (framework, variant) in enumerate(series):
        xs, means, errs = [], [], []
        for j, regime in enumerate(regimes):
            found = [r for r in rows if (r.setting.split, r.setting.hud) == regime
                     and (r.framework, r.variant) == (framework, variant) and r.ok]
            if not found:
                continue
            mean, _, low, high = mean_ci(found[0].values("accuracy"), within=PROPORTION)
            xs.append(j - 0.4 + width * (i + 0.5))
            means.append(100 * mean)
            errs.append((0.0, 0.0) if low != low else (100 * (mean - low), 100 * (high - mean)))
        ax.bar(xs, means, width, yerr=np.array(errs).T if errs else None, capsize=3,
               color=FRAMEWORKS[framework].colour,
               alpha=1.0 if VARIANTS[variant].reference else 0.45,
               label=f"{FRAMEWORK_NAMES[framework]} {variant}")
    rates = majority_rates(rows, regimes)
    first = next((j for j, rate in enumerate(rates) if rate is not None), None)
    for j, rate in enumerate(rates):
        if rate is not None:  # a model predicting one class for every frame scores this
            ax.hlines(100 * rate, j - 0.45, j + 0.45, colors="black", linestyles="dashed",
                      linewidth=1, label="majority class" if j == first else None)
    ax.set_xticks(range(len(regimes)), [regime_label(*k) for k in regimes])
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Accuracy per regime (mean over seeds, 95 % CI)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)
