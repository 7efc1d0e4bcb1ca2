"""The published figures beside ours, shown only beside the dataset they were measured on,
and the notes on how our protocol departs from the published one."""

from typing import Any

import numpy as np

from benchmarks.findings.protocol import published_protocol
from benchmarks.formatting import percent
from benchmarks.markdown import md_text
from benchmarks.matrix.records import (
    Row,
    training_set_note,
)
from benchmarks.report.tables import seed_ensemble
from common_data.data.card import shipped_cards
from common_data.frameworks import FRAMEWORK_NAMES


def _best_rows(rows: list[Row], item: dict[str, Any], transfer: str) -> dict[str, Row]:
    """Per framework, our highest-fidelity row (largest input, then most seeds) of the
    published row's spec, transfer mode and variant, on the published split and frame."""
    variant = "baseline" if item["variant"] == "ensemble" else item["variant"]
    best: dict[str, Row] = {}
    for row in rows:
        config = row.records[0]["config"]
        if (row.setting.split, row.setting.hud, row.variant) != ("random", "full", variant) \
                or not row.ok or config["spec"] != item["spec"] \
                or config.get("transfer", "scratch") != transfer or training_set_note(config):
            continue
        current = best.get(row.framework)
        rank = (row.setting.image_size, len(row.ok))
        if current is None or rank > (current.setting.image_size, len(current.ok)):
            best[row.framework] = row
    return best


def _ours_text(found: dict[str, Row], ensemble: bool) -> str:
    parts = []
    protocol = published_protocol()
    for framework, row in sorted(found.items()):
        where = f"{row.setting.image_size}px, {md_text(row.setting.data_label)}"
        published_epochs = (protocol.augmented_epochs if row.variant == "augmented"
                            else protocol.baseline_epochs)
        epochs = max(r["config"]["epochs"] for r in row.records)
        if epochs != published_epochs:  # a smoke run is never read as a result
            where = f"{epochs} epoch{'s' if epochs > 1 else ''}, {where}"
        if ensemble:
            result = seed_ensemble(row)
            if result:
                parts.append(f"{FRAMEWORK_NAMES[framework]} {percent(result[0]['accuracy'])} "
                             f"({len(row.ok)}-seed ensemble, {where})")
            continue
        seeds = len(row.ok)
        accuracy = percent(float(np.mean(row.values('accuracy'))))
        parts.append(f"{FRAMEWORK_NAMES[framework]} {accuracy}"
                     f" ({seeds} seed{'s' if seeds > 1 else ''}, {where})")
    return "; ".join(parts)


def _dataset_hash(row: Row) -> str | None:
    return row.records[0].get("data", {}).get("dataset_hash") if row.records else None


def published_table(rows: list[Row]) -> list[str]:
    """The published figures beside ours on the published split (random, full frame): per
    published model, our runs of the same spec (and transfer mode), or why there are none.
    A run trained from scratch is never shown as a transfer result."""
    cards = [c for c in shipped_cards() if c.published is not None]
    hashes = {_dataset_hash(row) for row in rows}
    card = next((c for c in cards if c.content_hash in hashes), None)
    if card is None:
        return ["None for these datasets: published figures come from a dataset card's "
                "`[published]` table, tied to the content hash of the data they were measured on."]
    # figures stand only beside runs on the very content they were measured on
    rows = [row for row in rows if _dataset_hash(row) == card.content_hash]
    published = card.published
    lines = [
        f"Published values are from the {published['source']}, labelled **published**; "
        "ours are this project's records of the same spec on the random split with the full "
        "frame, per twin, at the largest input size run (seeds, input and dataset named).",
        "",
        "| framework | model | published accuracy | published params | ours: accuracy "
        "(mean over seeds) | ours: params |",
        "|---|---|---|---|---|---|",
    ]
    for item in published["row"]:
        transfer = item.get("transfer", "scratch")
        found = _best_rows(rows, item, transfer)
        ensemble = item["variant"] == "ensemble"
        run_it = f"`compare --profile {item['profile']}`" if "profile" in item else ""
        mine = _ours_text(found, ensemble) or (
            f"not run yet ({run_it})" if run_it else "not run yet: no profile runs this variant")
        if not found and transfer != "scratch":
            scratch = _ours_text(_best_rows(rows, item, "scratch"), ensemble)
            mine = ("not run: needs `--pretrained FILE` (ImageNet weights, torchvision layout"
                    + (f"; {run_it} `--pretrained FILE`)" if run_it else ")")
                    + (f"; from scratch instead: {scratch}" if scratch else ""))
        params = next((f"{r.ok[0]['model']['params_total']:,}" for r in found.values()), "")
        published_params = item.get("params_note") or (
            f"{item['params']:,}" if "params" in item else "")
        lines.append(
            f"| {FRAMEWORK_NAMES[item['framework']]} | {item['model']} | "
            f"{percent(item['accuracy'])} (published) | {published_params} | {mine} | {params} |"
        )
    return lines


def protocol_notes(rows: list[Row]) -> list[str]:
    """Say plainly where our protocol departs from the published one."""
    published = published_protocol()
    notes = []
    for row in rows:
        config = row.records[0]["config"]
        baseline_epochs = config["epochs"] if row.variant == "baseline" else None
        notes += published.departures(config["image_size"], baseline_epochs)
    unique = sorted(set(notes))
    # one note for the seed counts, as a range when the cells differ
    counts = sorted({len(row.records) for row in rows})
    if counts and counts[0] < published.seeds:
        span = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        unique.append(f"{span} seed{'s' if counts[-1] > 1 else ''} per cell "
                      f"(the published ensemble used {published.seeds} models)")
    if not unique:
        return [f"Protocol: the published one ({published.describe()})."]
    return ["**Reduced protocol** — these runs differ from the published protocol: "
            + "; ".join(unique) + "."]


