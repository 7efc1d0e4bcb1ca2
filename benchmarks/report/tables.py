"""The results tables of COMPARISON.md: accuracy and the other metrics per framework,
the 5-seed ensemble, and each framework's difference from the anchor framework, each over seeds."""

import json
from typing import Any

import numpy as np

from benchmarks.findings.convergence import plateau_epochs, still_improving
from benchmarks.formatting import percent
from benchmarks.matrix.records import (
    Row,
    load_predictions,
)
from benchmarks.stats import PROPORTION, mcnemar, mean_ci, paired_t_test
from common_data.frameworks import FRAMEWORK_NAMES
from common_data.run.metrics import classification_metrics, ensemble_proba

_METRICS = (
    ("accuracy", "accuracy"),
    ("macro_f1", "macro F1"),
    ("weighted_f1", "weighted F1"),
    ("roc_auc_ovr_macro", "ROC AUC"),
)


def _mean_ci_text(values: list[float]) -> str:
    """`mean ± std [low, high]` in percent; one seed has no spread, and says so."""
    if not values:
        return "n/a"
    mean, std, low, high = mean_ci(values, within=PROPORTION)
    if len(values) == 1:
        return f"{percent(mean)} (1 seed)"
    return f"{percent(mean)} ± {percent(std)} [{percent(low)}, {percent(high)}]"


def _avg(records: list[dict[str, Any]], section: str, key: str) -> float:
    values = [r[section][key] for r in records if r[section].get(key) is not None]
    return float(np.mean(values)) if values else float("nan")


def _memory_text(records: list[dict[str, Any]]) -> str:
    device = [r["memory"]["device_peak_mb"] for r in records if r["memory"]["device_peak_mb"]]
    if device:
        return f"{max(device):.0f} MB (device)"
    return f"{max(r['memory']['peak_rss_mb'] for r in records):.0f} MB (RSS)"


def _modes_text(config: dict[str, Any]) -> str:
    """The tuned modes a run used (threads included), e.g. 'compile, 1 thread'."""
    on = [key for key, value in config.get("mode", {}).items() if value]
    threads = config["threads"]
    return ", ".join([*on, f"{threads} thread{'s' if threads > 1 else ''}"])


def _improving_text(records: list[dict[str, Any]]) -> str:
    """How many of a row's runs were still improving at their last epoch (convergence.RULE)."""
    count = sum(still_improving(r["history"]) for r in records)
    return f"**{count} of {len(records)}**" if count else "none"


