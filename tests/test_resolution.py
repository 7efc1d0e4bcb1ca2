"""The resolution study's rule and the report's account of the finding's own input size."""

import pytest

pytestmark = pytest.mark.cross_env
# the study's module draws its chart, and matplotlib lives in the harness env only
pytest.importorskip("matplotlib",
                    reason="benchmarks.report.resolution needs the harness env's matplotlib")

from benchmarks.report.resolution import chosen_size, finding_note  # noqa: E402

# (framework, hud) -> {size: accuracy}: the real data's pattern, where the probe already
# beats a weak full-frame model at 32x32
TABLE = {
    ("torch", "full"): {32: 0.384, 64: 0.674},
    ("torch", "hud_only"): {32: 0.439, 64: 0.755},
    ("tf", "full"): {64: 0.632},
    ("tf", "hud_only"): {64: 0.702},
}


def test_rule_picks_the_smallest_size_where_the_probe_reaches_the_full_frame() -> None:
    assert chosen_size(TABLE) == 32
    behind = {**TABLE, ("torch", "hud_only"): {32: 0.30, 64: 0.66}}
    assert chosen_size(behind) == 64  # 8.4 pp behind at 32, 1.4 pp at 64
    assert chosen_size({**behind, ("tf", "hud_only"): {64: 0.50}}) is None


def test_a_finding_at_another_size_says_why_with_the_full_frame_accuracies() -> None:
    note = finding_note(TABLE, 32, ("schedule64", 64))
    assert "`schedule64` runs at 64x64, not 32x32" in note
    assert "PyTorch 38.4 % at 32x32, 67.4 % at 64x64" in note
    assert "TensorFlow" not in note  # measured at one size only
    assert finding_note(TABLE, 64, ("schedule64", 64)) == ""
    assert finding_note(TABLE, 32, None) == ""


def test_the_study_reads_only_the_baseline_cnn_from_the_committed_records() -> None:
    """A ResNet run at the same size, split and seed (committed: PyTorch ResNet-50 from
    scratch at 64x64) must not stand in for the baseline CNN's point."""
    from benchmarks.matrix.envs import PROJECT_ROOT
    from benchmarks.matrix.records import load_records
    from benchmarks.report.resolution import study_tables

    records = load_records(PROJECT_ROOT / "results" / "runs")
    other = [r for r in records if r["config"].get("spec", "baseline_cnn") != "baseline_cnn"
             and r["config"]["image_size"] == 64 and r["framework"] == "torch"]
    if not other:
        pytest.skip("no committed non-baseline run at 64x64 to guard against")
    (table,) = [t for name, t in study_tables(records).items()
                if name.startswith("facial-emotion")]
    assert table[("torch", "full")][64] == pytest.approx(0.674, abs=5e-4)
