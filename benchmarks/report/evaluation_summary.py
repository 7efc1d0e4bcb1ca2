"""The readable summary of a cross-dataset evaluation, rendered from its stored document.

Rendering from the document (not from live objects) means the text a user reads and the JSON
that is kept can never tell different stories. What was not evaluated is shown as plainly as
what was: unmapped folders with their frame counts, classes absent from the folder, skipped
files, and a warning when the "other" dataset is the training data itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _header(doc: dict[str, Any]) -> list[str]:
    data = doc["data"]
    size = data["image_size"]
    lines = [
        f"run {doc['run_id']} ({doc['framework']}, {doc['model']['spec']}, {size}x{size}, "
        f"HUD {data['hud']}), trained on {doc['trained_on']['dataset']}",
        f"data {data['dataset']} ({data['layout']} layout): {doc['metrics']['n']} frames "
        f"evaluated",
    ]
    width = max(len(f"{folder} -> {label}") for folder, label in data["folders"].items())
    for folder, label in sorted(data["folders"].items(), key=lambda item: item[1]):
        lines.append(f"  {f'{folder} -> {label}':<{width}}  {data['frames'][label]} frames")
    for folder, frames in sorted(data["unmapped"].items()):
        free = data["absent_classes"]
        how = (f"to score it as a class with no folder here, pass --aliases FILE.toml with "
               f"[aliases] {folder} = \"{free[0]}\"" if free else
               "every class already has a folder here, and a class takes one folder")
        lines.append(f"  {folder}: {frames} frames, not evaluated (no such class; {how})")
    if data["absent_classes"]:
        lines.append(
            f"  not in this folder: {', '.join(data['absent_classes'])} (no recall for them; "
            f"they count in macro F1 only where the model predicted them, as in scikit-learn)"
        )
    if data["skipped"]:
        lines.append(f"  skipped {len(data['skipped'])} undecodable files (--skip-bad), "
                     f"e.g. {data['skipped'][0]['path']}")
    if doc["same_data_as_training"]:
        lines.append("  note: this is the dataset the run was trained on, so these numbers "
                     "include its training frames")
    return lines


def _scores(metrics: dict[str, Any], present: list[str]) -> list[str]:
    auc = metrics["roc_auc_ovr_macro"]
    auc_text = "n/a" if auc is None else f"{auc:.3f}"
    # what always predicting the largest class would score: the floor accuracy must clear
    majority = max(row["support"] for row in metrics["per_class"].values()) / max(metrics["n"], 1)
    lines = [
        f"accuracy {metrics['accuracy']:.3f} (majority class {majority:.3f})   "
        f"macro F1 {metrics['macro_f1']:.3f}   "
        f"weighted F1 {metrics['weighted_f1']:.3f}   ROC AUC (OvR macro) {auc_text}",
        "recall per class:",
    ]
    classes = metrics["classes"]
    for name in present:
        row = metrics["per_class"][name]
        hits = metrics["confusion"][classes.index(name)][classes.index(name)]
        lines.append(f"  {name:<10} {row['recall']:.3f}  ({hits}/{row['support']})")
    return lines


def _confusion(metrics: dict[str, Any], present: list[str]) -> list[str]:
    classes = metrics["classes"]
    first = max(len(c) for c in present)
    widths = [max(len(c), 5) for c in classes]
    head = " " * (first + 2) + "  ".join(f"{c:>{w}}" for c, w in zip(classes, widths, strict=True))
    lines = ["confusion (rows = true class, columns = predicted):", head]
    for name in present:
        counts = metrics["confusion"][classes.index(name)]
        cells = "  ".join(f"{n:>{w}}" for n, w in zip(counts, widths, strict=True))
        lines.append(f"  {name:<{first}}{cells}")
    return lines


def render(doc: dict[str, Any], saved: Path) -> str:
    metrics = doc["metrics"]
    present = [c for c in metrics["classes"] if metrics["per_class"][c]["support"]]
    parts = [_header(doc), _scores(metrics, present), _confusion(metrics, present),
             [f"saved: {saved}"]]
    return "\n\n".join("\n".join(part) for part in parts)
