"""The palette finding (benchmarks/findings/palette.toml): its file is checked like any
finding's, it names the real set's most frequent palette, a dataset that cannot give an arm's
training set is refused in one line before anything trains, and its `tiny` protocol runs end
to end on the synthetic set's palette folders, through `finding` and again through `report`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

# The report's palette section draws a chart, and matplotlib lives in the harness env only.
pytestmark = pytest.mark.cross_env
pytest.importorskip("matplotlib", reason="the report's palette section needs matplotlib")

from benchmarks.__main__ import main as bench_main  # noqa: E402
from benchmarks.findings.cells import (  # noqa: E402
    check_training_sets,
    finding_cells,
    finding_path,
    load_finding,
    selection_from,
)
from benchmarks.findings.spec import load_finding_file  # noqa: E402
from benchmarks.matrix.envs import framework_python  # noqa: E402
from benchmarks.matrix.records import group_rows, is_bf16, load_records  # noqa: E402
from benchmarks.report.palette_section import (  # noqa: E402
    RUN_COMMAND,
    refresh_palette_finding,
    same_result,
)
from benchmarks.report.resolution import study_tables  # noqa: E402
from common_data.errors import ConfigError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "datasets" / "facial-emotion"
PALETTE = finding_path("palette")


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = PALETTE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "palette.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "message"), [
    ('run = { colour = "luminance" }', 'run = { color = "luminance" }',
     "arm 'luminance': run key 'color' is not a run-config key an arm may set"),
    ('run = { colour = "luminance" }', 'run = { colour = "grey" }',
     "arm 'luminance': run: run config <dict>: key 'colour' must be 'rgb' or 'luminance'"),
    ('run = { train_palettes = ["RAINBOW"] }', 'run = { train_palettes = "RAINBOW" }',
     "key 'train_palettes' must be a list of distinct non-empty strings"),
    ("run = { train_frames = 420 }", "run = { train_frame = 420 }",
     "[protocol.schedule64]: run key 'train_frame' is not a run-config key"),
    ('arm = "luminance"', 'arm = "greyscale"', "arm 'greyscale' names no arm"),
])
def test_a_bad_palette_finding_is_refused_in_one_line(tmp_path: Path, old: str, new: str,
                                                      message: str) -> None:
    path = _edited(tmp_path, old, new)
    with pytest.raises(ConfigError) as caught:
        load_finding_file(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_every_arm_trains_on_the_protocol_s_frame_count() -> None:
    finding = load_finding(PALETTE)
    grid, probe = finding_cells(finding, selection_from(finding, "schedule64", "synthetic"))
    assert probe == [] and len(grid) == len(finding["arms"]) * 2 * 3 * 2
    assert {c.config["train_frames"] for c in grid} == {420}
    assert {c.config["image_size"] for c in grid} == {64}
    assert {c.config["epochs"] for c in grid} == {20}   # the published baseline schedule
    assert len({c.run_id for c in grid}) == len(grid)


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/datasets/facial-emotion is absent")
def test_the_one_palette_arm_names_the_real_set_s_most_frequent_palette() -> None:
    counts = Counter(p.parent.name for p in REAL.glob("*/*/*.png"))
    finding = load_finding(PALETTE)
    arm = next(a for a in finding["arms"] if a.name.endswith(" only"))
    assert arm.run["train_palettes"] == [counts.most_common(1)[0][0]]


def test_a_dataset_without_palette_folders_is_refused_before_any_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "finding", "--finding", "palette", "--protocol",
         "tiny", "--data", "synthetic-flat", "--results", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "has no palette folders" in error[0], done.stderr
    assert "arm 'RAINBOW only'" in error[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_more_frames_than_a_split_holds_is_refused_naming_the_arm(tmp_path: Path) -> None:
    path = _edited(tmp_path, "run = { train_frames = 60 }", "run = { train_frames = 5000 }")
    finding = load_finding(path)
    with pytest.raises(ConfigError, match=r"arm 'all palettes' on random\.full: .*"
                                          r"train_frames 5000, but the random split has only"):
        check_training_sets(finding, selection_from(finding, "tiny", "synthetic"))


def test_the_report_says_how_to_run_the_finding_when_it_has_no_records(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "runs").mkdir()
    assert refresh_palette_finding(tmp_path) is None
    assert bench_main(["report", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert RUN_COMMAND in out and "palette finding has not been run" in out
    assert not (tmp_path / "findings").exists()
    assert "palette" not in (tmp_path / "COMPARISON.md").read_text()


def test_the_tiny_protocol_runs_end_to_end_on_synthetic_palettes(tmp_path: Path) -> None:
    try:
        framework_python("torch")
    except ConfigError as exc:
        pytest.skip(f"torch env missing: {exc}")
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "finding", "--finding", "palette", "--protocol",
         "tiny", "--data", "synthetic", "--seeds", "0", "--frameworks", "torch", "--jobs", "2",
         "--results", str(results), "--no-report"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    out = results / "findings" / "palette-tiny.json"
    result = json.loads(out.read_text())
    assert {(r["comparison"]["arm"], r["comparison"]["reference"]) for r in result["verdicts"]} \
        == {("RAINBOW only", "all palettes"), ("luminance", "all palettes")}
    assert all(r["split_intact"] and r["validation_intact"] for r in result["verdicts"])
    records = [json.loads(p.read_text()) for p in (results / "runs").glob("*.json")]
    assert len(records) == 7 and {r["data"]["n_train"] for r in records} == {60}
    transfer = {r["arm"]: r for r in result["palette_transfer"]}
    assert transfer["without ICEBLUE"]["held_out"] == ["ICEBLUE"]
    assert transfer["RAINBOW only"]["held_out"] == ["ICEBLUE", "IRNBOW", "IRON", "Red Hot",
                                                   "White Hot"]
    assert all(r["reference_on_held_out"] for r in transfer.values())

    out.unlink()   # `report` regenerates it from the records, and renders the table
    done = subprocess.run([sys.executable, "-m", "benchmarks", "report", "--results",
                           str(results)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["palette_transfer"]
    report = (results / "COMPARISON.md").read_text()
    assert "| PyTorch | random | full | without ICEBLUE | ICEBLUE | 1 |" in report
    assert (results / "figures" / "palette-transfer-palette-tiny.png").is_file()

    # A later report re-evaluates the same records: the file is left as it was, time stamp
    # included, so that reports do not each leave a change to commit.
    written = out.read_bytes()
    time.sleep(1.1)   # the time stamp has whole seconds
    assert refresh_palette_finding(results) == [out]
    assert out.read_bytes() == written


def test_a_re_evaluated_result_is_the_same_only_when_all_but_its_time_stamp_is(
        tmp_path: Path) -> None:
    """`report` rewrites a palette result only when what it says changed."""
    stored = ROOT / "results" / "findings" / "palette.json"
    result = json.loads(stored.read_text())
    copy = tmp_path / "palette.json"
    copy.write_text(stored.read_text())
    assert same_result(copy, {**result, "generated_at": "2000-01-01T00:00:00+00:00"})
    changed = json.loads(stored.read_text())
    changed["verdicts"][0]["verdict"] = "reversed"
    assert not same_result(copy, changed)
    assert not same_result(tmp_path / "missing.json", result)


def test_palette_runs_stay_out_of_the_whole_set_studies_and_say_what_they_trained_on() -> None:
    """The resolution study and the product's questions are about the baseline trained on the
    whole training side; a palette arm at the same size and seed is named, not mixed in."""
    runs = ROOT / "results" / "runs"
    study = study_tables(load_records(runs))
    record = next(r for r in load_records(runs)
                  if r["run_id"].startswith("torch-baseline-random-full-64px-s0-")
                  and r["config"].get("dropout") == "shared" and not is_bf16(r["config"]))
    arm = {**record, "run_id": "palette-arm",
           "config": {**record["config"], "train_palettes": ["RAINBOW"], "train_frames": 420},
           "metrics": {**record["metrics"], "accuracy": 0.01}}
    assert study_tables([*load_records(runs), arm]) == study
    row = next(r for r in group_rows([arm]))
    assert row.label == "baseline (palettes RAINBOW; 420 training frames)"
