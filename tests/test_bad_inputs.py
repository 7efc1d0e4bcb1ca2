"""Bad input, as a new user produces it, never ends in a traceback or a broken results folder.

Every case drives a CLI's `main(argv)` in-process (fast: no interpreter start, no framework)
and asserts what the user relies on: exit code 2 with one `error:` line per problem naming the
file, flag or value (or, where the right answer is to go on, one `warning:` line and exit 0),
no traceback, and a results folder that `benchmarks report` still renders.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tomllib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import PROJECT_ROOT, SEED_RUNS
from conftest import flat_dataset as dataset

# The framework envs collect this file too (it is marked cross_env), so they must skip it
# before the imports rather than fail on them.
pytest.importorskip("matplotlib", reason="the harness needs the harness env's matplotlib")

from benchmarks.__main__ import main as bench_main
from benchmarks.matrix.cells import Cell
from benchmarks.matrix.local import is_done
from benchmarks.report import figures
from common_data.__main__ import main as data_main

pytestmark = pytest.mark.cross_env



@pytest.fixture(autouse=True)
def _quick_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's figures are not under test here; an empty file stands in for each, so a
    render takes milliseconds and every case can afford one."""

    def touch(*args: object) -> Path:
        path = Path(str(args[-1]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return path

    for name in ("learning_curves", "confusion_matrices", "speed_chart", "finding_chart"):
        monkeypatch.setattr(figures, name, touch)


@pytest.fixture
def results(tmp_path: Path, tmp_cache: Path) -> Path:
    """A results folder holding two committed records (one setting), as a user's would."""
    if not SEED_RUNS:
        pytest.skip("no committed 32px records in results/runs")
    folder = tmp_path / "results"
    (folder / "runs").mkdir(parents=True)
    for path in SEED_RUNS:
        shutil.copy(path, folder / "runs" / path.name)
    return folder


def png_bomb(path: Path, side: int = 100_000) -> Path:
    """A valid PNG header claiming side x side pixels, a few dozen bytes long."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def profile(tmp: Path, text: str | bytes, data: Path | None = None) -> str:
    path = tmp / "profile.toml"
    body = text.encode() if isinstance(text, str) else text
    if data is not None:
        body += f'\n[run]\ndata = "{data}"\nimage_size = 32\n'.encode()
    path.write_bytes(body)
    return str(path)


AXES = 'frameworks = ["torch"]\nvariants = ["baseline"]\nseeds = [0]\nsplits = ["random"]\n'
TINY = ["--frameworks", "torch", "--variants", "baseline", "--seeds", "0", "--epochs", "1",
        "--image-size", "32", "--splits", "random", "--no-probe", "--jobs", "1", "--no-report"]


def read_only_folder(tmp: Path) -> Path:
    """A folder nothing can be written under: chmod works for users, not for root."""
    if os.geteuid() == 0:
        if Path("/sys/kernel").is_dir() and not _writable("/sys/kernel"):
            return Path("/sys/kernel")
        pytest.skip("running as root with a writable /sys: no read-only folder to use")
    folder = tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def _writable(folder: str) -> bool:
    try:
        Path(folder, ".thermal-bench-probe").mkdir()
    except OSError:
        return False
    Path(folder, ".thermal-bench-probe").rmdir()
    return True


@dataclass(frozen=True)
class Case:
    """`setup(tmp, results)` builds the bad input and returns argv for `command`."""

    setup: Callable[[Path, Path], list[str]]
    expected: str
    command: str = "benchmarks"
    code: int = 2
    lines: int = 1
    env: tuple[tuple[str, str], ...] = ()


def _corrupt_png(tmp: Path) -> Path:
    root = dataset(tmp / "data")
    (root / "happy" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def _symlink_loop(tmp: Path) -> Path:
    root = dataset(tmp / "data")
    (root / "sad" / "a.png").symlink_to("b.png")
    (root / "sad" / "b.png").symlink_to("a.png")
    return root


def _bomb(tmp: Path) -> Path:
    root = dataset(tmp / "data")
    png_bomb(root / "angry" / "bomb.png")
    return root


GOOD_CARD = ('[dataset]\nname = "mine"\n'
             '[classes]\nnames = ["angry", "happy", "natural", "sad", "surprise"]\n'
             '[sessions]\nsource = "none"\n'
             '[overlay]\nsource = "boxes"\nframe_width = 30\nframe_height = 40\n'
             '[[overlay.box]]\nname = "top"\nrows = [0, 5]\ncolumns = [0, 30]\n')


def _carded(tmp: Path, old: str, new: str) -> list[str]:
    """`describe` of a tiny dataset whose dataset.toml is GOOD_CARD with `old` made `new`."""
    root = dataset(tmp / "data")
    assert old in GOOD_CARD
    (root / "dataset.toml").write_text(GOOD_CARD.replace(old, new, 1), encoding="utf-8")
    return ["describe", "--data", str(root), "--image-size", "16"]


CASES: dict[str, Case] = {
    # --- dataset cards (dataset.toml in the folder, or --card FILE)
    "card unknown top-level key": Case(
        lambda t, r: _carded(t, "[dataset]", "[datset]"), "unknown key 'datset'", command="data"),
    "card missing section": Case(
        lambda t, r: _carded(t, '[sessions]\nsource = "none"\n', ""), "missing key 'sessions'",
        command="data"),
    "card classes not a list": Case(
        lambda t, r: _carded(t, 'names = ["angry", "happy", "natural", "sad", "surprise"]',
                             'names = "angry"'),
        "'classes.names' must be a list of at least two class names", command="data"),
    "card alias names no class": Case(
        lambda t, r: _carded(t, '"surprise"]\n', '"surprise"]\n[classes.aliases]\n'
                             'fear = "scared"\n'),
        "alias 'classes.aliases.fear' = 'scared' names no class", command="data"),
    "card unknown session source": Case(
        lambda t, r: _carded(t, 'source = "none"', 'source = "exif"'),
        "'sessions.source' = 'exif': expected one of filename, manifest, none", command="data"),
    "card pattern without time format": Case(
        lambda t, r: _carded(t, 'source = "none"', 'source = "filename"\npattern = "(\\\\d+)"'),
        "missing key 'sessions.time_format'", command="data"),
    "card pattern not a regex": Case(
        lambda t, r: _carded(t, 'source = "none"', 'source = "filename"\npattern = "(["\n'
                             'time_format = "%Y"'),
        "'sessions.pattern' is not a valid regular expression", command="data"),
    "card manifest missing": Case(
        lambda t, r: _carded(t, 'source = "none"', 'source = "manifest"\nmanifest = "s.csv"'),
        "cannot read manifest", command="data"),
    "card box outside the frame": Case(
        lambda t, r: _carded(t, "rows = [0, 5]", "rows = [0, 50]"),
        "'overlay.box top.rows' must be [start, end] pixels with 0 <= start < end <= 40",
        command="data"),
    "card frame size a string": Case(
        lambda t, r: _carded(t, "frame_width = 30", 'frame_width = "30"'),
        "'overlay.frame_width' must be an integer >= 1, got '30'", command="data"),
    "card unknown box key": Case(
        lambda t, r: _carded(t, 'name = "top"', 'name = "top"\ncolour = 1'),
        "unknown key 'overlay.box.colour'", command="data"),
    "card published without content hash": Case(
        lambda t, r: _carded(t, "[sessions]", '[published]\nsource = "x"\n[[published.row]]\n'
                             'framework = "tf"\n[sessions]'),
        "[published] figures need 'dataset.content_hash'", command="data"),
    "card not toml": Case(
        lambda t, r: _carded(t, "[dataset]", "[dataset"), "not valid TOML", command="data"),
    "card flag missing file": Case(
        lambda t, r: ["describe", "--data", str(dataset(t / "data")), "--card",
                      str(t / "nope.toml")], "--card", command="data"),
    "card masked without overlay": Case(
        lambda t, r: [*_carded(t, GOOD_CARD[GOOD_CARD.index('source = "boxes"'):],
                               'source = "none"\n'), "--hud", "masked"],
        "hud 'masked' needs overlay regions, but the dataset card declares none", command="data"),
    # --- compare: flags
    "compare unknown framework": Case(lambda t, r: ["compare", "--frameworks", "jax"],
                                      "--frameworks: unknown value 'jax'"),
    "compare jobs zero": Case(lambda t, r: ["compare", "--jobs", "0"], "--jobs '0'"),
    "compare card missing": Case(lambda t, r: ["compare", "--card", str(t / "nope.toml")],
                                 "nope.toml: no such file (expected a dataset card"),
    "finding card not a card": Case(
        lambda t, r: ["finding", "--card", _write(t / "card.toml", "[datset]\n")],
        "unknown key 'datset'"),
    "compare seeds not integers": Case(lambda t, r: ["compare", "--seeds", "a,b"], "--seeds 'a,b'"),
    "compare hud unknown": Case(lambda t, r: ["compare", "--hud", "blurred"],
                                "--hud: unknown value 'blurred'"),
    "compare mode without value": Case(lambda t, r: ["compare", "--mode", "compile"],
                                       "--mode 'compile'"),
    "compare data missing": Case(lambda t, r: ["compare", "--data", str(t / "nope")],
                                 "no such folder"),
    "compare epochs zero": Case(lambda t, r: ["compare", "--epochs", "0"], "--epochs 0"),
    "compare mode unknown key": Case(lambda t, r: ["compare", "--mode", "turbo=true"],
                                     "unknown key 'turbo'"),
    "compare unknown profile": Case(lambda t, r: ["compare", "--profile", "nightly"],
                                    "--profile 'nightly'"),
    # --- compare: profiles
    "profile empty frameworks": Case(
        lambda t, r: ["compare", "--profile", profile(t, AXES.replace('["torch"]', "[]")
                                                      + 'hud = ["full"]\n')],
        "key 'frameworks' must be a non-empty list"),
    "profile without splits": Case(
        lambda t, r: ["compare", "--profile", profile(t, AXES.replace("splits", "hud"))],
        "missing key 'splits'"),
    "profile without hud": Case(lambda t, r: ["compare", "--profile", profile(t, AXES)],
                                "missing key 'hud'"),
    "profile run = 5": Case(lambda t, r: ["compare", "--profile", profile(t, "run = 5\n")],
                            "key 'run' must be a table"),
    "profile not UTF-8": Case(lambda t, r: ["compare", "--profile",
                                            profile(t, b'description = "\xff\xfe"\n')],
                              "not UTF-8"),
    "profile not TOML": Case(lambda t, r: ["compare", "--profile", profile(t, "frameworks = [")],
                             "not valid TOML"),
    "profile unknown key": Case(lambda t, r: ["compare", "--profile", profile(t, "colour = 1\n")],
                                "unknown key 'colour'"),
    "profile bad run value": Case(
        lambda t, r: ["compare", "--profile",
                      profile(t, AXES + 'hud = ["full"]\n[run]\nepochs = "ten"\n')],
        "[run]: key 'epochs'"),
    "profile seed negative": Case(
        lambda t, r: ["compare", "--profile", profile(t, AXES.replace("[0]", "[-1]")
                                                      + 'hud = ["full"]\n')],
        "key 'seeds' has -1"),
    # --- compare: preflight (nothing trained, nothing written)
    "preflight image size 7": Case(
        lambda t, r: ["compare", "--data", str(dataset(t / "data")), *TINY, "--image-size", "7",
                      "--results", str(r)], "--image-size 7"),
    "preflight undecodable image": Case(
        lambda t, r: ["compare", "--data", str(_corrupt_png(t)), *TINY, "--results", str(r)],
        "happy/broken.png"),
    "preflight session split undated": Case(
        lambda t, r: ["compare", "--data", str(dataset(t / "data", dated=False)), *TINY,
                      "--splits", "random,session", "--results", str(r)],
        "split 'session'"),
    "preflight two problems at once": Case(
        lambda t, r: ["compare", "--data", str(_corrupt_png(t)), *TINY, "--splits", "session",
                      "--results", str(r)], "2 problems found", lines=2),
    "preflight decompression bomb": Case(
        lambda t, r: ["compare", "--data", str(_bomb(t)), *TINY, "--results", str(r)],
        "angry/bomb.png: its header claims 100000x100000"),
    "preflight symlink loop": Case(
        lambda t, r: ["compare", "--data", str(_symlink_loop(t)), *TINY, "--results", str(r)],
        "symlink loop at"),
    "compare read-only results": Case(
        lambda t, r: ["compare", "--data", str(dataset(t / "data")), *TINY,
                      "--results", str(read_only_folder(t))], "cannot create the lock file"),
    "compare unwritable runs folder": Case(
        lambda t, r: ["compare", "--data", str(dataset(t / "data")), *TINY,
                      "--results", str(_unwritable_runs(t))], "cannot write in"),
    "compare records of other content": Case(
        lambda t, r: _stale_record(t, r), "were made on other content of"),
    "finding undecodable image": Case(
        lambda t, r: ["finding", "--data", str(_corrupt_png(t)), "--frameworks", "torch",
                      "--seeds", "0", "--regimes", "random.full", "--no-probe", "--no-report",
                      "--results", str(r)], "happy/broken.png"),
    "finding unknown regime": Case(lambda t, r: ["finding", "--regimes", "random.blurred"],
                                   "unknown regime 'random.blurred'"),
    "finding unknown protocol": Case(lambda t, r: ["finding", "--protocol", "huge"],
                                     "--protocol 'huge'"),
    "finding unknown finding": Case(lambda t, r: ["finding", "--finding", "nope"],
                                    "--finding 'nope': no such finding file"),
    # --- the three kinds of profile, each its own flag and schema: a matrix profile's bad keys
    # are the "profile ..." cases above; a finding's protocol and a benchmark suite here
    "finding protocol unknown key": Case(
        lambda t, r: ["finding", "--finding", _finding(t, "threads = 1\nschedule = 1\n"),
                      "--results", str(r)], "[protocol.quick]: unknown key 'schedule'"),
    "finding protocol missing key": Case(
        lambda t, r: ["finding", "--finding", _finding(t, "", drop="\nepochs = 4"),
                      "--results", str(r)], "[protocol.quick]: missing key 'epochs'"),
    "performance unknown suite": Case(
        lambda t, r: ["performance", "--suite", "nightly", "--results", str(r)],
        "--suite 'nightly': no such suite"),
    "performance suite unknown key": Case(
        lambda t, r: ["performance", "--suite", _suite(t, extra="colour = 1"),
                      "--results", str(r)], "suite.toml: unknown key 'colour'"),
    "performance suite missing key": Case(
        lambda t, r: ["performance", "--suite", _suite(t, drop="rounds"), "--results", str(r)],
        "suite.toml: missing key 'rounds'"),
    "finding palette on data without palettes": Case(
        lambda t, r: ["finding", "--finding", "palette", "--protocol", "tiny", "--data",
                      "synthetic-flat", "--results", str(r)], "has no palette folders"),
    # --- report: damaged files are skipped with one warning each
    "report missing folder": Case(lambda t, r: ["report", "--results", str(t / "nope")],
                                  "no runs/ folder"),
    "report read-only out": Case(
        lambda t, r: ["report", "--results", str(r), "--out", str(read_only_folder(t))],
        "cannot write the report"),
    "report torn record": Case(
        lambda t, r: (r / "runs" / "torn.json").write_text('{"run_id": ') and
        ["report", "--results", str(r)], "torn.json: not valid JSON", code=0),
    "report truncated predictions": Case(
        lambda t, r: _damage_predictions(r, lambda b: b[: len(b) // 2]) and
        ["report", "--results", str(r)], "not a readable .npz", code=0),
    "report pickled predictions": Case(
        lambda t, r: _damage_predictions(r, lambda b: pickle.dumps({"proba": [1.0]})) and
        ["report", "--results", str(r)], "not a readable .npz", code=0),
    "report torn failure note": Case(
        lambda t, r: _write(r / "failures" / "x.json", "[1, 2") and
        ["report", "--results", str(r)], "skipping failure note", code=0),
    "report torn finding": Case(
        lambda t, r: _write(r / "findings" / "augmentation.json", "{") and
        ["report", "--results", str(r)], "skipping finding", code=0),
    "report torn data-quality file": Case(
        lambda t, r: _write(r / "data" / "x-1234.json", '{"name": 1}') and
        ["report", "--results", str(r)], "skipping data-quality file", code=0),
    # --- evaluate
    "evaluate unknown run": Case(lambda t, r: ["evaluate", "--run", "nope", "--data",
                                               "synthetic", "--results", str(r)],
                                 "--run 'nope'"),
    "evaluate alias to no class": Case(
        lambda t, r: _write(t / "a.toml", '[aliases]\nfear = "terror"\n') and
        ["evaluate", "--run", SEED_RUNS[0].stem.split(".")[0], "--data", "synthetic",
         "--results", str(r), "--aliases", str(t / "a.toml")], "names no class"),
    # --- parity
    "parity zero steps": Case(lambda t, r: ["parity", "--steps", "0"], "--steps 0"),
    "parity zero lr": Case(lambda t, r: ["parity", "--lr", "0"], "--lr 0.0"),
    # --- common_data
    "describe decompression bomb": Case(
        lambda t, r: ["describe", "--data", str(_bomb(t))], "bomb.png", command="data"),
    "describe symlink loop": Case(
        lambda t, r: ["describe", "--data", str(_symlink_loop(t))], "symlink loop at",
        command="data"),
    "describe bad pixel limit": Case(
        lambda t, r: ["describe", "--data", str(dataset(t / "data"))],
        "THERMAL_BENCH_MAX_PIXELS='lots'", command="data",
        env=(("THERMAL_BENCH_MAX_PIXELS", "lots"),)),
    "describe not a folder": Case(
        lambda t, r: ["describe", "--data", _write(t / "file.txt", "x")], "is a file",
        command="data"),
}


def _unwritable_runs(tmp: Path) -> Path:
    """A results folder whose runs/ cannot be written: a run would train, then lose its
    record."""
    folder = tmp / "other-results"
    folder.mkdir()
    (folder / "runs").symlink_to(read_only_folder(tmp), target_is_directory=True)
    return folder


def _stale_record(tmp: Path, results: Path) -> list[str]:
    """A record of the cell, made when the folder held other images (another dataset hash)."""
    from benchmarks.cli.args import add_matrix_arguments, apply_overrides
    from benchmarks.matrix.build import build_cells
    from benchmarks.matrix.cells import load_matrix_profile

    root = dataset(tmp / "data")
    argv = ["compare", "--data", str(root), *TINY, "--results", str(results)]
    parser = argparse.ArgumentParser()
    add_matrix_arguments(parser, default_profile="quick")
    args = parser.parse_args([a for a in argv[1:] if a != "--no-report"])
    (cell,) = build_cells(apply_overrides(load_matrix_profile("quick"), args))
    record = json.loads(next(p for p in SEED_RUNS if p.suffix == ".json").read_text())
    record.update(config=cell.config, config_hash=cell.config_hash, run_id=cell.run_id)
    record["data"].update(dataset=str(root.resolve()), dataset_hash="0" * 64)
    _write(results / "runs" / f"{cell.run_id}.json", json.dumps(record))
    return argv


def _finding(tmp: Path, protocol_tail: str, drop: str = "") -> str:
    """The example finding with its `[protocol.quick]` table's last line replaced (an added
    key) or one of its lines left out."""
    text = (PROJECT_ROOT / "benchmarks" / "findings" / "examples" / "learning-rate.toml"
            ).read_text(encoding="utf-8")
    if protocol_tail:
        text = text.replace("threads = 1\n", protocol_tail)
    return _write(tmp / "finding.toml", text.replace(drop, "") if drop else text)


def _suite(tmp: Path, drop: str = "", extra: str = "") -> str:
    """A benchmark suite file: the quick suite's keys, with one left out or one added."""
    workload = tomllib.loads((PROJECT_ROOT / "common_data" / "bench" / "workload.toml")
                             .read_text(encoding="utf-8"))
    lines = [f"{key} = {json.dumps(value)}" for key, value in workload["suite"]["quick"].items()
             if key != drop]
    return _write(tmp / "suite.toml", "\n".join([*lines, extra]) + "\n")


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def _damage_predictions(results: Path, damage: Callable[[bytes], bytes]) -> bool:
    path = sorted((results / "runs").glob("*.predictions.npz"))[0]
    path.write_bytes(damage(path.read_bytes()))
    return True


def _contents(results: Path) -> list[Path]:
    """Everything in the results folder but the lock file, which only says who holds it."""
    return sorted(p for p in results.rglob("*") if p.name != ".harness.lock")


def _report_renders(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["report", "--results", str(results)]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (results / "COMPARISON.md").is_file()


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_gives_one_clear_line(
    name: str, tmp_path: Path, results: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[name]
    for key, value in case.env:
        monkeypatch.setenv(key, value)
    argv = case.setup(tmp_path, results)
    before = _contents(results)
    main = bench_main if case.command == "benchmarks" else data_main
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == case.code, err
    assert "Traceback" not in err
    assert len(lines) == case.lines, err
    prefix = "error: " if case.code == 2 else "warning: "
    assert all(line.startswith(prefix) for line in lines), err
    assert case.expected in err
    if case.code == 2:
        assert _contents(results) == before, "a refused command writes nothing"
    _report_renders(results, capsys)


def test_there_are_at_least_35_cases() -> None:
    assert len(CASES) + len(DONE_CASES) >= 35


def test_skip_bad_leaves_a_bomb_out_and_lists_it(tmp_path: Path, tmp_cache: Path) -> None:
    """With --skip-bad the bomb is a recorded skip, not an error: preflight passes and the
    data-quality report names the file and why."""
    from benchmarks.cli.args import add_matrix_arguments, apply_overrides
    from benchmarks.matrix.build import build_cells
    from benchmarks.matrix.preflight import find_problems

    root = _bomb(tmp_path)
    parser = argparse.ArgumentParser()
    add_matrix_arguments(parser, default_profile="quick")
    args = parser.parse_args(["--data", str(root), *TINY[:-1], "--skip-bad"])
    cells = build_cells(apply_overrides({"frameworks": ["torch"], "variants": ["baseline"],
                                         "seeds": [0], "splits": ["random"], "hud": ["full"]},
                                        args))
    problems, reports = find_problems(cells)
    assert problems == []
    (skipped,) = reports[0]["skipped_files"]
    assert skipped["path"].endswith("angry/bomb.png") and "100000x100000" in skipped["reason"]


def test_locked_results_folder_is_refused_in_process(
    tmp_path: Path, results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """flock, not a pid file: a second open of the lock file cannot take it while held."""
    handle = os.open(results / ".harness.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        os.write(handle, b"4242")
        code = bench_main(["compare", "--data", str(dataset(tmp_path / "data")), *TINY,
                           "--results", str(results)])
    finally:
        os.close(handle)
    err = capsys.readouterr().err
    assert code == 2 and "locked by another harness (pid 4242)" in err
    assert len(err.strip().splitlines()) == 1
    _report_renders(results, capsys)


def test_a_closed_pipe_ends_describe_quietly(tmp_path: Path, tmp_cache: Path) -> None:
    """`describe | head`: the reader goes away; no BrokenPipeError traceback."""
    root = dataset(tmp_path / "data")
    proc = subprocess.Popen([sys.executable, "-m", "common_data", "describe", "--data", str(root),
                             "--json"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 141
    assert err == ""


def test_parity_on_a_gpu_that_is_not_there(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.matrix.envs import framework_python
    from common_data.errors import ConfigError

    try:
        python = framework_python("torch")
        framework_python("tf")
    except ConfigError as exc:
        pytest.skip(f"framework envs missing: {exc}")
    probe = "import torch, sys; sys.exit(torch.cuda.is_available())"
    if subprocess.run([str(python), "-c", probe]).returncode:
        pytest.skip("a GPU is present")
    code = bench_main(["parity", "--device", "gpu", "--image-size", "32"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        "error: torch parity probe: device 'gpu' was requested, but torch found no CUDA "
        "device: use --device cpu or auto"
    ]


# --- a record counts as done only with an intact predictions file


def _seed_cell(results: Path) -> tuple[Path, Cell]:
    path = sorted((results / "runs").glob("*.json"))[0]
    record = json.loads(path.read_text())
    config = record["config"]
    cell = Cell(config["framework"], config["variant"], config["seed"], config["split"],
                config["fold"], config["hud"], config, record["config_hash"])
    return path, cell


def _with_checksum(path: Path) -> None:
    from common_data.run.schema import file_sha256

    record = json.loads(path.read_text())
    record["predictions_sha256"] = file_sha256(path.parent / record["predictions_file"])
    path.write_text(json.dumps(record))


DONE_CASES: dict[str, tuple[Callable[[Path], object], bool]] = {
    "old record without checksum, file intact": (lambda p: None, True),
    "old record, predictions truncated": (
        lambda p: _damage_predictions(p.parent.parent, lambda b: b[:100]), False),
    "old record, predictions pickled": (
        lambda p: _damage_predictions(p.parent.parent, lambda b: pickle.dumps(b)), False),
    "old record, predictions missing": (
        lambda p: [q.unlink() for q in p.parent.glob("*.npz")], False),
    "checksum matches": (_with_checksum, True),
    "checksum, file replaced by another run's": (
        lambda p: (_with_checksum(p), _damage_predictions(
            p.parent.parent, lambda b: _other_predictions())), False),
    "record torn": (lambda p: p.write_text(p.read_text()[:50]), False),
}


def _other_predictions() -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, val_indices=np.arange(3), y_true=np.zeros(3, int), proba=np.ones((3, 5)))
    return buffer.getvalue()


@pytest.mark.parametrize("name", sorted(DONE_CASES))
def test_a_cell_is_done_only_with_intact_predictions(
    name: str, results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damage, done = DONE_CASES[name]
    path, cell = _seed_cell(results)
    damage(path)
    assert is_done(path, cell) is done
    _report_renders(results, capsys)


def test_a_failed_record_without_data_goes_to_the_failures_table(
    results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What one undecodable image used to leave behind: status failed, data null."""
    record = json.loads(next(p for p in SEED_RUNS if p.suffix == ".json").read_text())
    record.update(run_id="broken-cell", status="failed", data=None, environment=None, model=None,
                  history=None, timing=None, memory=None, metrics=None, predictions_file=None,
                  error="DataError: cannot decode image file x.png")
    (results / "runs" / "broken-cell.json").write_text(json.dumps(record))
    _write(results / "failures" / "killed.json", json.dumps(
        {"run_id": "killed-cell", "returncode": -9, "error_tail": []}))
    _report_renders(results, capsys)
    report = (results / "COMPARISON.md").read_text()
    assert "| `broken-cell` | failed | DataError: cannot decode image file x.png |" in report
    assert "| `killed-cell` | process failed (killed by SIGKILL) | no output |" in report


def test_temporaries_of_killed_writers_are_swept_by_the_next_harness(
    tmp_path: Path, results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A harness killed while writing a config or record leaves `.<name>.*.tmp` behind; the
    next one to hold the lock removes it (the chaos test found this)."""
    litter = [results / "configs" / ".cell.json.x1.tmp", results / "runs" / ".cell.json.x2.tmp"]
    for path in litter:
        _write(path, "{")
    code = bench_main(["compare", "--data", str(_corrupt_png(tmp_path)), *TINY,
                       "--results", str(results)])  # refused by the preflight, under the lock
    assert code == 2
    assert not any(path.exists() for path in litter)
    _report_renders(results, capsys)
