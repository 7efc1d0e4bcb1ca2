"""Findings as data (benchmarks/findings/spec.py): a finding file's schema refuses what it gets
wrong in one line, the augmentation finding keeps its committed cells when written as arms,
and a user's own finding expands to its own runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.findings.cells import adapt_to_data, finding_cells, load_finding, selection_from
from benchmarks.findings.spec import FINDINGS_DIR, Comparison, load_finding_file
from benchmarks.findings.verdicts import expected_toml, verdict, verdict_row
from common_data.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "results" / "runs"
GOOD = """
id = "tiny"
claim = "a claim"
source = "a source"
[[arm]]
name = "a"
[[arm]]
name = "b"
run = { epochs = 3 }
[[comparison]]
arm = "b"
against = "a"
direction = "decrease"
min_effect = 0.05
[matrix]
frameworks = ["torch"]
seeds = [0]
regimes = ["random.full"]
[protocol.tiny]
image_size = 32
epochs = 2
augmented_epochs = 2
early_stopping = false
"""


@pytest.mark.parametrize("protocol", ["schedule64", "reduced"])
def test_the_augmentation_finding_as_arms_keeps_its_committed_runs(protocol: str) -> None:
    """Every cell of the committed protocols is still a committed record (same config hash):
    the rewrite into arms and comparisons changed no run."""
    data = json.loads(next(RUNS.glob("*-64px-*.json")).read_text())["config"]["data"]
    finding = load_finding()
    grid, probe = finding_cells(finding, selection_from(finding, protocol, data))
    missing = [c.run_id for c in grid + probe if not (RUNS / f"{c.run_id}.json").is_file()]
    assert len(grid) == 48 and not missing


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t + 'colour = "red"\n', "unknown key 'colour'"),
    (lambda t: t.replace('[[arm]]\nname = "b"\nrun = { epochs = 3 }\n', ""),
     "expected two or more [[arm]] tables"),
    (lambda t: t.replace("run = { epochs = 3 }", 'run = { palette = "IRON" }'),
     "arm 'b': run key 'palette' is not a run-config key an arm may set"),
    (lambda t: t.replace("run = { epochs = 3 }", "run = { seed = 3 }"),
     "arm 'b': run key 'seed' is not a run-config key"),
    (lambda t: t.replace('against = "a"', 'against = "c"'), "against 'c' names no arm"),
    (lambda t: t.replace('direction = "decrease"', 'direction = "down"'),
     "direction 'down', expected one of decrease, increase"),
    (lambda t: t.replace("early_stopping = false", "early_stopping = false\nlr = 1"),
     "[protocol.tiny]: unknown key 'lr'"),
    (lambda t: t.replace("\nepochs = 2\n", "\n"), "[protocol.tiny]: missing key 'epochs'"),
    (lambda t: t.replace('claim = "a claim"\n', ""), "missing key 'claim'"),
    (lambda t: t.replace("min_effect = 0.05", 'min_effect = "big"'),
     "key 'min_effect' is 'big', expected a number"),
    (lambda t: t + '[expected.tiny."synthetic"]\n"torch.random.full" = { verdict = "x" }\n',
     "[expected.tiny.\"synthetic\"] torch.random.full: missing key 'reference_accuracy'"),
    (lambda t: t + '[expected_probe.tiny."synthetic"]\ntorch = { seeds = [0], acc = [0.7] }\n',
     "[expected_probe.tiny.\"synthetic\"] torch: unknown key 'acc'"),
    (lambda t: t + '[expected_probe.tiny."synthetic"]\ntorch = { seeds = [0, 1], accuracy = [0.7] }'
     '\n', "torch: seeds [0, 1], expected distinct integer seeds, one per accuracy (1)"),
    (lambda t: t + '[expected.tiny."synthetic"]\n"torch.random.full" = { verdict = "yes", '
     'reference_accuracy = 0.5 }\n', "verdict 'yes', expected one of reproduced, not reproduced"),
    (lambda t: t + '[expected.tiny."synthetic"]\n"torch.random.full" = { verdict = "reversed", '
     'reference_accuracy = 50 }\n', "accuracy 50, expected accuracies between 0 and 1"),
    (lambda t: t + '[expected.big."synthetic"]\n', "[expected.big]: names no [protocol.*] table"),
    (lambda t: 'effect_tolerance = -0.5\n' + t, "effect_tolerance -0.5, expected a number >= 0"),
])
def test_a_bad_finding_file_is_refused_in_one_line(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD))
    with pytest.raises(ConfigError) as caught:
        load_finding_file(path)
    text = str(caught.value)
    assert message in text and "\n" not in text and str(path) in text


@pytest.mark.cross_env  # the `finding` command is the harness's: it runs in the harness env
def test_the_cli_names_a_bad_finding_file_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace("run = { epochs = 3 }", "run = { palette = 1 }"))
    done = subprocess.run([sys.executable, "-m", "benchmarks", "finding", "--finding", str(path),
                           "--data", "synthetic", "--results", str(tmp_path / "results")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "run key 'palette'" in lines[0]


def test_a_users_finding_expands_each_arm_with_its_overrides(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(GOOD)
    finding = load_finding(path)
    assert finding["default_protocol"] == "tiny"
    grid, probe = finding_cells(finding, selection_from(finding, "tiny", "synthetic"))
    assert probe == [] and sorted(c.config["epochs"] for c in grid) == [2, 3]
    assert len({c.run_id for c in grid}) == 2


def test_the_shipped_example_finding_loads() -> None:
    finding = load_finding(FINDINGS_DIR / "examples" / "learning-rate.toml")
    grid, _ = finding_cells(finding, selection_from(finding, "quick", "synthetic"))
    rates = sorted({c.config["optimizer"]["lr"] for c in grid})
    assert rates == [0.001, 0.01] and len(grid) == 8


@pytest.mark.parametrize(("delta", "low", "high", "direction", "expected"), [
    (-0.10, -0.15, -0.05, "decrease", "reproduced"),
    (-0.10, -0.15, -0.05, "increase", "reversed"),
    (0.10, 0.05, 0.15, "increase", "reproduced"),
    (0.03, 0.01, 0.05, "increase", "not reproduced"),   # below min_effect
    (0.10, -0.02, 0.22, "increase", "not reproduced"),  # CI touches zero
])
def test_a_comparison_is_judged_in_the_direction_its_claim_predicts(
        delta: float, low: float, high: float, direction: str, expected: str) -> None:
    assert verdict(delta, low, high, 0.05, direction) == expected


def test_the_finding_follows_a_dataset_without_sessions_or_overlay() -> None:
    finding = load_finding()
    flat = adapt_to_data(selection_from(finding, "schedule64", "synthetic-flat"))
    assert flat.regimes == ["random.full", "grouped.full"] and not flat.probe
    seed_like = adapt_to_data(selection_from(finding, "schedule64", "synthetic"))
    assert seed_like.regimes == finding["matrix"]["regimes"] and seed_like.probe


def _record(accuracy: float, support: dict[str, int]) -> dict:
    """A finished run as a verdict reads it: its accuracy, per-class counts and a history that
    levelled off (no predictions file, so no McNemar test)."""
    history = [{"val_accuracy": accuracy, "val_loss": 1.0, "loss": 1.0}] * 8
    return {"status": "ok", "history": history,
            "metrics": {"accuracy": accuracy, "n": sum(support.values()),
                        "per_class": {name: {"support": n} for name, n in support.items()}}}


@pytest.mark.parametrize(("reference", "flagged"), [(0.24, True), (0.60, False)])
def test_a_verdict_whose_reference_is_near_chance_is_flagged(reference: float,
                                                            flagged: bool) -> None:
    """Models within the minimum effect of the majority-class rate cannot show a decrease of
    that size: the verdict says so beside it (the palette finding at 420 frames is such a case)."""
    support = {"angry": 22, "happy": 20, "sad": 20, "natural": 19, "surprise": 19}  # 22 % top
    comparison = Comparison("one palette", "all palettes", "decrease", 0.05)
    ref = {s: _record(reference + 0.01 * s, support) for s in range(3)}
    arm = {s: _record(reference - 0.01, support) for s in range(3)}
    row = verdict_row(comparison, ("tf", "random", "full"), ref, arm)
    assert row is not None and row["majority_rate"] == pytest.approx(0.22)
    assert row["near_majority"] is flagged


def test_printed_expectations_load_back_as_recorded(tmp_path: Path) -> None:
    """What `finding --print-expected` prints pastes into the finding file and loads as the
    same record: verdicts with their effects, the probe's accuracy per seed."""
    result = {
        "profile": "tiny", "data": {"label": "synthetic"},
        "verdicts": [{"expected_key": "torch.random.full", "verdict": "not reproduced",
                      "reference_accuracy": {"mean": 0.4228}, "delta_accuracy": -0.0563}],
        "hud_only_probe": {"torch": {"seeds": [0, 2], "accuracy": {"per_seed": [0.7, 0.75]}}},
    }
    path = tmp_path / "tiny.toml"
    path.write_text(GOOD + expected_toml(result) + "\n")
    finding = load_finding_file(path)
    assert finding["expected"]["tiny"]["synthetic"]["torch.random.full"] == {
        "verdict": "not reproduced", "reference_accuracy": 0.4228, "delta": -0.0563}
    assert finding["expected_probe"]["tiny"]["synthetic"]["torch"] == {
        "seeds": [0, 2], "accuracy": [0.7, 0.75]}
