"""What a matrix's data leaves out or gets wrong, kept beside the records and shown in the report.

Accuracy on a folder means little without knowing what the folder held: frames in folders that
map to no class, files that were ignored or could not be decoded, the same file filed under two
classes, validation frames with near-copies in training, HUD boxes laid on frames of another
camera. The preflight learns all of this while it checks the data, so the harness writes it
once per dataset (keyed by the content hash, like the records) to `<results>/data/` and the
report reads it from there; the records themselves stay as the runners write them.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.markdown import md_code, md_text
from common_data.atomic import write_json_atomic
from common_data.errors import DataError
from common_data.regimes import OVERLAYS
from common_data.safe_files import read_json_text

if TYPE_CHECKING:
    from common_data.data.cache import Images
    from common_data.data.discovery import Dataset
    from common_data.data.splits import Split

QUALITY_FOLDER = "data"
SHORT_HASH = 8
_FORMAT = re.compile(r"^(\d+)x(\d+) ")


def new_report(dataset: Dataset) -> dict[str, Any]:
    """The discovery half: what never became a frame, and files filed twice."""
    by_hash: dict[str, list[Any]] = defaultdict(list)
    for record in dataset.records:
        by_hash[record.sha256].append(record)
    duplicates = [
        {"sha256": digest, "files": [r.rel_path for r in group],
         "classes": sorted({r.label for r in group})}
        for digest, group in sorted(by_hash.items())
        if len({r.label for r in group}) > 1
    ]
    return {
        "dataset": str(dataset.root),
        "name": dataset.root.name,
        "dataset_hash": dataset.hash(),
        "n_files": len(dataset.records),
        "unmapped_folders": dict(sorted(dataset.unknown_folders.items())),
        "ignored_files": list(dataset.ignored_files),
        "duplicates_across_classes": duplicates,
        "classes": list(dataset.classes),
        "missing_classes": [c for c in dataset.classes
                            if c not in {r.label for r in dataset.records}],
        "vanished_classes": [],
        "skipped_files": [],
        "hud_warnings": [],
        "splits": {},
    }


def add_view(report: dict[str, Any], images: Images, overlay_frame: str = "") -> None:
    """The decode half: skipped files, and HUD boxes on frames of another size than the
    `overlay_frame` ("HEIGHTxWIDTH") the dataset card stated them for."""
    known = {item["path"] for item in report["skipped_files"]}
    report["skipped_files"] += [item for item in images.skipped if item["path"] not in known]
    kept = {r.label for r in images.records}
    gone = {c for c in images.classes if c not in kept and c not in report["missing_classes"]}
    report["vanished_classes"] = sorted(set(report.get("vanished_classes", [])) | gone)
    hud = images.preprocess.hud
    if not OVERLAYS[hud].overlay:  # no box is used
        return
    other = {size: n for fmt, n in images.source_formats.items()
             if (size := _frame_size(fmt)) and size != overlay_frame}
    for size, n in sorted(other.items()):
        warning = (f"HUD mode '{hud}' uses boxes the dataset card states for {overlay_frame} "
                   f"frames, but {n} frames here are {size}: the boxes may miss the overlay or "
                   "cover face")
        if warning not in report["hud_warnings"]:
            report["hud_warnings"].append(warning)


def add_split(report: dict[str, Any], split: Split, hud: str) -> None:
    """The split's leakage audit: validation frames with a near-copy or a burst in training."""
    fold = f" fold {split.fold}" if split.fold is not None else ""
    report["splits"][f"{split.kind}{fold}, HUD {hud}"] = {
        "n_train": len(split.train), "n_val": len(split.val), **split.leakage,
    }


def _frame_size(source_format: str) -> str | None:
    match = _FORMAT.match(source_format)
    return f"{match.group(1)}x{match.group(2)}" if match else None


def quality_path(results: Path, report: dict[str, Any]) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", report["name"]).strip("._") or "data"
    return results / QUALITY_FOLDER / f"{name}-{report['dataset_hash'][:SHORT_HASH]}.json"


def save_reports(results: Path, reports: list[dict[str, Any]]) -> None:
    for report in reports:
        try:
            write_json_atomic(quality_path(results, report), report)
        except OSError as exc:
            raise DataError(f"--results {results}: cannot write the data-quality file "
                            f"({exc.strerror or exc}); expected a writable folder") from None


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Plain sentences for the report, one per kind of problem; none when all is clean. Every
    name and reason comes from the data, so each is escaped for Markdown (benchmarks.markdown).
    """
    lines = [f"- {md_text(text)}" for text in class_warnings(report)]
    if report["unmapped_folders"]:
        folders = ", ".join(f"{md_code(k)} ({n} file{'s' if n != 1 else ''})"
                            for k, n in report["unmapped_folders"].items())
        lines.append(f"- folders mapped to no class, not used: {folders}")
    if report["ignored_files"]:
        ignored = report["ignored_files"]
        shown = ", ".join(md_code(f) for f in ignored[:5])
        more = f" and {len(ignored) - 5} more" if len(ignored) > 5 else ""
        lines.append(f"- ignored files (not images, broken links, FIFOs): {shown}{more}")
    if report["skipped_files"]:
        first = report["skipped_files"][0]
        lines.append(f"- {len(report['skipped_files'])} undecodable files skipped (--skip-bad), "
                     f"e.g. {md_code(first['path'])}: {md_text(first['reason'])}")
    for dup in report["duplicates_across_classes"]:
        lines.append(f"- the same file under classes {md_text(', '.join(dup['classes']))}: "
                     + ", ".join(md_code(f) for f in dup["files"]))
    lines += [f"- warning: {md_text(w)}" for w in report["hud_warnings"]]
    for name, audit in report["splits"].items():
        lines.append(
            f"- {md_text(name)} split: {100 * audit['near_duplicate_fraction']:.1f} % of "
            f"{audit['n_val']} validation frames have a near-copy in training, "
            f"{100 * audit['shared_burst_fraction']:.1f} % share a burst with training"
        )
    return lines


def class_warnings(report: dict[str, Any]) -> list[str]:
    """Classes the runs never saw: none in the folder, or every file of one left out by
    --skip-bad. Accuracy over fewer classes is not comparable, so the user must be told.
    Files written before these keys existed have neither."""
    n, missing = len(report.get("classes") or []), report.get("missing_classes") or []
    vanished = report.get("vanished_classes") or []
    lines = []
    if missing:
        lines.append(f"{len(missing)} of the {n} classes have no images in "
                     f"{report['name']}: {', '.join(missing)}")
    if vanished:
        seen = n - len(missing) - len(vanished)
        lines.append(f"every image of {', '.join(vanished)} in {report['name']} was skipped as "
                     f"undecodable (--skip-bad): the runs saw {seen} of the {n} classes")
    return lines


def load_reports(results: Path) -> dict[str, dict[str, Any]]:
    """Stored reports by dataset hash; unreadable ones are skipped with a warning."""
    reports = {}
    for path in sorted((results / QUALITY_FOLDER).glob("*.json")):
        try:
            report = json.loads(read_json_text(path, "data-quality file"))
            summary_lines(report)  # proves every field the report reads is there
            key = str(report["dataset_hash"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            print(f"warning: skipping data-quality file {path}: unreadable "
                  f"({type(exc).__name__})", file=sys.stderr)
            continue
        reports[key] = report
    return reports
