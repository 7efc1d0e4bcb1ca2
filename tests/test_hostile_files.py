"""Hardening, round two: files that lie (records, predictions, Ray results, write targets).

Each case is one of the inputs of issue 25 that used to hang, escape `results/` or count a
broken cell as done. A per-case alarm turns a hang into a failure instead of a stuck suite.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the harness needs the harness env's matplotlib")

from test_bad_inputs import (
    _quick_figures,  # noqa: F401  (autouse fixture: empty figures)
    _seed_cell,
    _with_checksum,
    read_only_folder,
    results,  # noqa: F401  (fixture)
)

from benchmarks.__main__ import main as bench_main
from benchmarks.matrix.local import is_done
from common_data.atomic import write_text_atomic
from common_data.run.schema import file_sha256

pytestmark = pytest.mark.cross_env

OUTSIDE = Path("/etc/hostname") if Path("/etc/hostname").is_file() else Path("/etc/passwd")


@contextlib.contextmanager
def deadline(seconds: int = 10) -> Iterator[None]:
    """Fail instead of hanging: SIGALRM interrupts a blocking open() or a read loop."""

    def expire(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _edit(path: Path, change: Callable[[dict], object]) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


def _one_line(err: str, prefix: str, expected: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(prefix) and expected in lines[0], err
    assert "Traceback" not in err


def _predictions(path: Path) -> Path:
    return path.parent / json.loads(path.read_text())["predictions_file"]


# --- item 3: the resume check validates the record, as report and export do
INVALID = {
    "schema_version 2": lambda r: r.update(schema_version=2),
    "schema_version '1'": lambda r: r.update(schema_version="1"),
    "accuracy a string": lambda r: r["metrics"].update(accuracy="high"),
    "history not a list": lambda r: r.update(history={"epoch": 1}),
    "timing missing": lambda r: r.pop("timing"),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_record_is_never_done_and_is_named_once(
    name: str, results: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    path, cell = _seed_cell(results)
    _edit(path, INVALID[name])
    assert is_done(path, cell) is False
    _one_line(capsys.readouterr().err, "warning: rerunning", "invalid")


# --- items 4 and 5: a predictions file outside runs/, a FIFO or a device is never hashed
def _escape_with_matching_sha(path: Path) -> None:
    _edit(path, lambda r: r.update(predictions_file="../../../../../../../../" + str(OUTSIDE),
                                   predictions_sha256=file_sha256(OUTSIDE)))


def _symlink_out(path: Path) -> None:
    _with_checksum(path)
    target = _predictions(path)
    target.unlink()
    target.symlink_to(OUTSIDE)
    _edit(path, lambda r: r.update(predictions_sha256=file_sha256(OUTSIDE)))


def _fifo(path: Path) -> None:
    target = _predictions(path)
    target.unlink()
    os.mkfifo(target)


def _dev_zero(path: Path) -> None:
    target = _predictions(path)
    target.unlink()
    target.symlink_to("/dev/zero")


PREDICTIONS = {
    "../ to a file outside, sha matching": (_escape_with_matching_sha, "invalid"),
    "symlink out of runs/, sha matching": (_symlink_out, "outside"),
    "a FIFO": (_fifo, "a FIFO, expected a regular file"),
    "/dev/zero through a symlink": (_dev_zero, "outside"),
}


@pytest.mark.parametrize("name", sorted(PREDICTIONS))
def test_predictions_outside_or_special_are_refused_without_hanging(
    name: str, results: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    damage, expected = PREDICTIONS[name]
    path, cell = _seed_cell(results)
    damage(path)
    with deadline():
        assert is_done(path, cell) is False
    _one_line(capsys.readouterr().err, "warning: rerunning", expected)


def test_a_fifo_in_the_runs_folder_does_not_hang_report_or_export(
    results: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    """Item 6: `runs/x.json` a FIFO; report and export skip it with one warning each."""
    os.mkfifo(results / "runs" / "x.json")
    for argv in (["report"], ["export"]):
        with deadline():
            code = bench_main([*argv, "--results", str(results)])
        err = capsys.readouterr().err
        assert code == 0, err
        _one_line(err, "warning: skipping", "x.json: a FIFO, expected a regular file")


def test_a_deleted_predictions_file_is_named_by_report(
    results: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    """Item 16: the ensemble row and McNemar's test lose a run; the report says which."""
    path, _ = _seed_cell(results)
    _predictions(path).unlink()
    assert bench_main(["report", "--results", str(results)]) == 0
    _one_line(capsys.readouterr().err, "warning: skipping the predictions of",
              "No such file or directory")


# --- items 7 and 11: the atomic writer replaces only regular files; write errors are one line
def _symlink_target(tmp: Path) -> Path:
    (tmp / "system-file").write_text("keep me")
    (tmp / "out.csv").symlink_to(tmp / "system-file")
    return tmp / "out.csv"


def _fifo_target(tmp: Path) -> Path:
    os.mkfifo(tmp / "out.csv")
    return tmp / "out.csv"


