"""`python -m common_data describe | split | digest`: look at the data before trusting a run.

`digest` prints, as its last line, the sha256 over every training batch (x bytes then y bytes,
in order) that `iterate_batches` yields: run it under both interpreters and compare the lines to
prove both twins are fed the same bytes. A BenchError ends the program with one line on stderr
and exit code 2, like argparse's own errors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Sequence
from typing import NoReturn

import cv2

from common_data.atomic import write_bytes_atomic
from common_data.data.batches import iterate_batches
from common_data.data.cache import Images, load
from common_data.data.card import load_card, suggested_card
from common_data.data.datasets import load_for_run, preprocess_for, resolve_data
from common_data.data.discovery import Dataset, discover, summarize
from common_data.data.overlay import card_boxes, find_overlays, overlay_score, score_figure
from common_data.data.splits import Split, make_split
from common_data.errors import BenchError, ConfigError, one_line, reader_went_away
from common_data.regimes import OVERLAYS, SPLITS, full_frame


class _Parser(argparse.ArgumentParser):
    """Flag errors as one line (no usage block), matching the BenchError lines."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m common_data", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", required=True, help="'synthetic' or a dataset folder")
        p.add_argument("--image-size", type=int, default=128, help="decoded size (default 128)")
        p.add_argument("--hud", choices=OVERLAYS, default=full_frame(), help="HUD policy")
        p.add_argument("--skip-bad", action="store_true", help="skip undecodable files, list them")
        p.add_argument("--card", help="dataset card (TOML) to use instead of the folder's "
                       "dataset.toml or a shipped card")

    def split_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--split", choices=SPLITS, required=True)
        p.add_argument("--fold", type=int, default=None, help="loso fold (session index)")

    p = sub.add_parser("describe", help="classes, palettes, sessions, bad files; without a "
                       "card, a suggested card (overlay candidates included)")
    common(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--overlay-figure", help="write a PNG heat map of how nearly identical each "
                   "pixel is across frames (bright: a burned-in overlay candidate)")

    p = sub.add_parser("split", help="split sizes per class and session, leakage audit")
    common(p)
    split_args(p)
    p.add_argument("--seed", type=int, default=42, help="random split seed (default 42)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")

    p = sub.add_parser("digest", help="sha256 of every training batch, for twin parity")
    common(p)
    split_args(p)
    p.add_argument("--split-seed", type=int, default=42, help="random split seed (default 42)")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--seed", type=int, required=True, help="shuffle/augmentation seed")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--augment", action="store_true", help="the published augmentation")
    p.add_argument("--drop-last", action="store_true", help="drop a partial last batch")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "describe":
            code = _describe(args)
        elif args.command == "split":
            code = _split(args)
        else:
            code = _digest(args)
        sys.stdout.flush()  # inside the try: a closed pipe is reported here, not at exit
        return code
    except BenchError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return reader_went_away()


def describe_dataset(dataset: Dataset, images: Images) -> dict:
    """Counts over the frames a run would use (bad files skipped), plus what was left out."""
    summary = summarize(images.records, dataset.classes)
    return {
        "root": str(dataset.root),
        "layout": dataset.layout,
        "n_files": len(dataset.records),
        "n_images": len(images),
        **summary,
        "missing_classes": [c for c in dataset.classes if c not in summary["classes"]],
        "card": str(dataset.card.path) if dataset.card is not None else None,
        "class_names": list(dataset.classes),
        "folders": {r.folder: r.label for r in dataset.records},
        "source_formats": images.source_formats,
        "bad_files": dataset.bad_files,
        "unknown_folders": dataset.unknown_folders,
        "ignored_files": dataset.ignored_files,
        "dataset_hash": dataset.hash(),
        "class_by_session": {
            s: dict(Counter(r.label for r in images.records if r.session == s))
            for s in summary["sessions"]
        },
        "class_by_palette": {
            p: dict(Counter(r.label for r in images.records if (r.palette or "-") == p))
            for p in summary["palettes"]
        },
    }