def results_table(rows: list[Row]) -> list[str]:
    head = [
        "framework",
        "variant",
        "seeds",
        *(label for _, label in _METRICS),
        "params",
        "epochs run",
        "train s",
        "ms/step",
        "images/s",
        "data wait",
        "warm-up s",
        "peak memory",
        "device",
        "dropout masks",
        "modes",
        "still improving",
        "plateau epochs",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        ok = row.ok
        diverged = len(row.records) - len(ok)
        seeds = f"{len(ok)}" + (f" (+{diverged} not ok)" if diverged else "")
        if not ok:
            lines.append(
                f"| {FRAMEWORK_NAMES[row.framework]} | {row.label} | {seeds} |"
                + " n/a |" * (len(head) - 3)
            )
            continue
        epochs_run = np.mean([len(r["history"]) for r in ok])
        cells = [
            FRAMEWORK_NAMES[row.framework],
            row.label,
            seeds,
            *(_mean_ci_text(row.values(key)) for key, _ in _METRICS),
            f"{ok[0]['model']['params_total']:,}",
            f"{epochs_run:.1f}",
            f"{_avg(ok, 'timing', 'train_s'):.1f}",
            f"{_avg(ok, 'timing', 'step_ms_median'):.1f}",
            f"{_avg(ok, 'timing', 'images_per_s'):.0f}",
            f"{100 * _avg(ok, 'timing', 'data_wait_fraction'):.1f} %",
            f"{_avg(ok, 'timing', 'warmup_s'):.2f}",
            _memory_text(ok),
            ok[0]["environment"]["device"],
            ok[0]["config"].get("dropout", "framework"),
            _modes_text(ok[0]["config"]),
            _improving_text(ok),
            f"{max(plateau_epochs(r['history']) for r in ok)}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def seed_ensemble(row: Row) -> tuple[dict[str, Any], np.ndarray, np.ndarray] | None:
    """Softmax-average of every seed's stored validation probabilities (same frames)."""
    stored = [p for p in (load_predictions(r) for r in row.ok) if p is not None]
    if len(stored) < 2:
        return None
    first = stored[0]
    if any(not np.array_equal(p["val_indices"], first["val_indices"]) for p in stored):
        return None
    proba = ensemble_proba([p["proba"] for p in stored])
    classes = row.ok[0]["metrics"]["classes"]
    return (classification_metrics(first["y_true"], proba, classes), first["y_true"],
            proba.argmax(axis=1))


def ensemble_table(rows: list[Row]) -> list[str]:
    lines = [
        "| framework | variant | models | accuracy | macro F1 | weighted F1 | ROC AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        result = seed_ensemble(row)
        if result is None:
            continue
        metrics = result[0]
        lines.append(
            f"| {FRAMEWORK_NAMES[row.framework]} | {row.label} | {len(row.ok)}-seed "
            f"ensemble | " + " | ".join(percent(metrics[k]) for k, _ in _METRICS) + " |"
        )
    return lines if len(lines) > 2 else []


def delta_table(rows: list[Row], a: str, b: str) -> list[str]:
    """Framework a − framework b per variant: paired by seed (same data order and initial
    weights)."""
    lines = [
        "| variant | seeds paired | Δ accuracy (pp) mean [95 % CI] | paired t p | "
        "McNemar on ensembles (b01/b10, p) |",
        "|---|---|---|---|---|",
    ]
    # pair rows run under the same protocol; tuned modes may differ per framework (each
    # twin in its fastest faithful mode), the rest of the protocol may not
    by_variant: dict[tuple[str, str], dict[str, Row]] = {}
    for row in rows:
        protocol = {k: v for k, v in json.loads(row.protocol).items() if k != "mode"}
        key = (row.label, json.dumps(protocol, sort_keys=True))
        by_variant.setdefault(key, {})[row.framework] = row
    for (variant, _), pair in by_variant.items():
        if not {a, b} <= pair.keys():
            continue
        a_seeds, b_seeds = pair[a].by_seed(), pair[b].by_seed()
        seeds = sorted(set(a_seeds) & set(b_seeds))
        if not seeds:
            continue
        acc_a = [a_seeds[s]["metrics"]["accuracy"] for s in seeds]
        acc_b = [b_seeds[s]["metrics"]["accuracy"] for s in seeds]
        diffs = [x - y for x, y in zip(acc_a, acc_b, strict=True)]
        mean, _, low, high = mean_ci(diffs)
        ci = f"[{100 * low:+.2f}, {100 * high:+.2f}]" if len(diffs) > 1 else "(1 seed)"
        p_seed = paired_t_test(acc_a, acc_b) if len(diffs) > 1 else float("nan")
        test = "n/a"
        ens_a, ens_b = seed_ensemble(pair[a]), seed_ensemble(pair[b])
        if ens_a and ens_b and np.array_equal(ens_a[1], ens_b[1]):
            result = mcnemar(ens_a[1], ens_a[2], ens_b[2])
            test = f"{result['b01']}/{result['b10']}, p = {result['p_value']:.3g}"
        p_text = "n/a" if np.isnan(p_seed) else f"{p_seed:.3g}"
        lines.append(f"| {variant} | {len(seeds)} | {100 * mean:+.2f} {ci} | {p_text} | {test} |")
    return lines if len(lines) > 2 else []


