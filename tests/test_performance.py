"""`python -m benchmarks performance`: its figures on synthetic inputs, and a smoke run that
drives both framework suites. No test here asserts a timing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from benchmarks.matrix.envs import PROJECT_ROOT, framework_python
from benchmarks.performance import figures as pf
from benchmarks.performance.render import render
from benchmarks.performance.suite_runs import Suite
from benchmarks.performance.suites import assemble
from common_data.bench import suite as suite_plan
from common_data.errors import ConfigError
from tf_impl import ONEDNN_ENV

pytestmark = pytest.mark.cross_env

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
N = 2048


def _bench(kind: str, median: float, best: float | None = None, **info: Any) -> dict[str, Any]:
    info = {"framework": "torch", "kind": kind, "mode": "default", "threads": 2, **info}
    return {"name": f"test_case[{kind}]", "extra_info": info,
            "stats": {"median": median, "min": best if best is not None else median, "rounds": 3}}


def _pipeline(rounds_s: list[float], compute_s: float, wait: float) -> dict[str, Any]:
    return {"total_s": sorted(rounds_s)[1], "rounds_s": rounds_s, "compute_s": compute_s,
            "data_wait_fraction": wait}


def _e2e(framework: str) -> dict[str, Any]:
    """Three rounds; round 2 ran under load (every pipeline slower), so only paired ratios
    give the published/cached speedup of 1.2 exactly."""
    pipelines = {"published": _pipeline([12.0, 24.0, 12.0], 10.0, 0.2),
                 "cached": _pipeline([10.0, 20.0, 10.0], 10.0, 0.01),
                 "cached_prefetch": _pipeline([8.0, 16.0, 8.0], 10.0, 0.001)}
    return _bench("end_to_end", 50.0, framework=framework, batch_size=32, images=192,
                  pipelines=pipelines)


def _suite(framework: str, peak_s: float, train_s: float, loader_s: float) -> dict[str, Any]:
    """A suite whose figures are known: sgemm of N at `peak_s`, a batch-32 step at `train_s`
    with 1e9 FLOPs per training image, a 256-image loader epoch at `loader_s`."""
    fw = {"framework": framework}
    return {"machine_info": {"python_version": "3.11.7"}, "benchmarks": [
        _bench("matmul", 1.0, peak_s, size=N, flops=2 * N**3, mode="sgemm", **fw),
        _bench("loader", loader_s, images=256, batch_size=32, **fw),
        _bench("train", train_s, images=32, batch_size=32, flops_per_image=1e9,
               n_train=559, n_val=140, **fw),
        _bench("train", train_s / 2, images=128, batch_size=128, flops_per_image=1e9, **fw),
        _bench("eval", train_s / 3, images=32, batch_size=32, flops_per_image=1e9 / 3, **fw),
        _e2e(framework),
    ]}


def _record(started: datetime, seconds: float, train_s: float, eval_s: float) -> dict:
    return {"run_id": f"r{started.timestamp():.0f}", "started_at": started.isoformat(),
            "finished_at": (started + timedelta(seconds=seconds)).isoformat(),
            "timing": {"train_s": train_s, "eval_s": eval_s, "data_wait_fraction": 0.02}}


def _matrix(folder: Path, command: str = "python -m benchmarks compare") -> Path:
    """A 100 s matrix that ran two cells (train+eval 40 s and 30 s), beside a record from an
    earlier matrix that this one skipped."""
    (folder / "runs").mkdir(parents=True)
    records = [_record(T0 + timedelta(seconds=5), 45, 35.0, 5.0),
               _record(T0 + timedelta(seconds=55), 40, 25.0, 5.0),
               _record(T0 - timedelta(hours=1), 60, 50.0, 5.0)]
    for record in records:
        (folder / "runs" / f"{record['run_id']}.json").write_text(json.dumps(record))
    summary = {"command": command, "wall_s": 100.0, "subprocess_s": 95.0,
               "finished_at": (T0 + timedelta(seconds=100)).isoformat()}
    (folder / "matrix.json").write_text(json.dumps(summary))
    return folder


def test_roofline_fraction_is_achieved_flops_over_the_same_threads_peak() -> None:
    rows = pf.rows_from_suite(_suite("torch", peak_s=0.2, train_s=0.5, loader_s=0.1))
    peaks = pf.matmul_peaks(rows)
    torch_peak = 2 * N**3 / 0.2 / 1e9
    assert peaks["torch"][2] == pytest.approx(torch_peak)  # best round, not median
    machine = pf.machine_peaks({**peaks, "tf": {2: 2 * torch_peak, 1: 7.0}})
    assert machine == pytest.approx({2: 2 * torch_peak, 1: 7.0})  # either framework's best
    train = next(r for r in rows if r.kind == "train" and r.batch_size == 32)
    assert train.images_per_s == pytest.approx(64.0)
    assert train.gflops == pytest.approx(64.0)
    best = pf.best_peak_fraction(rows, {"sgemm": machine}, batch_size=32,
                                 image_size=128)["torch"]
    assert best["fraction"] == pytest.approx(64.0 / (2 * torch_peak))
    assert best["eval_fraction"] == pytest.approx(32 / (0.5 / 3) / 3 / (2 * torch_peak))
    assert pf.peak_fraction(train, {"sgemm": {1: 5.0}}) is None  # no peak at its 2 threads


def test_each_mode_is_held_to_the_peak_of_its_own_precision(tmp_path: Path) -> None:
    """A bf16 step (mode mixed_precision) is divided by the bf16 matmul peak, a float32 step by
    the sgemm one; a bf16 step without a bf16 peak has no fraction rather than float32's."""
    suite = _suite("torch", peak_s=0.2, train_s=0.5, loader_s=0.1)  # sgemm 85.9 GFLOP/s
    bf16 = {"framework": "torch", "batch_size": 32, "images": 32, "flops_per_image": 1e9,
            "mode": "mixed_precision", "image_size": 128}
    suite["benchmarks"] += [
        _bench("matmul", 1.0, 0.05, size=N, flops=2 * N**3, mode="bf16"),  # 4x sgemm's rate
        _bench("train", 0.25, **bf16), _bench("eval", 0.1, **{**bf16, "images": 32}),
    ]
    rows = pf.rows_from_suite(suite)
    sgemm, bf16_peak = 2 * N**3 / 0.2 / 1e9, 2 * N**3 / 0.05 / 1e9
    peaks = pf.precision_peaks(rows)
    assert peaks == {"sgemm": {2: pytest.approx(sgemm)}, "bf16": {2: pytest.approx(bf16_peak)}}
    step = next(r for r in rows if r.kind == "train" and r.mode == "mixed_precision")
    assert step.precision == "bf16"  # from the workload's mode table: the row names no precision
    assert pf.peak_fraction(step, peaks) == pytest.approx(128.0 / bf16_peak)
    float32 = next(r for r in rows if r.kind == "train" and r.mode == "default"
                   and r.batch_size == 32)
    assert pf.peak_fraction(float32, peaks) == pytest.approx(64.0 / sgemm)
    assert pf.peak_fraction(step, {"sgemm": peaks["sgemm"]}) is None
    # the bf16 step is faster (128 vs 64 GFLOP/s) but a smaller part of its own peak
    best = pf.best_peak_fraction(rows, peaks, batch_size=32, image_size=128)["torch"]
    assert best["mode"] == "default" and best["precision"] == "sgemm"

    path = tmp_path / "torch-t2.json"
    path.write_text(json.dumps(suite))
    figures = assemble(suite_plan.load_suite_profile("quick"), [Suite("torch-t2", 0, path)], None,
                       tmp_path / "no-matrix", "test")
    by_mode = {(m["kind"], m["mode"], m["batch_size"]): m for m in figures["modes"]}
    assert by_mode[("train", "mixed_precision", 32)]["precision"] == "bf16"
    assert by_mode[("train", "mixed_precision", 32)]["peak_fraction"] == pytest.approx(
        128.0 / bf16_peak)
    assert by_mode[("train", "default", 32)]["peak_fraction"] == pytest.approx(64.0 / sgemm)
    assert figures["machine_peak_gflops"] == {"2": pytest.approx(sgemm)}
    assert figures["machine_peak_gflops_by_precision"]["bf16"] == {"2": pytest.approx(bf16_peak)}
    text = render(figures)
    assert "| torch | train | mixed_precision | bf16 |" in text
    assert f"bf16 2 thr {bf16_peak:,.1f}" in text