def _describe(args: argparse.Namespace) -> int:
    card = load_card(args.card, where=f"--card {args.card}") if args.card else None
    dataset = discover(resolve_data(args.data), card=card)
    images = load(dataset, preprocess_for(dataset, args.image_size, args.hud),
                  skip_bad=args.skip_bad)
    info = describe_dataset(dataset, images)
    score = overlay_score(images.images)
    if args.overlay_figure:
        write_bytes_atomic(args.overlay_figure, cv2.imencode(".png", score_figure(score))[1]
                           .tobytes())
    height, width = _common_frame(info["source_formats"])
    info["overlay_candidates"] = card_boxes(find_overlays(score), height, width)
    if dataset.card is None:
        info["suggested_card"] = suggested_card(dataset.root.name, dataset.classes,
                                                dataset.sessions, info["overlay_candidates"])
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"dataset   {info['root']}  (layout {info['layout']})")
    print(f"hash      {info['dataset_hash']}")
    print(f"card      {info['card'] or 'none: classes are the folder names'}")
    print(f"images    {info['n_images']} of {info['n_files']} files, {info['bursts']} bursts")
    folders = ", ".join(f"{f} -> {label}" for f, label in info["folders"].items() if f != label)
    print(f"folders   {folders or 'all named as their class'}")
    formats = ", ".join(f"{k}: {v}" for k, v in info["source_formats"].items())
    print(f"formats   {formats}")
    print()
    _table("palette", info["class_names"], info["palettes"], info["class_by_palette"])
    print()
    _table("session", info["class_names"], info["sessions"], info["class_by_session"])
    unknown = info["unknown_folders"]
    for label, items in (
        ("missing classes", info["missing_classes"]),
        ("unknown folders (not used)", [f"{k} ({n} files)" for k, n in unknown.items()]),
        ("bad files (skipped)", [f"{b['path']}: {b['reason']}" for b in info["bad_files"]]),
        ("ignored files (not images)", info["ignored_files"]),
    ):
        if items:
            print(f"\n{label}:")
            for item in items:
                print(f"  {item}")
    if "suggested_card" in info:
        print("\nno dataset card: this one was inferred (save it as dataset.toml and edit):\n")
        print(info["suggested_card"], end="")
    else:
        print("\noverlay candidates (regions nearly identical across most frames):\n")
        print(info["overlay_candidates"], end="")
    return 0


def _common_frame(source_formats: dict[str, int]) -> tuple[int, int]:
    """(height, width) of the most common decoded frame size ('320x240 3ch uint8')."""
    fmt = max(source_formats, key=lambda k: source_formats[k], default="0x0")
    height, _, width = fmt.split(" ")[0].partition("x")
    return int(height or 0), int(width or 0)


def _table(name: str, classes: list[str], totals: dict[str, int],
           by_row: dict[str, dict[str, int]]) -> None:
    """Rows by palette or session, one column per class: the confounds show at a glance."""
    width = max(len(name), *(len(k) for k in totals))
    print(f"{name:<{width}}  " + "  ".join(f"{c:>8}" for c in classes) + f"  {'total':>6}")
    for key, total in totals.items():
        cells = "  ".join(f"{by_row[key].get(c, 0):>8}" for c in classes)
        print(f"{key:<{width}}  {cells}  {total:>6}")


def _load_split(args: argparse.Namespace, seed: int) -> tuple[Images, Split]:
    card = load_card(args.card, where=f"--card {args.card}") if args.card else None
    images = load_for_run(args.data, args.image_size, args.hud, args.skip_bad, card=card)
    return images, make_split(images, args.split, fold=args.fold, seed=seed)


def _split(args: argparse.Namespace) -> int:
    _, split = _load_split(args, args.seed)
    info = split.describe()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    held = ", ".join(info["held_out_sessions"]) or "-"
    fold = "-" if info["fold"] is None else info["fold"]
    print(f"split     {info['split']}  fold {fold}  held-out sessions {held}")
    print(f"hash      {info['hash']}")
    classes = list(info["train"]["classes"])
    print(f"{'':<10}" + "".join(f"{c:>10}" for c in classes) + f"{'total':>8}")
    for side in ("train", "val"):
        cells = "".join(f"{info[side]['classes'][c]:>10}" for c in classes)
        print(f"{side:<10}{cells}{info[side]['n']:>8}")
    for side in ("train", "val"):
        sessions = ", ".join(f"{k}: {v}" for k, v in info[side]["sessions"].items())
        print(f"{side} sessions: {sessions}")
    leak = info["leakage"]
    print(
        f"leakage   {leak['near_duplicate_fraction']:.1%} of val frames have a near-copy in train "
        f"(threshold {leak['threshold']}); {leak['shared_burst_fraction']:.1%} share a burst"
    )
    return 0


def _digest(args: argparse.Namespace) -> int:
    if args.epochs < 1:
        raise ConfigError(f"--epochs {args.epochs} is not valid: expected an integer >= 1")
    images, split = _load_split(args, args.split_seed)
    total = hashlib.sha256()
    for epoch in range(args.epochs):
        per_epoch = hashlib.sha256()
        batches = 0
        for x, y in iterate_batches(
            images.images, images.labels, split.train, batch_size=args.batch_size,
            seed=args.seed, epoch=epoch, shuffle=True, augment=args.augment,
            drop_last=args.drop_last,
        ):
            for part in (x.tobytes(), y.tobytes()):
                total.update(part)
                per_epoch.update(part)
            batches += 1
        print(f"epoch {epoch}: {batches} batches of {len(split.train)} training frames, "
              f"sha256 {per_epoch.hexdigest()}")
    print(total.hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
