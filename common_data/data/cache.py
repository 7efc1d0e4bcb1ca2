"""Decode every image once, cache the uint8 NHWC array, and refuse to use a damaged cache.

Decoding rules (one place, so both twins see the same bytes):

* `cv2.imdecode(..., IMREAD_UNCHANGED)`: no implicit colour conversion, no EXIF rotation (thermal
  cameras write none), 16-bit kept so the rule below is ours, not the codec's.
* grayscale (2-D or 1 channel) is replicated to 3 channels; BGR becomes RGB; BGRA drops alpha.
* 16-bit is scaled to 8-bit by `>> 8` (keep the high byte): exact, monotone, and the same on
  every platform, unlike a float rescale that would round differently.
* then `Preprocess.apply`: HUD policy on the full-resolution frame, resize to size x size.

The cache key hashes the format version, every preprocessing choice and every file's
(rel_path, label, sha256), so a changed file changes the key and an old entry is never reused.
An entry is `<key>.npy` plus a `<key>.json` manifest holding the array's sha256; both are
written to a temporary name and `os.replace`d, so a crash leaves no half-written entry under the
real name. On load the checksum is verified (sha256 of the real set's 122 MB at 128x128 takes
about 0.08 s with SHA-NI); a damaged entry is reported on stderr and rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from common_data.atomic import atomic_file, write_text_atomic
from common_data.data.cache_root import cache_root
from common_data.data.image_limits import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_ENV,
    max_pixels,
    too_large,
)
from common_data.data.preprocess import Preprocess
from common_data.errors import DataError

if TYPE_CHECKING:
    from common_data.data.discovery import Dataset, Record

CACHE_FORMAT_VERSION = 1
# OpenCV's log lines start with "[ WARN:0@0.2] global grfmt_png.cpp:793 readFromStreamOrBuffer".
_CODEC_LOG_PREFIX = re.compile(r"^\[[^\]]*\]\s*global\s+\S+\s+\S+\s+")
SKIP_HINT = "fix or remove it, or skip bad files with --skip-bad (skip_bad=True)"



@dataclass
class Images:
    """Decoded pixels plus everything needed to say exactly which data a run saw."""

    images: np.ndarray  # uint8 (N, H, W, 3) RGB
    labels: np.ndarray  # int64 (N,), index into `classes`
    records: list[Record]
    cache_key: str
    dataset_hash: str
    root: Path  # the dataset folder the records were found in
    preprocess: Preprocess
    skipped: list[dict] = field(default_factory=list)
    source_formats: dict[str, int] = field(default_factory=dict)
    classes: tuple[str, ...] = ()  # the dataset's classes, in the model's output order

    def __len__(self) -> int:
        return len(self.records)


class _BadImage(DataError):
    """A file that is not a decodable image; carries the reason shown to the user.

    A DataError, so a caller of `decode_rgb` that reports BenchErrors reports this one too.
    """


def cache_key(dataset: Dataset, preprocess: Preprocess) -> str:
    """The entry's name. The pixel limit is part of it when it is not the default: an entry
    records which files the limit refused, so raising the limit (as its error advises) must
    decode again, and reading it here refuses a bad value before any cache hit hides it."""
    content: dict[str, object] = {
        "format": CACHE_FORMAT_VERSION,
        "preprocess": preprocess.key(),
        "files": [[r.rel_path, r.label, r.sha256] for r in dataset.records],
    }
    if (limit := max_pixels()) != DEFAULT_MAX_PIXELS:  # default entries keep their old names
        content["max_pixels"] = limit
    payload = json.dumps(content, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def load(
    dataset: Dataset,
    preprocess: Preprocess | None = None,
    cache_dir: str | os.PathLike | None = None,
    skip_bad: bool = False,
) -> Images:
    """Decoded images of `dataset`, from the cache when an intact entry exists.

    Bad files are recorded in the cache entry too, so a second run with `skip_bad=True` needs
    no decode, and one without it fails with the same one-line error.
    """
    preprocess = preprocess or Preprocess()
    key = cache_key(dataset, preprocess)
    folder = (Path(cache_dir) if cache_dir is not None else cache_root()) / "decoded"
    entry = _read_entry(folder, key)
    if entry is None:
        array, bad, formats = _decode_all(dataset.records, preprocess)
        manifest = {"skipped": bad, "source_formats": formats}
        _write_entry(folder, key, array, manifest)
    else:
        array, manifest = entry

    skipped = [
        {"path": str(dataset.root / item["path"]), "reason": item["reason"]}
        for item in manifest["skipped"]
    ]
    if skipped and not skip_bad:
        first = skipped[0]
        raise DataError(f"cannot decode image file {first['path']}: {first['reason']}; {SKIP_HINT}")
    if not len(array):
        raise DataError(f"no image in {dataset.root} could be decoded: expected readable images")
    bad_paths = {item["path"] for item in manifest["skipped"]}
    records = [r for r in dataset.records if r.rel_path not in bad_paths]
    dataset.bad_files = skipped
    return Images(
        images=array,
        labels=np.array([dataset.classes.index(r.label) for r in records], dtype=np.int64),
        records=records,
        cache_key=key,
        dataset_hash=dataset.hash(),
        root=dataset.root,
        preprocess=preprocess,
        skipped=skipped,
        source_formats=manifest["source_formats"],
        classes=dataset.classes,
    )


def decode_rgb(data: bytes) -> tuple[np.ndarray, str]:
    """Decode file bytes to uint8 RGB (H, W, 3) by the rules in the module docstring.

    Returns the frame and a short description of the source format ('320x240 3ch uint8').
    """
    if not data:
        raise _BadImage("the file is empty (0 bytes)")
    bomb = too_large(data)
    if bomb:
        raise _BadImage(bomb)
    try:
        raw = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # OpenCV's own size guard is an assertion, not a None
        message = str(exc).strip().splitlines()[-1][:120]
        raise _BadImage(f"the decoder refuses it ({message})") from None
    if raw is not None and raw.shape[0] * raw.shape[1] > max_pixels():
        raise _BadImage(f"{raw.shape[1]}x{raw.shape[0]} pixels is over the limit of "
                        f"{max_pixels():,} ({MAX_PIXELS_ENV})")
    if raw is None:
        raise _BadImage("OpenCV cannot decode it (truncated, corrupt or not image data)")
    channels = 1 if raw.ndim == 2 else raw.shape[2]
    source = f"{raw.shape[0]}x{raw.shape[1]} {channels}ch {raw.dtype}"
    if raw.dtype == np.uint16:
        raw = (raw >> 8).astype(np.uint8)
    elif raw.dtype != np.uint8:
        raise _BadImage(f"pixel type {raw.dtype} is not supported (expected 8- or 16-bit)")
    conversions = {1: cv2.COLOR_GRAY2RGB, 3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGB}
    if channels not in conversions:
        raise _BadImage(f"{channels} channels are not supported (expected 1, 3 or 4)")
    if raw.ndim == 3 and channels == 1:
        raw = raw[:, :, 0]
    return cv2.cvtColor(raw, conversions[channels]), source


def _decode_one(record: Record, preprocess: Preprocess) -> tuple[np.ndarray, str]:
    try:
        data = record.path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read image file {record.path}: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != record.sha256:
        raise DataError(
            f"image file {record.path} changed after the dataset was scanned: expected "
            f"sha256 {record.sha256[:12]}..., run again"
        )
    rgb, source = decode_rgb(data)
    return preprocess.apply(rgb), source


def _decode_all(
    records: list[Record], preprocess: Preprocess
) -> tuple[np.ndarray, list[dict], dict[str, int]]:
    """Decode in threads (OpenCV releases the GIL); results land by index, so order is fixed."""

    def task(record: Record) -> tuple[np.ndarray, str] | _BadImage:
        try:
            return _decode_one(record, preprocess)
        except _BadImage as exc:
            return exc

    with _captured_stderr(), ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = list(pool.map(task, records))

    size = preprocess.size
    good = [res for res in results if not isinstance(res, _BadImage)]
    array = np.empty((len(good), size, size, 3), dtype=np.uint8)
    for i, (frame, _) in enumerate(good):
        array[i] = frame
    bad = [
        {"path": record.rel_path, "reason": _with_codec_message(record, str(res))}
        for record, res in zip(records, results, strict=True)
        if isinstance(res, _BadImage)
    ]
    formats = dict(sorted(Counter(source for _, source in good).items()))
    return array, bad, formats


def _with_codec_message(record: Record, reason: str) -> str:
    """Re-decode one bad file alone to attach the codec's own complaint (e.g. libpng's)."""
    if not reason.startswith("OpenCV"):
        return reason
    with _captured_stderr() as captured:
        cv2.imdecode(np.frombuffer(record.path.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    lines = [_CODEC_LOG_PREFIX.sub("", line).strip() for line in captured[0].splitlines()]
    lines = [line for line in lines if line]
    return f"{reason}: {lines[-1][:160]}" if lines else reason


@contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Route file descriptor 2 to a temp file: libpng and OpenCV print straight to it, and a
    user should see one clear error line, not codec chatter. The text lands in the yielded list.
    """
    captured: list[str] = []
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield captured
        captured.append("")
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode(errors="replace"))