def test_loader_over_train_takes_the_slowest_loader_and_the_fastest_training() -> None:
    rows = (pf.rows_from_suite(_suite("torch", 0.2, train_s=0.5, loader_s=0.1))
            + pf.rows_from_suite(_suite("tf", 0.2, train_s=0.4, loader_s=0.2)))
    data_suite = {"benchmarks": [{"name": pf.DATA_SUITE_LOADER, "median_s": 0.5,
                                  "extra_info": {"frames": 2000}}]}
    rates = pf.loader_rates(rows, data_suite)
    assert rates == pytest.approx({"torch env": 2560.0, "tf env": 1280.0,
                                   "harness env (bench_data.py)": 4000.0})
    figure = pf.loader_over_train(rates, rows)
    assert figure["loader_env"] == "tf env"
    assert figure["train_images_per_s"] == pytest.approx(128 / 0.2)  # tf at batch 128
    assert figure["value"] == pytest.approx(1280.0 / 640.0)


def test_end_to_end_speedup_overall_and_ceiling() -> None:
    rows = (pf.rows_from_suite(_suite("torch", 0.2, 0.5, 0.1))
            + pf.rows_from_suite(_suite("tf", 0.2, 0.5, 0.1)))
    e2e = pf.end_to_end(rows)
    assert e2e["torch"]["published"]["seconds"] == 12.0  # median round
    assert e2e["torch"]["speedup"] == pytest.approx(1.2)
    assert e2e["torch"]["speedup_prefetch"] == pytest.approx(1.5)
    assert e2e["torch"]["ceiling"] == pytest.approx(12.0 / 10.0)
    assert e2e["torch"]["speedup_same_compute"] == pytest.approx(12.0 / 10.0)
    assert e2e["overall"]["speedup"] == pytest.approx(1.2)
    assert pf.paired_ratio([4.0, 9.0], [2.0, 3.0]) == pytest.approx(2.5)


