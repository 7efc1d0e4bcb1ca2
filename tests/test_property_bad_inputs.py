"""Property test: whatever a damaged record or an odd dataset folder holds, the commands end
with exit 0 or 2 and one line per problem, never a traceback, a hang or a write outside.

Hypothesis generates corrupted records (a field set to any JSON value or removed, the
predictions file pointed outside, at a FIFO, a device or nothing, the record torn, replaced
by a FIFO or a link) and odd dataset layouts (class counts, folder and file names, formats,
links, FIFOs). `report`, `export` and the resume check (`is_done`) run on each record case,
`common_data describe` on each dataset, in-process, each under an alarm (a hang fails).

CI runs a bounded, derandomized set (a fixed seed: the same cases every run). A longer hunt:
    THERMAL_BENCH_PROPERTY_EXAMPLES=2000 .tox/harness/bin/python -m pytest -p no:cacheprovider \
        tests/test_property_bad_inputs.py
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib", reason="the harness needs the harness env's matplotlib")
hypothesis = pytest.importorskip("hypothesis")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from conftest import CLASSES, SEED_RUNS, frame  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_bad_inputs import _quick_figures, _seed_cell  # noqa: E402, F401
from test_hostile_files import deadline  # noqa: E402

from benchmarks.__main__ import main as bench_main  # noqa: E402
from benchmarks.matrix.local import is_done  # noqa: E402
from common_data.__main__ import main as data_main  # noqa: E402
from common_data.run.config import config_digest  # noqa: E402

pytestmark = pytest.mark.cross_env

EXAMPLES = int(os.environ.get("THERMAL_BENCH_PROPERTY_EXAMPLES", "25"))
SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None,
                    suppress_health_check=list(HealthCheck), database=None)

# --- corrupted records
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=6,
)
FIELD_PATHS = [
    ("schema_version",), ("status",), ("framework",), ("config",), ("config", "seed"),
    ("config", "variant"), ("config", "image_size"), ("config", "data"), ("data",),
    ("data", "dataset"), ("data", "image_size"), ("data", "fold"), ("metrics",),
    ("metrics", "accuracy"), ("metrics", "roc_auc_ovr_macro"), ("metrics", "confusion"),
    ("metrics", "classes"), ("history",), ("timing",), ("memory",), ("run_id",),
    ("predictions_file",), ("predictions_sha256",), ("weights_file",), ("error",),
]
PREDICTIONS = ["../outside/secret.npz", "../../outside/secret.npz", "/etc/hostname",
               "fifo.npz", "to-dev-zero.npz", "to-outside.npz", "missing.npz", "sub/../x.npz"]
RECORD_FILE = ["json", "torn", "bytes", "fifo", "link-out", "folder", "huge-nesting"]


@st.composite
def damaged_records(draw: st.DrawFn) -> dict[str, Any]:
    edits = draw(st.lists(st.tuples(st.sampled_from(FIELD_PATHS),
                                    st.one_of(st.just("<delete>"), JSON)), max_size=3))
    return {
        "edits": edits,
        "predictions": draw(st.none() | st.sampled_from(PREDICTIONS)),
        "rehash": draw(st.booleans()),  # a hand-edit that recomputed config_hash
        "file": draw(st.sampled_from(RECORD_FILE)),
        "cut": draw(st.integers(0, 400)),
        "noise": draw(st.binary(max_size=64)),
    }


def _apply(record: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = record
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            return
        target = target[key]
    if value == "<delete>":
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


def _place_record(path: Path, case: dict[str, Any], outside: Path) -> None:
    record = json.loads(path.read_text())
    for field, value in case["edits"]:
        _apply(record, field, value)
    if case["predictions"]:
        record["predictions_file"] = case["predictions"]
    if case["rehash"] and isinstance(record.get("config"), dict):
        record["config_hash"] = config_digest(record["config"])
    runs = path.parent
    with contextlib.suppress(FileExistsError):
        os.mkfifo(runs / "fifo.npz")
    for name, target in (("to-dev-zero.npz", "/dev/zero"), ("to-outside.npz", outside / "x")):
        with contextlib.suppress(FileExistsError):
            (runs / name).symlink_to(target)
    text = json.dumps(record, default=str)
    path.unlink()
    kind = case["file"]
    if kind == "json":
        path.write_text(text)
    elif kind == "torn":
        path.write_text(text[: case["cut"]])
    elif kind == "bytes":
        path.write_bytes(case["noise"])
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "link-out":
        path.symlink_to(outside / "secret.npz")
    elif kind == "folder":
        path.mkdir()
    else:
        path.write_text("[" * 100_000)


def _tree(root: Path, skip: Path) -> dict[str, bytes | str]:
    """Every entry under `root` but `skip`, with its bytes (or its kind): what must not
    change."""
    found: dict[str, bytes | str] = {}
    for entry in root.rglob("*"):
        if entry == skip or skip in entry.parents:
            continue
        mode = entry.lstat().st_mode
        found[str(entry)] = entry.read_bytes() if entry.is_file() and not entry.is_symlink() \
            else oct(mode)
    return found


def _check_output(code: int, err: str) -> None:
    assert "Traceback" not in err, err
    assert code in (0, 2), (code, err)
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), err
    else:
        assert all(line.startswith("warning: ") for line in lines), err


@contextlib.contextmanager
def _sandbox() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="property-") as tmp:
        yield Path(tmp)


@pytest.mark.skipif(not SEED_RUNS, reason="no committed 32px records in results/runs")
@SETTINGS
@given(case=damaged_records())
def test_a_damaged_record_never_breaks_report_export_or_resume(
    case: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with _sandbox() as root:
        results, outside = root / "results", root / "outside"
        (results / "runs").mkdir(parents=True)
        outside.mkdir()
        np.savez(outside / "secret.npz", val_indices=np.arange(2), y_true=np.zeros(2, int),
                 proba=np.ones((2, 5)))
        for path in SEED_RUNS:
            shutil.copy(path, results / "runs" / path.name)
        victim, cell = _seed_cell(results)
        _place_record(victim, case, outside)
        before = _tree(root, results)
        capsys.readouterr()
        for argv in (["report"], ["export"]):
            with deadline(30):
                code = bench_main([*argv, "--results", str(results)])
            _check_output(code, capsys.readouterr().err)
        with deadline(30):
            done = is_done(victim, cell)
        err = capsys.readouterr().err
        assert isinstance(done, bool) and "Traceback" not in err
        assert len(err.strip().splitlines()) <= 1 and all(
            line.startswith("warning: ") for line in err.strip().splitlines()), err
        assert _tree(root, results) == before, "something was written outside results/"


# --- odd dataset layouts
NAMES = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1,
                max_size=12).filter(lambda n: n not in (".", ".."))
KINDS = ["png", "jpg", "bmp", "webp", "text", "empty", "link-loop", "link-out", "fifo",
         "folder"]


@st.composite
def layouts(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    folders = draw(st.lists(st.sampled_from(CLASSES) | NAMES, min_size=0, max_size=4,
                            unique=True))
    return [(folder, draw(NAMES), draw(st.sampled_from(KINDS)))
            for folder in folders for _ in range(draw(st.integers(0, 3)))]


def _write_entry(path: Path, kind: str, seed: int, outside: Path) -> None:
    if kind in ("png", "jpg", "bmp", "webp"):
        _, data = cv2.imencode(f".{kind}", frame(seed))
        path.with_suffix(f".{kind}").write_bytes(data.tobytes())
    elif kind == "text":
        path.with_suffix(".png").write_text("not an image")
    elif kind == "empty":
        path.with_suffix(".jpg").write_bytes(b"")
    elif kind == "link-loop":
        path.with_suffix(".png").symlink_to(path.with_suffix(".png").name)
    elif kind == "link-out":
        path.with_suffix(".png").symlink_to(outside / "x.png")
    elif kind == "fifo":
        os.mkfifo(path.with_suffix(".png"))
    else:
        path.mkdir()


@SETTINGS
@given(layout=layouts())
def test_an_odd_dataset_folder_is_described_or_refused_in_one_line(
    layout: list[tuple[str, str, str]], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with _sandbox() as root:
        data, outside = root / "data", root / "outside"
        data.mkdir()
        outside.mkdir()
        _, png = cv2.imencode(".png", frame(99))
        (outside / "x.png").write_bytes(png.tobytes())
        for seed, (folder, name, kind) in enumerate(layout):
            (data / folder).mkdir(exist_ok=True)
            with contextlib.suppress(OSError):  # a name drawn twice: the first one stays
                _write_entry(data / folder / name, kind, seed, outside)
        monkeypatch.setenv("THERMAL_BENCH_CACHE", str(root / "cache"))
        before = _tree(root, root / "cache")
        capsys.readouterr()
        with deadline(30):
            code = data_main(["describe", "--data", str(data)])
        err = capsys.readouterr().err
        assert "Traceback" not in err and code in (0, 2), (code, err)
        if code == 2:
            assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
        assert _tree(root, root / "cache") == before, "describe wrote outside its cache"
