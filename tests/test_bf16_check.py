"""The bf16 faithfulness check (benchmarks/performance/bf16_check.py) on synthetic records, its
profile,
and the guard that keeps a mode whose check did not pass out of every profile
(benchmarks/matrix/mode_guard.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.findings.cells import finding_cells, load_finding, selection_from
from benchmarks.matrix import mode_guard
from benchmarks.matrix.cells import expand, load_matrix_profile
from benchmarks.performance import bf16_check
from benchmarks.performance.render import render
from benchmarks.performance.suites import assemble
from common_data.bench import suite as suite_plan
from common_data.errors import ConfigError

FLOAT32 = [0.60, 0.62, 0.64]  # mean 62 %, 95 % t-interval 62 +- 4.97 pp


def _records(bf16: dict[str, list[float]], drop: str | None = None) -> dict[str, dict[str, Any]]:
    """Records of the bf16_check profile's cells by run_id: float32 accuracies FLOAT32 for
    both twins, bf16 ones per framework; `drop` leaves that run out."""
    records = {}
    for cell in expand(load_matrix_profile("bf16_check")):
        accuracy = (bf16[cell.framework] if cell.bf16 else FLOAT32)[cell.seed]
        records[cell.run_id] = {"run_id": cell.run_id, "status": "ok",
                                "metrics": {"accuracy": accuracy}}
    records.pop(drop or "", None)
    return records


def _write_check(path: Path, statuses: dict[str, str]) -> Path:
    path.write_text(json.dumps({"frameworks": {fw: {"status": s} for fw, s in statuses.items()}}))
    return path


def test_the_profile_pairs_float32_and_bf16_on_the_findings_own_cells() -> None:
    cells = expand(load_matrix_profile("bf16_check"))
    assert len(cells) == 12
    bf16 = [c for c in cells if c.bf16]
    assert len(bf16) == 6 and all(c.run_id.split("-")[-2] == "bf16" for c in bf16)
    assert all(c.config["image_size"] == 64 and c.config["epochs"] == 20 for c in cells)
    assert {c.config["mode"]["onednn"] for c in cells if c.framework == "tf"} == {True}
    # the float32 cells are schedule64's baseline cells: their stored records are reused
    finding = load_finding()
    grid, _ = finding_cells(finding, selection_from(
        finding, "schedule64", "synthetic", regimes=["random.full"], variants=("baseline",),
        probe=False))
    assert {c.config_hash for c in grid} == {c.config_hash for c in cells if not c.bf16}


def test_every_bf16_seed_inside_the_float32_interval_passes_one_outside_fails() -> None:
    cells = expand(load_matrix_profile("bf16_check"))
    verdict = bf16_check.evaluate(cells, _records(
        {"torch": [0.61, 0.63, 0.60], "tf": [0.61, 0.50, 0.62]}))
    torch, tf = verdict["torch"], verdict["tf"]
    assert torch["status"] == "passed" and tf["status"] == "failed"
    assert torch["float32"]["mean"] == pytest.approx(0.62)
    assert torch["float32"]["ci95"] == pytest.approx([0.62 - 0.04968, 0.62 + 0.04968], abs=1e-4)
    assert tf["inside"] == {0: True, 1: False, 2: True}
    assert "seed(s) 1 outside" in tf["reason"]
    # at the edges of [57.03 %, 66.97 %]: 57.1 % is inside, 56.9 % outside
    edge = bf16_check.evaluate(cells, _records({"torch": [0.571, 0.62, 0.62],
                                                "tf": [0.569, 0.62, 0.62]}))
    assert edge["torch"]["status"] == "passed" and edge["tf"]["status"] == "failed"


def test_the_float32_interval_stays_within_0_and_100_percent() -> None:
    """Seeds far apart near 100 % give a t-interval above 100 %: the check records it clipped,
    as the report prints it, and a bf16 seed at 100 % is inside it."""
    verdict = bf16_check.judge({0: 0.99, 1: 0.70, 2: 0.98}, {0: 1.0}, [])
    low, high = verdict["float32"]["ci95"]
    assert high == 1.0 and 0.0 <= low < 0.89
    assert verdict["status"] == "passed"


def test_a_missing_or_failed_run_leaves_the_check_incomplete() -> None:
    cells = expand(load_matrix_profile("bf16_check"))
    gone = next(c.run_id for c in cells if c.framework == "torch" and c.bf16)
    verdict = bf16_check.evaluate(cells, _records({"torch": FLOAT32, "tf": FLOAT32}, drop=gone))
    assert verdict["torch"]["status"] == "incomplete" and gone in verdict["torch"]["reason"]
    assert verdict["tf"]["status"] == "passed"


def test_the_command_writes_the_verdict_and_performance_md_shows_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = _records({"torch": [0.61, 0.63, 0.60], "tf": [0.61, 0.50, 0.62]})
    monkeypatch.setattr(bf16_check, "load_records", lambda folder: list(records.values()))
    assert bf16_check.main(["--results", str(tmp_path)]) == 1  # tf failed
    written = json.loads((tmp_path / "performance" / "bf16_check.json").read_text())
    assert written["frameworks"]["torch"]["status"] == "passed" and not written["passed"]
    assert mode_guard.check_status("tf", tmp_path / "performance" / "bf16_check.json") == "failed"
    figures = assemble(suite_plan.load_suite_profile("quick"), [], None, tmp_path / "no-matrix",
                       "test", tmp_path / "performance")
    text = render(figures)
    assert "## bf16 against float32: accuracy" in text
    assert "| torch | 62.0 % [57.0 %, 67.0 %] | s0 61.0 %, s1 63.0 %, s2 60.0 % | passed" in text
    assert "s1 50.0 % (outside)" in text and "| failed: seed(s) 1 outside" in text


def _profile(tmp_path: Path, tables: str, extra: str = "") -> Path:
    path = tmp_path / "picks.toml"
    path.write_text(f'frameworks = ["torch", "tf"]\nvariants = ["baseline"]\nseeds = [0]\n'
                    f'splits = ["random"]\nhud = ["full"]\n{extra}\n{tables}\n')
    return path


@pytest.mark.parametrize("tables, framework", [
    ("[run.mode]\nmixed_precision = true", "torch"),
    ("[framework.tf.mode]\nmixed_precision = true", "tf"),
    ("[variant.baseline.mode]\nmixed_precision = true", "torch"),
])
def test_a_profile_picking_bf16_is_refused_until_its_check_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tables: str, framework: str) -> None:
    check = tmp_path / "bf16_check.json"
    monkeypatch.setattr(mode_guard, "CHECK_PATH", check)
    profile = _profile(tmp_path, tables)
    with pytest.raises(ConfigError) as info:  # never run
        load_matrix_profile(str(profile))
    assert str(info.value).startswith(f"profile {profile}: picks mode 'mixed_precision' (bf16) "
                                      f"for {framework!r}, whose bf16-vs-float32 accuracy "
                                      "check is not run")
    assert "\n" not in str(info.value)
    _write_check(check, {"torch": "failed", "tf": "failed"})
    with pytest.raises(ConfigError, match="accuracy check is failed"):
        load_matrix_profile(str(profile))
    _write_check(check, {"torch": "passed", "tf": "passed"})
    assert load_matrix_profile(str(profile))["frameworks"] == ["torch", "tf"]


def test_only_the_framework_picked_needs_a_passed_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mode_guard, "CHECK_PATH", _write_check(
        tmp_path / "bf16_check.json", {"torch": "passed", "tf": "failed"}))
    load_matrix_profile(str(_profile(tmp_path, "[framework.torch.mode]\nmixed_precision = true")))
    with pytest.raises(ConfigError, match="for 'tf'"):
        load_matrix_profile(str(_profile(tmp_path, "[run.mode]\nmixed_precision = true")))
    # the profile that makes the check's own records is exempt; float32 profiles never asked
    assert load_matrix_profile("bf16_check")["faithfulness_check"] is True
    load_matrix_profile("paper")


def test_a_finding_protocol_picking_bf16_is_refused_unless_its_check_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    check = tmp_path / "bf16_check.json"
    monkeypatch.setattr(mode_guard, "CHECK_PATH", check)
    finding = load_finding()
    finding["protocol"]["bf16"] = dict(finding["protocol"]["schedule64"], framework={
        "tf": {"mode": {"onednn": True, "mixed_precision": True}}})
    _write_check(check, {"torch": "passed", "tf": "failed"})
    with pytest.raises(ConfigError) as info:
        selection_from(finding, "bf16", "synthetic")
    assert str(info.value).startswith("finding augmentation [protocol.bf16]: picks mode "
                                      "'mixed_precision' (bf16) for 'tf'")
    _write_check(check, {"torch": "failed", "tf": "passed"})
    assert selection_from(finding, "bf16", "synthetic").protocol == "bf16"


def test_a_precisions_axis_outside_float32_and_bf16_is_refused(tmp_path: Path) -> None:
    profile = load_matrix_profile(str(_profile(tmp_path, "", 'precisions = ["fp8"]')))
    with pytest.raises(ConfigError, match="key 'precisions' must be a non-empty list"):
        expand(profile)