def test_harness_overhead_counts_only_the_runs_the_matrix_ran(tmp_path: Path) -> None:
    from benchmarks.performance.suite_runs import read_matrix

    matrix, records = read_matrix(_matrix(tmp_path, "python -m benchmarks compare --seeds 0"))
    assert matrix is not None
    figure = pf.harness_overhead(matrix, pf.matrix_records(matrix, records))
    assert figure["runs"] == 2
    assert figure["fraction"] == pytest.approx((100 - 70) / 100)
    assert figure["per_run_overhead_s"] == pytest.approx(15.0)
    assert figure["outside_runners_s"] == pytest.approx(5.0)
    assert figure["inside_runners_s"] == pytest.approx(25.0)
    assert figure["profile"] == "quick"
    assert pf.profile_of("python -m benchmarks compare --profile paper") == "paper"
    assert pf.profile_of("python -m benchmarks compare --profile=paper") == "paper"
    # runs side by side overlap in time, so their sum says nothing about the harness's share
    side_by_side = {**matrix, "jobs": 2}
    assert pf.harness_overhead(side_by_side, pf.matrix_records(side_by_side, records)) is None


def test_projected_overhead_and_judging() -> None:
    # 10 s fixed cost; 20 epochs x (18 steps x 1 s + 5 evals x 0.2 s) = 380 s of work
    assert pf.projected_overhead(10.0, 1.0, 0.2, 559, 140, 32, 20) == pytest.approx(10 / 390)
    loader, wait = pf.TARGETS[0], pf.TARGETS[1]
    assert pf.judge(loader, 40.0)["status"] == "met"
    assert pf.judge(loader, 10.0)["ratio"] == pytest.approx(0.5)
    assert pf.judge(wait, 0.05)["status"] == "missed"
    assert pf.judge(wait, None)["status"] == "not measured"
    assert pf.lookup({"a": {"b": 2}}, "a.b") == 2.0
    assert pf.lookup({"a": {}}, "a.b") is None


