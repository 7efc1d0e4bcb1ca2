"""What each model costs to train, per framework: the framework comparison on networks whose
kernels differ (batch norm, strided and 1x1 convolutions, residual adds), not only on the
small baseline CNN.

One row per (model, input size, batch, threads, tuned modes, framework), from the stored
records' own clocks: median ms per training step, images per second and peak memory. Runs
timed while the harness kept other runs going (`--jobs` > 1) are kept apart from runs made
one at a time, because their step times are not comparable.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from common_data.frameworks import FRAMEWORK_NAMES

Key = tuple[str, int, int, int, str, int, str]


def _modes(config: dict[str, Any]) -> str:
    return ", ".join(key for key, on in sorted(config.get("mode", {}).items()) if on) or "default"


def _key(record: dict[str, Any]) -> Key:
    config = record["config"]
    at_once = (record.get("environment") or {}).get("concurrent_runs", 1)
    model = record["model"]["spec"]
    if config.get("transfer", "scratch") != "scratch":
        model += f" (transfer {config['transfer']})"
    return (model, int(config["image_size"]),
            int(config["batch_size"]), int(config["threads"]), _modes(config), at_once,
            record["framework"])


def cost_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-model cost rows from the records that finished and were timed."""
    groups: dict[Key, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        timing = record.get("timing") or {}
        if record.get("status") == "ok" and timing.get("step_ms_median"):
            groups[_key(record)].append(record)
    rows = []
    for key in sorted(groups):
        spec, size, batch, threads, modes, at_once, framework = key
        runs = groups[key]
        device = [r["memory"]["device_peak_mb"] for r in runs if r["memory"].get("device_peak_mb")]
        rows.append({
            "model": spec, "image_size": size, "batch_size": batch, "threads": threads,
            "modes": modes, "runs_at_once": at_once, "framework": framework, "runs": len(runs),
            "params": runs[0]["model"]["params_total"],
            # median over runs of each run's median step: one slow run does not move it
            "step_ms": float(np.median([r["timing"]["step_ms_median"] for r in runs])),
            "images_per_s": float(np.median([r["timing"]["images_per_s"] for r in runs])),
            "peak_mb": max(device) if device else max(r["memory"]["peak_rss_mb"] for r in runs),
            "memory_kind": "device" if device else "RSS",
        })
    return rows


def section(records: list[dict[str, Any]]) -> list[str]:
    """The report's per-model cost table (empty without timed records)."""
    rows = cost_rows(records)
    if not rows:
        return []
    lines = [
        "## Cost per model",
        "",
        "Median ms per training step (median over runs of each run's median, warm-up apart), "
        "images/s and peak memory, per model, input, batch, threads, tuned modes and "
        "framework, from the stored records. *At once*: how many runs the harness kept "
        "going side by side (`--jobs`); compare step times only between rows with the same "
        "count, and note that other work on the machine is not recorded.",
        "",
        "| model | params | input | batch | threads | modes | at once | framework | runs | "
        "ms/step | images/s | peak memory |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['params']:,} | {r['image_size']}x{r['image_size']} | "
            f"{r['batch_size']} | {r['threads']} | {r['modes']} | "
            f"{r['runs_at_once']} | {FRAMEWORK_NAMES[r['framework']]} | "
            f"{r['runs']} | {r['step_ms']:,.1f} | {r['images_per_s']:,.1f} | "
            f"{r['peak_mb']:,.0f} MB ({r['memory_kind']}) |"
        )
    return [*lines, ""]
