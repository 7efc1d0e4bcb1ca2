"""Hardening, round two: commands given odd data or odd flags (issue 25), each one line.

Cases for the inputs of the round-two list that are not about hostile files (those are in
test_hostile_files.py): missing classes, one-class metrics, duplicate seeds, vacuous checks,
out-of-range sizes, a closed pipe, the count after Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the harness needs the harness env's matplotlib")

from conftest import CLASSES, PROJECT_ROOT, five_class_card
from conftest import flat_dataset as dataset
from test_bad_inputs import (
    TINY,
    _quick_figures,  # noqa: F401  (autouse fixture: empty figures)
    _seed_cell,
    results,  # noqa: F401  (fixture)
)

from benchmarks.__main__ import main as bench_main
from benchmarks.matrix import data_quality

pytestmark = pytest.mark.cross_env


def _lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.strip()]


def _find_problems(root: Path, *flags: str) -> tuple[list[str], list[dict]]:
    from benchmarks.cli.args import add_matrix_arguments, apply_overrides
    from benchmarks.matrix.build import build_cells
    from benchmarks.matrix.preflight import find_problems

    parser = argparse.ArgumentParser()
    add_matrix_arguments(parser, default_profile="quick")
    args = parser.parse_args(["--data", str(root), *TINY[:-1], *flags])
    cells = build_cells(apply_overrides({"frameworks": ["torch"], "variants": ["baseline"],
                                         "seeds": [0], "splits": ["random"], "hud": ["full"]},
                                        args))
    return find_problems(cells)


# --- item 10: a one-class validation set has no ROC AUC; the report says n/a, not a traceback
def test_a_null_roc_auc_renders_as_not_available(
    results: Path, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    for path in (results / "runs").glob("*.json"):
        record = json.loads(path.read_text())
        record["metrics"]["roc_auc_ovr_macro"] = None
        path.write_text(json.dumps(record))
    assert bench_main(["report", "--results", str(results)]) == 0
    assert _lines(capsys.readouterr().err) == []
    assert "n/a" in (results / "COMPARISON.md").read_text()


# --- items 13 and 14: classes the runs never saw are named in the console and the report
# (missing: declared by the dataset's card, with no folder; vanished: every file left out)
def test_a_dataset_with_two_of_the_five_classes_is_named(tmp_path: Path, tmp_cache: Path) -> None:
    root = dataset(tmp_path / "data")
    five_class_card(root)
    for label in CLASSES[2:]:
        shutil.rmtree(root / label)
    problems, (report,) = _find_problems(root)
    assert problems == [] and report["missing_classes"] == list(CLASSES[2:])
    line = next(x for x in data_quality.summary_lines(report) if "classes have no images" in x)
    assert line.startswith("- 3 of the 5 classes") and all(c in line for c in CLASSES[2:])


def test_a_class_skip_bad_left_empty_is_named(tmp_path: Path, tmp_cache: Path) -> None:
    root = dataset(tmp_path / "data")
    for path in (root / "sad").iterdir():
        path.write_bytes(b"not an image")
    problems, (report,) = _find_problems(root, "--skip-bad")
    assert problems == [] and report["vanished_classes"] == ["sad"]
    assert report["missing_classes"] == []
    assert any("every image of sad" in x and "saw 4 of the 5 classes" in x
               for x in data_quality.summary_lines(report))


def test_missing_classes_are_a_console_warning_before_training(
    tmp_path: Path, tmp_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.cli.args import add_matrix_arguments, apply_overrides
    from benchmarks.matrix.build import build_cells
    from benchmarks.matrix.preflight import preflight

    root = dataset(tmp_path / "data")
    five_class_card(root)
    shutil.rmtree(root / "happy")
    parser = argparse.ArgumentParser()
    add_matrix_arguments(parser, default_profile="quick")
    args = parser.parse_args(["--data", str(root), *TINY[:-1]])
    cells = build_cells(apply_overrides({"frameworks": ["torch"], "variants": ["baseline"],
                                         "seeds": [0], "splits": ["random"], "hud": ["full"]},
                                        args))
    preflight(cells, tmp_path / "results")
    lines = _lines(capsys.readouterr().err)
    assert lines == ["warning: 1 of the 5 classes have no images in data: happy"]


# --- the count after Ctrl-C is of the records on disk
def test_the_closing_line_after_ctrl_c_counts_the_records_written(
    results: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from benchmarks.matrix import local, runner

    cells = [_seed_cell(results)[1]]  # its record is there, written before the interrupt

    def interrupted(self: object, cells: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(local.MatrixRunner, "run_all", interrupted)
    monkeypatch.setattr(runner, "framework_python", lambda fw: Path(sys.executable))
    with pytest.raises(KeyboardInterrupt):
        runner.run_matrix(cells, results, False, "compare")
    err = capsys.readouterr().err
    assert "matrix: 1/1 cells have records" in err, err


# --- item 9: `compare 2>&1 | head -1`: the report is still written, exit 141
def test_a_closed_pipe_does_not_stop_the_report(tmp_path: Path, tmp_cache: Path) -> None:
    from benchmarks.matrix.envs import framework_python
    from common_data.errors import ConfigError

    try:
        framework_python("torch")
    except ConfigError as exc:
        pytest.skip(f"framework env missing: {exc}")
    results_dir = tmp_path / "results"
    argv = ["compare", "--data", str(dataset(tmp_path / "data")),
            *[a for a in TINY if a != "--no-report"], "--results", str(results_dir)]
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks", *argv], cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the first progress line
    assert proc.wait(timeout=300) == 141
    assert (results_dir / "COMPARISON.md").is_file()
    assert len(list((results_dir / "runs").glob("*.json"))) == 1


# --- items 12, 15, 17 and the flags blamed on the profile: one line naming the flag
RANGE = "expected an integer in 8..4096 (pixels per side)"
FLAG_CASES = {
    # --data names no folder: were the seeds let through, nothing could train anyway
    "--seeds 0,0": (["compare", "--seeds", "0,0", "--data", "/nonexistent"],
                    "--seeds '0,0': seed 0 is listed twice (each seed runs once)"),
    "--seeds -1": (["compare", "--seeds", "-1"],
                   "--seeds '-1': seed -1 is negative (expected integers >= 0)"),
    "--image-size 0": (["compare", "--image-size", "0"], f"--image-size 0: {RANGE}"),
    "parity --image-size 100000": (["parity", "--image-size", "100000"],
                                   f"--image-size 100000: {RANGE}"),
}


@pytest.mark.parametrize("name", sorted(FLAG_CASES))
def test_a_bad_flag_is_blamed_on_the_flag(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, expected = FLAG_CASES[name]
    results_dir = ["--results", str(tmp_path / "results")] if argv[0] == "compare" else []
    assert bench_main([*argv, *results_dir]) == 2
    assert _lines(capsys.readouterr().err) == [f"error: {expected}"]
    assert list(tmp_path.iterdir()) == [], "a refused command writes nothing"


def test_a_profile_listing_a_seed_twice_is_refused() -> None:
    from benchmarks.matrix.cells import check_matrix
    from common_data.errors import ConfigError

    profile = {"path": "p.toml", "frameworks": ["torch"], "variants": ["baseline"],
               "seeds": [1, 1], "splits": ["random"], "hud": ["full"]}
    with pytest.raises(ConfigError, match=r"profile p\.toml: key .seeds. lists 1 twice"):
        check_matrix(profile)


def test_finding_with_nothing_to_check_fails_in_one_line(
    tmp_path: Path, tmp_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results_dir = tmp_path / "results"
    code = bench_main(["finding", "--no-train", "--data", str(dataset(tmp_path / "data")),
                       "--frameworks", "torch", "--seeds", "0", "--regimes", "random.full",
                       "--no-probe", "--no-report", "--results", str(results_dir)])
    (line,) = _lines(capsys.readouterr().err)
    assert code == 2 and line.startswith("error: --results") and "nothing was checked" in line
    assert not list((results_dir / "findings").glob("*.json")), "no empty finding is written"


# --- found by the property test: a file name holding a line break split the error line
@pytest.mark.parametrize("breaker", ["\n", "\x85", "\u2028", "\x1b[2J"])
def test_a_line_break_in_a_file_name_keeps_the_error_on_one_line(
    breaker: str, tmp_path: Path, tmp_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from common_data.__main__ import main as data_main

    root = dataset(tmp_path / "data")
    (root / "angry" / f"a{breaker}b.png").write_text("not an image")
    assert data_main(["describe", "--data", str(root)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "\x1b" not in err, err
    assert breaker.encode("unicode_escape").decode() in err


# --- item 11: evaluate into a read-only evaluations/ is one line, before the slow part
def test_evaluate_into_a_read_only_folder_is_one_line(tmp_path: Path) -> None:
    from test_bad_inputs import read_only_folder

    from benchmarks.cli.evaluate import writable_folder
    from common_data.errors import ConfigError

    folder = read_only_folder(tmp_path)
    with pytest.raises(ConfigError, match=r"--results .*: cannot write in .*evaluations"):
        writable_folder(folder / "evaluations", folder)
    assert writable_folder(tmp_path / "results" / "evaluations", tmp_path).is_dir()


# --- the old spellings of the three profile kinds' flags still work for one release
def test_performance_profile_is_the_old_spelling_of_suite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main(["performance", "--profile", "nightly", "--results", str(tmp_path)]) == 2
    assert _lines(capsys.readouterr().err) == [
        "warning: performance --profile nightly is deprecated: use --suite nightly",
        "error: --suite 'nightly': no such suite in "
        f"{PROJECT_ROOT / 'common_data' / 'bench' / 'workload.toml'} or TOML file (known "
        "suites: smoke, quick, full, gpu)"]
    assert list(tmp_path.iterdir()) == [], "a refused command writes nothing"


def test_performance_quick_still_picks_the_quick_suite_with_a_deprecation_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--reuse` runs nothing: with no stored suite it reports them missing (exit 1), under
    the suite `--quick` named."""
    from benchmarks.matrix.envs import framework_python
    from common_data.errors import ConfigError

    try:
        framework_python("torch")
    except ConfigError as exc:
        pytest.skip(f"framework envs missing: {exc}")
    code = bench_main(["performance", "--quick", "--reuse", "--no-data-suite", "--frameworks",
                       "torch", "--results", str(tmp_path)])
    assert code == 1
    assert _lines(capsys.readouterr().err)[0] == (
        "warning: performance --quick is deprecated: use --suite quick")
    assert json.loads((tmp_path / "performance.json").read_text())["profile"] == "quick"