def test_assemble_writes_every_headline_figure(tmp_path: Path) -> None:
    suites = []
    for framework, train_s in (("torch", 0.5), ("tf", 0.4)):
        path = tmp_path / f"{framework}-t2.json"
        path.write_text(json.dumps(_suite(framework, 0.2, train_s, 0.1)))
        suites.append(Suite(f"{framework}-t2", 0, path))
    figures = assemble(suite_plan.load_suite_profile("quick"), suites, None,
                       _matrix(tmp_path / "m"), "test")
    assert set(figures["peak_fraction"]) == {"torch", "tf"}
    assert set(figures["speedup_vs_published_pipeline"]) == {"torch", "tf", "overall"}
    assert figures["harness_overhead_fraction"] == pytest.approx(0.3)
    assert figures["harness_overhead_profile"] == "quick"
    assert figures["data_wait_fraction"] == pytest.approx(0.02)  # the records' worst
    assert figures["matmul_peak_gflops"]["tf"]["2"] == pytest.approx(2 * N**3 / 0.2 / 1e9)
    assert figures["machine_peak_gflops"]["2"] == pytest.approx(2 * N**3 / 0.2 / 1e9)
    overhead = next(t for t in figures["targets"] if t["key"] == "harness_overhead_fraction")
    assert overhead["status"].startswith("not measured on paper")
    assert figures["details"]["harness_overhead"]["paper_projection"]["epochs"] == 20


def test_a_paper_matrix_judges_the_overhead_target(tmp_path: Path) -> None:
    matrix = _matrix(tmp_path / "m", "python -m benchmarks compare --profile paper --seeds 0")
    figures = assemble(suite_plan.load_suite_profile("quick"), [], None, matrix, "test")
    overhead = next(t for t in figures["targets"] if t["key"] == "harness_overhead_fraction")
    assert figures["harness_overhead_profile"] == "paper"
    assert overhead["status"] == "missed"  # 30 % of the wall time outside the runs
    assert "paper_projection" not in figures["details"]["harness_overhead"]


def test_workload_profiles_parse_and_list_cases() -> None:
    quick = suite_plan.load_suite_profile("quick")
    assert quick.image_size == 128 and quick.image_sizes == (128, 64)
    primary = suite_plan.SuiteSelection("quick", quick.threads[0])
    torch_cases = [str(c) for c in suite_plan.cases("torch", quick, primary)]
    assert "train-compile-b32-128px" in torch_cases and "train-default-b128-128px" in torch_cases
    assert "train-channels_last-b32-64px" in torch_cases and "eval-default-b32-64px" not in \
        torch_cases
    assert not any("xla" in c or "onednn" in c for c in torch_cases)
    single = [str(c) for c in suite_plan.cases("tf", quick, suite_plan.SuiteSelection(
        "quick", 1, process_mode=False))]  # no loader, no large batch, no oneDNN case
    assert single == ["matmul", "matmul-bf16", "train-default-b32-128px", "eval-default-b32-128px",
                      "train-xla-b32-128px", "eval-xla-b32-128px", "train-default-b32-64px"]
    onednn = [str(c) for c in suite_plan.cases("tf", quick, suite_plan.SuiteSelection(
        "quick", 1, process_mode=True))]
    assert onednn == ["matmul", "matmul-bf16", "train-onednn-b32-128px", "eval-onednn-b32-128px",
                      "train-bf16_onednn-b32-128px", "eval-bf16_onednn-b32-128px",
                      "train-onednn-b32-64px", "train-bf16_onednn-b32-64px"]
    with pytest.raises(ConfigError, match="--suite 'nope': no such suite"):
        suite_plan.load_suite_profile("nope")


