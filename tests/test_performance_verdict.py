"""Time to verdict and the report's newer sections (per-op profiles, oneDNN and size columns,
GPU status), on synthetic inputs: no run is trained and no timing asserted; only the
framework-defaults probe starts a process."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.matrix.cells import Cell
from benchmarks.performance import verdict_time
from benchmarks.performance.render import render
from benchmarks.performance.suite_runs import Suite
from benchmarks.performance.suites import assemble
from common_data.bench import suite as suite_plan
from common_data.bench.breakdown import breakdown

pytestmark = pytest.mark.cross_env


def _record(config: dict[str, Any], train_s: float, epochs: int = 2) -> dict[str, Any]:
    return {"status": "ok", "config": config, "history": [{}] * epochs,
            "timing": {"train_s": train_s, "total_s": train_s + 10.0},
            "environment": {"concurrent_runs": 2}}


# what the frameworks answer on an AVX-512 VNNI CPU, and on one without it
ONEDNN_BY_ITSELF = {"torch": {"channels_last": False, "compile": False},
                    "tf": {"onednn": True, "jit_compile": False}}
ALL_OFF = {**ONEDNN_BY_ITSELF, "tf": {"onednn": False, "jit_compile": False}}


def test_verdict_cells_set_the_tuned_matrix_against_framework_defaults_on_every_core() -> None:
    cells = verdict_time.verdict_cells(2, "synthetic", 2, ["torch", "tf"], cores=2,
                                       defaults=ONEDNN_BY_ITSELF, bf16=[])
    by = {(m, s, c.framework, c.seed): c for m, s, c in cells}
    assert by[("finding", "tuned", "tf", 0)].config["mode"]["onednn"] is True
    assert by[("finding", "modes_off", "tf", 0)].config["mode"]["onednn"] is False
    # out of the box is what TF does by itself here, not the forced-off setting
    assert by[("finding", "out_of_box", "tf", 0)].config["mode"]["onednn"] is True
    assert by[("paper", "tuned", "torch", 0)].config["mode"]["channels_last"] is True
    assert by[("paper", "out_of_box", "torch", 0)].config["mode"]["channels_last"] is False
    for (matrix, setting, _, _), cell in by.items():
        assert cell.config["epochs"] == 2 and cell.config["variant"] == "baseline"
        assert cell.config["image_size"] == (64 if matrix == "finding" else 128)
        # the untuned settings give every core to one run; tuned keeps the profiles' one thread
        assert cell.config["threads"] == (1 if setting == "tuned" else 2)
    # PyTorch turns nothing on by itself: its out-of-the-box runs are its modes-off runs
    shared = {c.run_id for m, s, c in cells if s == "modes_off"} & {
        c.run_id for m, s, c in cells if s == "out_of_box"}
    assert shared == {c.run_id for m, s, c in cells if s == "modes_off" and c.framework == "torch"}
    assert len(cells) == 3 * 2 * 2 * 2 and len({c.run_id for _, _, c in cells}) == 20
    assert verdict_time.tuned_jobs(cells) == 2


def test_verdict_cells_run_untuned_alone_tuned_side_by_side_and_shared_cells_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.performance import verdict_time as module

    calls: list[tuple[list[str], int, bool]] = []
    monkeypatch.setattr(module, "run_matrix",
                        lambda batch, folder, force, command, jobs: calls.append(
                            ([c.run_id for c in batch], jobs, force)))
    cells = verdict_time.verdict_cells(1, "synthetic", 2, ["torch", "tf"], cores=2,
                                       defaults=ONEDNN_BY_ITSELF, bf16=[])
    verdict_time.run_verdict_cells(cells, tmp_path, "test", force=False)

    def ids(matrix: str, setting: str, *frameworks: str) -> set[str]:
        return {c.run_id for m, s, c in cells if (m, s) == (matrix, setting)
                and c.framework in frameworks}

    # untuned one at a time, tuned two at a time; the shared PyTorch cell runs once
    assert [(set(batch), jobs) for batch, jobs, _ in calls] == [
        (ids(matrix, setting, *fws), jobs) for matrix in ("finding", "paper")
        for setting, fws, jobs in (("modes_off", ("torch", "tf"), 1),
                                   ("out_of_box", ("tf",), 1), ("tuned", ("torch", "tf"), 2))]
    assert all(force is False for _, _, force in calls)
    # where TF leaves oneDNN off by itself, out of the box is modes off: nothing runs twice
    calls.clear()
    cells = verdict_time.verdict_cells(1, "synthetic", 2, ["torch", "tf"], cores=2,
                                       defaults=ALL_OFF, bf16=[])
    verdict_time.run_verdict_cells(cells, tmp_path, "test")
    assert [len(ids) for ids, _, _ in calls] == [2, 2, 2, 2]
    # one tuned cell per matrix runs alone, so its record does not claim a partner
    calls.clear()
    cells = verdict_time.verdict_cells(1, "synthetic", 2, ["tf"], cores=2,
                                       defaults=ONEDNN_BY_ITSELF, bf16=[])
    verdict_time.run_verdict_cells(cells, tmp_path, "test")
    assert [jobs for _, jobs, _ in calls] == [1] * 6


def test_measured_ratio_counts_a_shared_run_by_its_share_of_the_cores(tmp_path: Path) -> None:
    def cell(framework: str, onednn: bool, config_hash: str) -> Cell:
        config = {"mode": {"onednn": onednn}, "image_size": 64, "threads": 1}
        return Cell(framework, "baseline", 0, "random", -1, "full", config, config_hash)

    cells = [("finding", "modes_off", cell("tf", False, "b")),
             ("finding", "modes_off", cell("torch", False, "d")),
             ("finding", "out_of_box", cell("tf", True, "e")),
             ("finding", "out_of_box", cell("torch", False, "d")),
             ("finding", "tuned", cell("tf", True, "a")),
             ("finding", "tuned", cell("torch", False, "c"))]
    (tmp_path / "runs").mkdir()
    timing = {"b": (60.0, 1), "d": (40.0, 1), "e": (36.0, 1), "a": (20.0, 2), "c": (40.0, 2)}
    for _, _, c in cells:
        train_s, at_once = timing[c.config_hash]
        record = _record({}, train_s)
        record["environment"]["concurrent_runs"] = at_once
        (tmp_path / "runs" / f"{c.run_id}.json").write_text(json.dumps(record))
    figure = verdict_time.measured(cells, tmp_path, epochs=2)
    assert figure is not None
    finding = figure["matrices"]["finding"]
    assert finding["modes_off_s"] == pytest.approx(30.0 + 20.0)
    assert finding["out_of_box_s"] == pytest.approx(18.0 + 20.0)
    assert finding["tuned_s"] == pytest.approx((10.0 + 20.0) / 2)
    assert finding["ratio"] == pytest.approx(38.0 / 15.0)
    assert finding["ratio_modes_off"] == pytest.approx(50.0 / 15.0)
    assert verdict_time.measured(cells, tmp_path / "nothing", epochs=2) is None
    assert finding["ratio_bf16"] is None  # no bf16 cell ran: no bf16 figure

    # bf16 for PyTorch only (TF's check not passed): TF counts with its float32 tuned run
    bf16_cell = Cell("torch", "baseline", 0, "random", -1, "full",
                     {"mode": {"mixed_precision": True}, "image_size": 64, "threads": 1}, "f")
    record = _record({}, 16.0)
    (tmp_path / "runs" / f"{bf16_cell.run_id}.json").write_text(json.dumps(record))
    figure = verdict_time.measured([*cells, ("finding", "tuned_bf16", bf16_cell)], tmp_path, 2)
    finding = figure["matrices"]["finding"]
    assert finding["bf16_frameworks"] == ["torch"]
    assert finding["ratio_bf16"] == pytest.approx(38.0 / (8.0 / 2 + 10.0 / 2))


def test_bf16_cells_run_only_for_frameworks_whose_check_passed() -> None:
    cells = verdict_time.verdict_cells(1, "synthetic", 2, ["torch", "tf"], cores=2,
                                       defaults=ONEDNN_BY_ITSELF, bf16=["tf"])
    bf16 = [(m, c) for m, s, c in cells if s == "tuned_bf16"]
    assert sorted(m for m, _ in bf16) == ["finding", "paper"]
    assert {c.framework for _, c in bf16} == {"tf"}
    for _, c in bf16:  # the tuned cell plus bf16: its chosen modes and one thread kept
        assert c.config["mode"]["mixed_precision"] and c.config["mode"]["onednn"]
        assert c.config["threads"] == 1


def test_framework_defaults_are_asked_of_the_frameworks_own_module(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.matrix.envs import framework_defaults

    # pytorch_impl.defaults needs no torch, so the harness's python can answer for it
    monkeypatch.setenv("THERMAL_BENCH_PYTHON_TORCH", sys.executable)
    assert framework_defaults("torch") == {"channels_last": False, "compile": False}


def test_a_framework_env_that_cannot_answer_its_defaults_is_named_in_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.matrix.envs import framework_defaults
    from common_data.errors import BenchError

    # the harness's own python has no TensorFlow
    monkeypatch.setenv("THERMAL_BENCH_PYTHON_TF", sys.executable)
    # (keras or tensorflow, whichever the twin's import chain reaches first)
    with pytest.raises(BenchError, match=r"^python -m tf_impl\.defaults exited 1: "
                                         r"ModuleNotFoundError: No module named '\w+'$"):
        framework_defaults("tf")


def test_paper_runs_keep_only_the_protocols_baseline(tmp_path: Path) -> None:
    base = {"framework": "tf", "variant": "baseline", "image_size": 128, "epochs": 20,
            "seed": 1, "threads": 1, "data": "/d/facial-emotion", "mode": {"onednn": True}}
    rows = verdict_time.paper_runs([
        _record(base, 900.0, 20), _record({**base, "image_size": 64}, 100.0, 20),
        _record({**base, "variant": "augmented", "epochs": 40}, 100.0, 40),
        _record({**base, "hud": "hud_only"}, 100.0, 20)])
    assert rows == [{"framework": "tf", "seed": 1, "dataset": "facial-emotion",
                     "modes": "onednn", "threads": 1, "concurrent_runs": 2, "run_s": 910.0,
                     "epochs": 20}]


def test_breakdown_ranks_ops_and_keeps_the_unaccounted_time() -> None:
    table = breakdown({"conv": 0.6, "relu": 0.2, "none": 0.0}, wall_s=1.0, steps=2)
    assert table["step_ms"] == pytest.approx(500.0)
    assert [r["op"] for r in table["rows"]][:2] == ["conv", "relu"]
    assert table["rows"][0]["fraction"] == pytest.approx(0.6)
    assert table["rows"][-1]["ms"] == pytest.approx(100.0)  # outside ops


def _suite(framework: str, onednn: bool | None) -> dict[str, Any]:
    fw = {"framework": framework, "threads": 1, "onednn": onednn}
    stats = {"median": 0.5, "min": 0.5, "rounds": 3}
    return {"machine_info": {"python_version": "3.13.0"}, "benchmarks": [
        {"name": "m", "stats": {**stats, "min": 0.2}, "extra_info": {
            **fw, "kind": "matmul", "mode": "sgemm", "size": 2048, "flops": 2 * 2048**3}},
        *({"name": f"t{size}", "stats": stats, "extra_info": {
            **fw, "kind": "train", "mode": "onednn" if onednn else "default", "batch_size": 32,
            "images": 32, "flops_per_image": 1e9, "image_size": size}} for size in (128, 64))]}


def test_report_shows_sizes_onednn_rows_profiles_verdict_and_gpu(tmp_path: Path) -> None:
    suites = []
    for name, fw, onednn in (("torch-t1", "torch", None), ("tf-t1", "tf", False),
                             ("tf-t1-onednn", "tf", True)):
        (tmp_path / f"{name}.json").write_text(json.dumps(_suite(fw, onednn)))
        suites.append(Suite(name, 0, tmp_path / f"{name}.json"))
    profile = {"mode": "onednn", "onednn": True, "image_size": 128, "batch_size": 32,
               "threads": 1, **breakdown({"_MklNativeConv2D": 0.3}, 0.5, 1)}
    (tmp_path / "op-profile-tf.json").write_text(json.dumps(profile))
    cells = {"matrices": {"finding": {"tuned_s": 10.0, "out_of_box_s": 12.0, "ratio": 1.2,
                                      "modes_off_s": 16.0, "ratio_modes_off": 1.6,
                                      "cells": []}}, "epochs": 2, "folder": "v"}
    quick = suite_plan.load_suite_profile("quick")
    figures = assemble(quick, suites, None, tmp_path / "no-matrix", "test", tmp_path,
                       {"finding": None, "paper": [], "measured": cells})
    assert figures["peak_fraction"]["tf"] == pytest.approx(
        figures["details"]["peak"]["tf"]["fraction"])
    assert figures["details"]["peak"]["tf"]["image_size"] == 128
    verdict = next(t for t in figures["targets"] if t["key"] == "verdict_speedup.finding")
    assert verdict["status"] == "missed" and verdict["value"] == pytest.approx(1.2)
    text = render(figures)
    assert "| oneDNN | size |" in text
    assert "| tf | train | default | float32 | off | 128 |" in text
    assert "| tf | train | onednn | float32 | on | 64 |" in text
    assert "| torch | train | default | float32 |  | 64 |" in text
    assert "## Where the time goes" in text and "| _MklNativeConv2D | 60.0 % | 300.0 |" in text
    assert "## Time to verdict" in text
    assert "| finding | 12.00 | 16.00 | 10.00 | 1.20x | 1.60x |" in text
    assert "not measured: no GPU is lent to this project" in text
    assert "not measured: TensorFlow is not installed on the GPU machine" in text