def test_finding_profile_is_the_old_spelling_of_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main(["finding", "--profile", "huge", "--results", str(tmp_path)]) == 2
    assert _lines(capsys.readouterr().err) == [
        "warning: finding --profile is deprecated: use --protocol huge",
        "error: --protocol 'huge': expected one of paper, schedule64, reduced, ci"]


_ROW = 'package = "jax_impl"\nname = "JAX"\ncolour = "#000000"\ntox_env = "jax"\n'


@pytest.mark.parametrize(("toml", "expected"), [
    (f'[framework.jax]\n{_ROW}shape = "round"\n',
     "[framework.jax] has unknown key 'shape' (expected package, name"),
    ('[framework.jax]\npackage = "jax_impl"\ncolour = "#000000"\ntox_env = "jax"\n',
     "[framework.jax] lacks key 'name'"),
    (f"[framework.torch]\n{_ROW}", "framework 'torch' is already registered"),
    (f'[framework.jax]\n{_ROW}roles = ["anchor"]\n',
     "role 'anchor' (the framework every other one is compared against) is held by 2 "
     "frameworks, expected 1"),
    (f'[framework.jax]\n{_ROW}roles = ["referee"]\n',
     "[framework.jax] role 'referee': expected one of anchor, gpu_kit"),
    (f"[frameworks.jax]\n{_ROW}", "expected only [framework.<key>] tables"),
    (None, "cannot read the file"),
])
def test_a_bad_framework_registration_is_one_line(tmp_path: Path, toml: str | None,
                                                  expected: str) -> None:
    """THERMAL_BENCH_FRAMEWORKS names a TOML of extra framework rows (common_data.frameworks):
    whatever is wrong with it stops every command with one line naming the file."""
    registry = tmp_path / "frameworks.toml"
    if toml is not None:
        registry.write_text(toml, encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "THERMAL_BENCH_FRAMEWORKS": str(registry)}
    run = subprocess.run([sys.executable, "-m", "benchmarks", "report", "--results",
                          str(tmp_path / "results")], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 2
    (line,) = _lines(run.stderr)
    assert line.startswith(f"error: THERMAL_BENCH_FRAMEWORKS {registry}: ") or \
        line.startswith("error: THERMAL_BENCH_FRAMEWORKS: "), line
    assert expected in line