def test_tf_suite_processes_set_onednn_explicitly_and_torch_never() -> None:
    """TF decides oneDNN at import from TF_ENABLE_ONEDNN_OPTS, with a CPU-dependent default:
    every TF suite process must get it as 0 or 1, and its name must say which."""
    quick = suite_plan.load_suite_profile("quick")
    tf = suite_plan.suite_selections("tf", quick, "synthetic")
    assert [s.name("tf") for s in tf] == ["tf-t2", "tf-t2-onednn", "tf-t1", "tf-t1-onednn"]
    for selection in tf:
        env = selection.to_env("tf")
        assert env[ONEDNN_ENV] == ("1" if selection.process_mode else "0")
        assert suite_plan.SuiteSelection(**json.loads(env[suite_plan.SELECTION_ENV])) == selection
    for selection in suite_plan.suite_selections("torch", quick, "synthetic"):
        assert selection.process_mode is None and ONEDNN_ENV not in selection.to_env("torch")
    selection = tf[1]
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(ONEDNN_ENV, raising=False)
        with pytest.raises(ConfigError, match=f"{ONEDNN_ENV}=None: expected '1'"):
            selection.check_process_env("tf")
        patch.setenv(ONEDNN_ENV, "1")
        selection.check_process_env("tf")


def test_smoke_run_of_both_suites_writes_the_json_fields(tmp_path: Path) -> None:
    try:
        framework_python("torch")
        framework_python("tf")
    except ConfigError as exc:
        pytest.skip(f"framework envs missing: {exc}")
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "performance", "--suite", "smoke",
         "--no-data-suite", "--results", str(results)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads((results / "performance.json").read_text())
    for key in ("loader_over_train", "data_wait_fraction"):
        assert isinstance(figures[key], float), key
    assert set(figures["peak_fraction"]) == {"torch", "tf"}
    assert set(figures["speedup_vs_published_pipeline"]) == {"torch", "tf", "overall"}
    assert set(figures["matmul_peak_gflops"]) == {"torch", "tf"}
    assert figures["machine_peak_gflops"]
    assert figures["harness_overhead_fraction"] is None  # no matrix in a fresh results folder
    assert figures["machine"]["cores"] == os.cpu_count()
    kinds = {(r["framework"], r["kind"]) for r in figures["modes"]}
    assert {("torch", "train"), ("tf", "eval"), ("tf", "end_to_end")} <= kinds
    assert len(figures["targets"]) == len(pf.TARGETS)
    smoke = suite_plan.load_suite_profile("smoke")
    sizes = {(r["framework"], r["mode"], r["image_size"]) for r in figures["modes"]
             if r["kind"] == "train"}
    assert {("tf", "onednn", size) for size in smoke.image_sizes} <= sizes
    assert {("torch", "default", size) for size in smoke.image_sizes} <= sizes
    assert {"tf-t2", "tf-t2-onednn", "torch-t2"} <= set(figures["suites"])
    # every TF row says which oneDNN setting its process asked for and saw it explicitly set
    for row in (r for r in figures["modes"] if r["framework"] == "tf"):
        assert row["onednn_env"] == ("1" if row["onednn"] else "0"), row
    assert set(figures["op_profiles"]) == {"torch", "tf"}
    report = (results / "PERFORMANCE.md").read_text()
    for heading in ("## Targets", "## Where the time goes", "## Time to verdict", "## GPU"):
        assert heading in report
    assert "| tf | train | onednn | float32 | on | 24 |" in report
