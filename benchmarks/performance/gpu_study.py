"""The GPU seed study's figures, from the records the device returned
(`benchmarks/performance/gpu_kit.py`
ingests them into `results/performance/gpu/`).

Questions it answers, for the PyTorch twin's paper-protocol baseline (128x128, 20 epochs):
- how final accuracy spreads over many seeds, and how many seeds sit on the loss plateau;
- whether GPU runs come from the same distribution as the CPU runs of the same protocol (a
  two-sample test), and how far runs of the same seed differ (accuracy, and how often their
  predictions agree frame by frame: both see the same validation images in the same order);
- what bf16 autocast does to accuracy (paired by seed) and to time, against float32;
- one run's time on the GPU, beside the CPU's and the published study's own GPU time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from benchmarks.findings.convergence import plateau_epochs
from benchmarks.matrix.records import is_bf16, load_predictions, load_records
from benchmarks.stats import PROPORTION, mean_ci, paired_t_test
from common_data.bench.suite import gpu_seed_study
from common_data.frameworks import GPU_KIT

# Config keys in which runs of the study may differ and still be one protocol: the seed, where
# it runs and with how many host threads, the repacked copy of the same pixels (the records'
# validation digests must still agree), and its modes.
_NOT_PROTOCOL = frozenset({"seed", "data", "device", "threads", "inter_op_threads",
                           "save_weights", "mode"})
# A seed "sat on the plateau" when its training loss stayed within 1 % of its first epoch's
# for at least this many epochs (a quarter of the paper's 20).
PLATEAU_SEEDS_MIN_EPOCHS = 5
# The runs of seed 0 that gpu_check.sh runs alone: the study's timings.
SOLO = {"float32": "paper-gpu", "bf16": "paper-gpu-bf16"}


def _protocol(record: Mapping[str, Any]) -> tuple[Any, ...]:
    config = {k: v for k, v in record["config"].items() if k not in _NOT_PROTOCOL}
    data = record.get("data") or {}
    # not the split hash: it hashes file names, which the kit's repacked copy changes; the
    # validation digest hashes the validation pixels in order, and the kit checked that the
    # copy decodes to the original's pixels
    return (repr(sorted(config.items())), data.get("n_train"), data.get("n_val"),
            data.get("val_digest"))


def _precision(record: Mapping[str, Any]) -> str:
    return "bf16" if is_bf16(record["config"]) else "float32"


def _majority_rate(record: Mapping[str, Any]) -> float:
    confusion = np.asarray(record["metrics"]["confusion"])
    return float(confusion.sum(axis=1).max() / confusion.sum())


def _spread(records: list[dict[str, Any]]) -> dict[str, Any]:
    accuracies = [r["metrics"]["accuracy"] for r in records]
    mean, std, low, high = mean_ci(accuracies, within=PROPORTION)
    plateaus = [plateau_epochs(r["history"]) for r in records]
    return {"n": len(records), "seeds": [r["config"]["seed"] for r in records],
            "accuracy": accuracies, "mean": mean, "std": std, "ci95": [low, high],
            "min": min(accuracies), "max": max(accuracies),
            "median": float(np.median(accuracies)),
            "plateau_epochs": plateaus,
            "seeds_on_plateau": sum(p >= PLATEAU_SEEDS_MIN_EPOCHS for p in plateaus),
            "majority_rate": _majority_rate(records[0])}


def _agreement(a: Mapping[str, Any], b: Mapping[str, Any]) -> float | None:
    pa, pb = load_predictions(dict(a)), load_predictions(dict(b))
    if pa is None or pb is None or not np.array_equal(pa["val_indices"], pb["val_indices"]):
        return None
    return float(np.mean(pa["proba"].argmax(axis=1) == pb["proba"].argmax(axis=1)))


def _pairs(left: Iterable[dict[str, Any]], right: Iterable[dict[str, Any]]) -> list[dict]:
    by_seed = {r["config"]["seed"]: r for r in right}
    return [{"seed": a["config"]["seed"],
             "delta": a["metrics"]["accuracy"] - by_seed[a["config"]["seed"]]["metrics"][
                 "accuracy"],
             "agreement": _agreement(a, by_seed[a["config"]["seed"]])}
            for a in left if a["config"]["seed"] in by_seed]


def _pair_summary(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    deltas = [p["delta"] for p in pairs]
    agreements = [p["agreement"] for p in pairs if p["agreement"] is not None]
    mean, _, low, high = mean_ci(deltas) if deltas else (None, None, None, None)
    return {"pairs": pairs, "n": len(pairs), "mean_delta": mean, "ci95": [low, high],
            "max_abs_delta": max((abs(d) for d in deltas), default=None),
            "agreement_mean": float(np.mean(agreements)) if agreements else None,
            "agreement_min": min(agreements, default=None)}


def _timing(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not record or record.get("status") != "ok":
        return None
    timing = record["timing"]
    return {"train_s": timing["train_s"], "total_s": timing["total_s"],
            "step_ms_median": timing["step_ms_median"],
            "epochs": len(record["history"]), "gpu": record["environment"].get("gpu"),
            "concurrent_runs": record["environment"].get("concurrent_runs", 1)}


def seed_study(gpu_folder: Path, cpu_runs: Path) -> dict[str, Any] | None:
    """The study from an ingested folder (`seeds/` plus the two solo seed-0 records), beside
    the CPU records in `cpu_runs` of the same protocol; None when nothing was ingested."""
    seeds = gpu_folder / "seeds"
    if not seeds.is_dir():
        return None
    runs = load_records(seeds)
    ok = [r for r in runs if r.get("status") == "ok" and r.get("metrics")]
    if not ok:
        return None
    protocol = _protocol(ok[0])
    by_precision: dict[str, list[dict[str, Any]]] = {}
    for record in sorted(ok, key=lambda r: r["config"]["seed"]):
        if _protocol(record) == protocol:
            by_precision.setdefault(_precision(record), []).append(record)
    cpu = sorted((r for r in load_records(cpu_runs)
                  if r.get("status") == "ok" and r.get("framework") == GPU_KIT
                  and _protocol(r) == protocol and _precision(r) == "float32"),
                 key=lambda r: r["config"]["seed"])
    float32, bf16 = by_precision.get("float32", []), by_precision.get("bf16", [])
    study: dict[str, Any] = {
        "failed": len(runs) - len(ok),
        "spread": {name: _spread(records) for name, records in by_precision.items()},
        "plateau_rule": f"training loss stayed within 1 % of its first epoch's for at least "
                        f"{PLATEAU_SEEDS_MIN_EPOCHS} epochs",
    }
    if cpu:
        study["cpu"] = _spread(cpu)
        study["cpu"]["timing"] = _timing(cpu[0])
        if float32:
            test = scipy_stats.mannwhitneyu([r["metrics"]["accuracy"] for r in float32],
                                            [r["metrics"]["accuracy"] for r in cpu])
            study["gpu_vs_cpu"] = {"test": "Mann-Whitney U, two-sided",
                                   "statistic": float(test.statistic),
                                   "p": float(test.pvalue),
                                   **_pair_summary(_pairs(float32, cpu))}
    if float32 and bf16:
        pairs = _pairs(bf16, float32)
        study["bf16_vs_float32"] = {
            **_pair_summary(pairs),
            "paired_t_p": paired_t_test(
                [p["delta"] for p in pairs], [0.0] * len(pairs)) if len(pairs) > 1 else None}
    named = {Path(r["_path"]).stem: r for r in runs}
    solo = {precision: _timing(named.get(name)) for precision, name in SOLO.items()}
    published = gpu_seed_study()["published_gpu"]
    study["timing"] = {"solo": solo, "published": published}
    return study