def _checksum(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()


def _warn_damaged(path: Path, why: str) -> None:
    print(f"warning: decode cache {path} is damaged ({why}); rebuilding it", file=sys.stderr)


def _read_entry(folder: Path, key: str) -> tuple[np.ndarray, dict] | None:
    """The cached array and manifest, or None when absent or damaged (damage is reported)."""
    manifest_path = folder / f"{key}.json"
    array_path = folder / f"{key}.npy"
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        expected = (manifest["format"], manifest["key"], tuple(manifest["shape"]))
        checksum = manifest["sha256"]
        if not isinstance(manifest["skipped"], list) or not isinstance(
            manifest["source_formats"], dict
        ):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        _warn_damaged(manifest_path, "unreadable manifest")
        return None
    if expected[:2] != (CACHE_FORMAT_VERSION, key):
        _warn_damaged(manifest_path, "manifest of another entry")
        return None
    try:
        array = np.load(array_path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        _warn_damaged(array_path, "unreadable or truncated array")
        return None
    if array.dtype != np.uint8 or array.shape != expected[2]:
        _warn_damaged(array_path, f"shape {array.shape} {array.dtype}, expected {expected[2]}")
        return None
    if _checksum(array) != checksum:
        _warn_damaged(array_path, "checksum mismatch")
        return None
    return array, manifest


def _write_entry(folder: Path, key: str, array: np.ndarray, extra: dict) -> None:
    """Array first, manifest last: a manifest only ever points at a complete array."""
    manifest = {
        "format": CACHE_FORMAT_VERSION,
        "key": key,
        "shape": list(array.shape),
        "dtype": "uint8",
        "sha256": _checksum(array),
        **extra,
    }
    try:
        with atomic_file(folder / f"{key}.npy") as fh:
            np.save(fh, array, allow_pickle=False)
        write_text_atomic(folder / f"{key}.json", json.dumps(manifest, indent=1))
    except OSError as exc:
        print(
            f"warning: cannot write decode cache in {folder} ({exc.strerror}); "
            f"images will be decoded again next time",
            file=sys.stderr,
        )