TARGETS = {
    "a symlink, as /dev/stdout is": (_symlink_target, "a symlink, not a regular file"),
    "a FIFO": (_fifo_target, "a FIFO, not a regular file"),
    "a read-only folder": (lambda t: read_only_folder(t) / "runs.csv", "cannot write the table"),
    "/proc": (lambda t: Path("/proc/self/runs.csv"), "cannot write the table"),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_export_onto_a_target_that_is_not_a_regular_file_is_refused(
    name: str, tmp_path: Path, results: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    make, expected = TARGETS[name]
    out = make(tmp_path)
    before = os.lstat(out).st_mode if os.path.lexists(out) else None
    with deadline():
        code = bench_main(["export", "--results", str(results), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    _one_line(err, "error: --out", expected)
    assert (os.lstat(out).st_mode if os.path.lexists(out) else None) == before


def test_the_atomic_writer_leaves_a_symlink_and_its_target_alone(tmp_path: Path) -> None:
    link = _symlink_target(tmp_path)
    with pytest.raises(OSError, match="a symlink, not a regular file"):
        write_text_atomic(link, "replaced")
    assert link.is_symlink() and (tmp_path / "system-file").read_text() == "keep me"
    write_text_atomic(tmp_path / "new.txt", "new")  # a new path and a regular file: written
    write_text_atomic(tmp_path / "new.txt", "again")
    assert (tmp_path / "new.txt").read_text() == "again"


# --- item 18: what a Ray node sends is written inside runs/ only
def test_files_a_ray_node_names_outside_runs_are_not_written(
    tmp_path: Path, results: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    pytest.importorskip("ray")
    from benchmarks.matrix.ray_executor import RayMatrixRunner

    runner = RayMatrixRunner.__new__(RayMatrixRunner)  # only its runs_dir is used here
    runner.runs_dir = results / "runs"
    (results / "runs" / "out").symlink_to(tmp_path, target_is_directory=True)
    _, cell = _seed_cell(results)
    files = {"../escaped.json": b"{}", str(tmp_path / "absolute.json"): b"{}",
             "out/through-link.json": b"{}", "sub/fine.npz": b"ok"}
    runner._write_files(cell, {"node": "n1", "files": files})
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("warning: ") for line in lines), lines
    assert not (results / "escaped.json").exists()
    assert not (tmp_path / "absolute.json").exists()
    assert not (tmp_path / "through-link.json").exists()
    assert (results / "runs" / "sub" / "fine.npz").read_bytes() == b"ok"


def test_a_ray_node_sends_only_the_regular_files_of_its_run(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    from benchmarks.matrix.ray_node import run_files

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "cell.json").write_text("{}")
    (runs / "leak.json").symlink_to(OUTSIDE)
    os.mkfifo(runs / "pipe.npz")
    with deadline():
        files = run_files(runs)
    assert files == [runs / "cell.json"]
    assert all(stat.S_ISREG(p.lstat().st_mode) for p in files)


# --- item 2: names from the data are escaped wherever they reach the report
EVIL = "a`b<img src=x onerror=alert(1)>\n## forged heading"


def test_hostile_names_reach_the_report_escaped(
    results: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    from benchmarks.matrix.data_quality import quality_path

    digest = ""
    for path in sorted((results / "runs").glob("*.json")):
        record = json.loads(path.read_text())
        record["data"]["dataset"] = f"/data/{EVIL}"
        digest = record["data"]["dataset_hash"]
        path.write_text(json.dumps(record))
    quality = {"dataset": f"/data/{EVIL}", "name": EVIL, "dataset_hash": digest, "n_files": 3,
               "unmapped_folders": {EVIL: 2}, "ignored_files": [f"{EVIL}.txt"],
               "duplicates_across_classes": [{"sha256": "0", "files": [EVIL, "b"],
                                              "classes": ["angry", EVIL]}],
               "skipped_files": [{"path": EVIL, "reason": EVIL}], "hud_warnings": [],
               "splits": {}}
    target = quality_path(results, quality)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(quality))
    assert bench_main(["report", "--results", str(results)]) == 0, capsys.readouterr().err
    report = (results / "COMPARISON.md").read_text()
    # inside a code span HTML is shown, never interpreted; outside one it must be an entity
    outside_code = re.sub(r"(?<![\\`])(`+)(?!`).+?(?<!`)\1(?!`)", "", report)
    assert "<img" not in outside_code and "&lt;img" in outside_code
    assert not any(line.lstrip("#").strip() == "forged heading" for line in report.splitlines())
    assert "forged heading" in report  # shown, escaped, not dropped
    section = report[report.index("## Data quality"):]
    assert "``a`b&lt;" not in section and "``a`b<img src=x onerror=alert(1)>\\n##" in section


def test_markdown_helpers_keep_ordinary_names_as_they_were() -> None:
    from benchmarks.markdown import md_code, md_text

    assert md_code("happy/a.png") == "`happy/a.png`"
    assert md_text("facial-emotion (4331492f)") == "facial-emotion (4331492f)"
    assert md_code("`x`") == "`` `x` ``"
    assert md_text("<b>|*") == "&lt;b&gt;\\|\\*"


@pytest.mark.parametrize("side_file", ["failures/x.json", "findings/augmentation.json",
                                       "data/x-1234.json", "matrix.json"])
def test_a_fifo_where_a_side_file_belongs_does_not_hang_report(
    side_file: str, results: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    (results / side_file).parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(results / side_file)
    with deadline():
        code = bench_main(["report", "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err, err
    assert all(line.startswith("warning: ") for line in err.splitlines() if line.strip()), err
