"""The GPU check's two ends on this machine: the kit that travels (a lossless data pack and the
paper run's config) and the report of what came back. The device run itself needs a GPU."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.performance import gpu_kit, gpu_report, gpu_study
from benchmarks.performance.render import render
from benchmarks.performance.suites import assemble
from common_data.atomic import save_npz_atomic
from common_data.bench import suite as suite_plan
from common_data.data.datasets import load_for_run
from common_data.errors import DataError
from common_data.run.schema import config_digest, file_sha256, read_predictions

RUNS = Path(__file__).resolve().parent.parent / "results" / "runs"
# a committed CPU record of the paper protocol's PyTorch baseline: the template of GPU records
TEMPLATE = "torch-baseline-random-full-128px-s0-e9f7ddde30"

pytestmark = pytest.mark.cross_env


def test_the_kit_packs_the_runners_pixels_with_the_paper_runs_config(
        make_dataset: Callable[..., Path], tmp_cache: Path, tmp_path: Path) -> None:
    source = make_dataset(palettes=["IRON"], per_folder=2)
    kit = tmp_path / ".gpu"
    assert gpu_kit.build_kit(str(source), kit) == 10
    assert sorted(p.suffix for p in (kit / "data").rglob("*.*")) == [".webp"] * 10
    assert np.array_equal(load_for_run(str(kit / "data")).images,
                          load_for_run(str(source)).images)
    config = json.loads((kit / "paper-run.json").read_text())
    assert (config["framework"], config["variant"], config["seed"]) == ("torch", "baseline", 0)
    assert (config["image_size"], config["epochs"], config["batch_size"]) == (128, 20, 32)
    assert (config["device"], config["data"], config["save_weights"]) == (
        "gpu", ".gpu/data", False)
    suite = json.loads((kit / "suite.json").read_text())
    assert suite == {"profile": "gpu", "threads": config["threads"], "data": ".gpu/data",
                     "process_mode": None}
    bf16 = json.loads((kit / "paper-run-bf16.json").read_text())
    assert bf16 == {**config, "mode": {**config["mode"], "mixed_precision": True}}
    study = suite_plan.gpu_seed_study()
    seeds = sorted((kit / "seeds").glob("*.json"))
    assert len(seeds) == 2 * (study["seeds"] - 1)
    by_name = {p.stem: json.loads(p.read_text()) for p in seeds}
    assert by_name["bf16-s01"]["mode"]["mixed_precision"] is True
    assert by_name["float32-s01"] == {**by_name["bf16-s01"], "mode": {
        **by_name["bf16-s01"]["mode"], "mixed_precision": False}}
    assert {c["seed"] for c in by_name.values()} == set(range(1, study["seeds"]))
    assert json.loads((kit / "sweep.json").read_text()) == {
        k: study[k] for k in ("parallel", "budget_s", "run_timeout_s")}


def test_a_failed_pack_leaves_the_previous_kit(
        make_dataset: Callable[..., Path], tmp_cache: Path, tmp_path: Path) -> None:
    kit = tmp_path / ".gpu"
    gpu_kit.build_kit(str(make_dataset(per_folder=1)), kit)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError):
        gpu_kit.build_kit(str(empty), kit)
    assert (kit / "paper-run.json").is_file() and len(list((kit / "data").rglob("*.webp"))) == 5


def _gpu_record(folder: Path, name: str, seed: int, bf16: bool, accuracy: float,
                flip: int = 0, **timing: float) -> None:
    """A GPU record of the study, made from the committed CPU record: another seed, place and
    precision, its accuracy set, and its first `flip` predictions moved to another class."""
    record = json.loads((RUNS / f"{TEMPLATE}.json").read_text())
    config = record["config"]
    config.update(seed=seed, device="gpu", threads=1, save_weights=False,
                  mode={**config["mode"], "mixed_precision": bf16})
    record.update(config_hash=config_digest(config), run_id=name, weights_file=None)
    record["metrics"]["accuracy"] = accuracy
    record["environment"].update(gpu="NVIDIA H200", device="cuda", concurrent_runs=1)
    record["timing"].update(timing)
    predictions = read_predictions(RUNS / f"{TEMPLATE}.predictions.npz")
    proba = predictions["proba"].copy()
    proba[:flip] = np.roll(proba[:flip], 1, axis=1)
    target = folder / f"{name}.predictions.npz"
    save_npz_atomic(target, **{**predictions, "proba": proba})
    record.update(predictions_file=target.name, predictions_sha256=file_sha256(target))
    (folder / f"{name}.json").write_text(json.dumps(record))


def _returned(folder: Path, seeds: bool = True) -> None:
    folder.mkdir(parents=True)
    (folder / "device.txt").write_text("NVIDIA H200, 143771 MiB, 580.159.03\npython 3.12.3\n")
    stats = {"median": 0.004, "min": 0.0039, "rounds": 30}
    fw = {"framework": "torch", "threads": 8, "device": "NVIDIA H200"}
    matmul = {**fw, "kind": "matmul", "size": 8192, "flops": 2 * 8192**3}
    suite: dict[str, Any] = {"benchmarks": [
        {"name": "m", "stats": {**stats, "min": 2 * 8192**3 / 50e12}, "extra_info": {
            **matmul, "mode": "sgemm"}},
        {"name": "b", "stats": {**stats, "min": 2 * 8192**3 / 640e12}, "extra_info": {
            **matmul, "mode": "bf16"}},
        {"name": "t", "stats": stats, "extra_info": {
            **fw, "kind": "train", "mode": "mixed_precision", "batch_size": 256,
            "image_size": 128, "images": 256, "flops_per_image": 1e9, "first_call_s": 1.5,
            "peak_memory_mb": 2048.0}}]}
    (folder / "torch-gpu.json").write_text(json.dumps(suite))
    work = folder.parent / f"{folder.name}-work"
    (work / "seeds").mkdir(parents=True)
    if seeds:
        _gpu_record(work / "seeds", "paper-gpu", 0, False, 0.80, train_s=40.0,
                    step_ms_median=3.2)
        _gpu_record(work / "seeds", "paper-gpu-bf16", 0, True, 0.78, flip=10, train_s=25.0,
                    step_ms_median=2.0)
        for seed, (f32, bf) in enumerate([(0.82, 0.81), (0.20, 0.21), (0.85, 0.86)], start=1):
            _gpu_record(work / "seeds", f"float32-s{seed:02d}", seed, False, f32, flip=5)
            _gpu_record(work / "seeds", f"bf16-s{seed:02d}", seed, True, bf, flip=20)
    with tarfile.open(folder / "seeds.tar.gz", "w:gz") as tar:
        tar.add(work / "seeds", arcname="seeds")


def test_ingested_gpu_figures_replace_the_not_measured_row(tmp_path: Path) -> None:
    results = tmp_path / "results"
    (results / "performance").mkdir(parents=True)
    before = render(assemble(suite_plan.load_suite_profile("quick"), [], None,
                             tmp_path / "no-matrix", "test", results / "performance", {}))
    assert "| PyTorch | not measured: no GPU is lent to this project |" in before

    _returned(tmp_path / "files")
    gpu_kit.ingest(tmp_path / "files", results)
    text = render(assemble(suite_plan.load_suite_profile("quick"), [], None,
                           tmp_path / "no-matrix", "test", results / "performance", {}))
    assert "PyTorch twin on NVIDIA H200, 143771 MiB, 580.159.03 / python 3.12.3" in text
    assert "float32 (TF32 off) 50.0 TFLOP/s, bf16 640.0 TFLOP/s" in text
    assert "seed 0, 20 epochs, channels_last) on NVIDIA H200: 1,037.7 s in all" in text
    assert "validation accuracy 80.0 %" in text
    assert "| train | mixed_precision | 256 | 128 | 4.00 | 64,000.0 | 64.000 | 10.00 % " in text
    assert "no GPU is lent to this project" not in text
    assert "| TensorFlow | not measured: TensorFlow is not installed on the GPU machine |" in text


def test_a_failed_gpu_run_is_reported_as_such(tmp_path: Path) -> None:
    _returned(tmp_path / "files")
    work = tmp_path / "files-work"
    record = json.loads((work / "seeds" / "paper-gpu.json").read_text())
    record.update(status="failed", history=None, metrics=None, predictions_file=None,
                  predictions_sha256=None,
                  error="Traceback ...\nRuntimeError: CUDA error: out of memory\n")
    (work / "seeds" / "paper-gpu.json").write_text(json.dumps(record))
    (work / "seeds" / "paper-gpu.predictions.npz").unlink()
    with tarfile.open(tmp_path / "files" / "seeds.tar.gz", "w:gz") as tar:
        tar.add(work / "seeds", arcname="seeds")
    gpu_kit.ingest(tmp_path / "files", tmp_path / "results")
    text = render(assemble(suite_plan.load_suite_profile("quick"), [], None,
                           tmp_path / "no-matrix", "test", tmp_path / "results" / "performance",
                           {}))
    assert ("0 epochs, channels_last) on NVIDIA H200: did not finish (status failed: "
            "RuntimeError: CUDA error: out of memory)." in text)


def test_ingest_refuses_a_file_of_another_shape_before_copying_anything(tmp_path: Path) -> None:
    _returned(tmp_path / "files")
    (tmp_path / "files" / "torch-gpu.json").write_text('{"benchmarks": [{"name": "t"}]}')
    with pytest.raises(DataError, match=r"not what benchmarks/performance/gpu_check\.sh writes "
                                        r"\(KeyError: 'extra_info'\)$"):
        gpu_kit.ingest(tmp_path / "files", tmp_path / "results")
    assert not [p for p in (tmp_path / "results").rglob("*") if p.is_file()]


def test_ingest_names_what_the_device_did_not_return(tmp_path: Path) -> None:
    _returned(tmp_path / "files")
    (tmp_path / "files" / "seeds.tar.gz").unlink()
    expected = (r"missing seeds\.tar\.gz \(expected what "
                r"benchmarks/performance/gpu_check\.sh writes into \$OUT\)")
    with pytest.raises(DataError, match=expected):
        gpu_kit.ingest(tmp_path / "files", tmp_path / "results")


def test_the_seed_study_compares_gpu_with_cpu_and_bf16_with_float32(tmp_path: Path) -> None:
    _returned(tmp_path / "files")
    results = tmp_path / "results"
    (results / "runs").mkdir(parents=True)
    cpu = sorted(RUNS.glob("torch-baseline-random-full-128px-s[0-4]-*.json"))
    for path in cpu:
        shutil.copy(path, results / "runs")
        shutil.copy(path.with_suffix(".predictions.npz"), results / "runs")
    gpu_kit.ingest(tmp_path / "files", results)
    study = gpu_study.seed_study(results / "performance" / "gpu", results / "runs")
    assert study is not None
    float32 = study["spread"]["float32"]
    assert float32["seeds"] == [0, 1, 2, 3] and float32["accuracy"] == [0.80, 0.82, 0.20, 0.85]
    cpu_accuracy = [json.loads((RUNS / f"{TEMPLATE.rsplit('-', 1)[0].replace('s0', f's{s}')}"
                                f"-{h}.json").read_text())["metrics"]["accuracy"]
                    for s, h in ((0, "e9f7ddde30"), (1, "f8ac57cbdd"), (2, "d13b3c25d2"),
                                 (3, "4d88fd87f6"), (4, "d112e34e6e"))]
    # only the CPU records of the very protocol count (other thread counts and dropout are not)
    assert study["cpu"]["accuracy"] == cpu_accuracy
    from scipy.stats import mannwhitneyu
    assert study["gpu_vs_cpu"]["p"] == pytest.approx(
        mannwhitneyu(float32["accuracy"], cpu_accuracy).pvalue)
    assert study["gpu_vs_cpu"]["n"] == 4
    assert study["gpu_vs_cpu"]["pairs"][0]["delta"] == pytest.approx(0.80 - cpu_accuracy[0])
    assert study["gpu_vs_cpu"]["pairs"][0]["agreement"] == 1.0  # the template's own seed
    gpu_s1 = read_predictions(results / "performance" / "gpu" / "seeds"
                              / "float32-s01.predictions.npz")["proba"].argmax(axis=1)
    cpu_s1 = read_predictions(RUNS / "torch-baseline-random-full-128px-s1-f8ac57cbdd"
                              ".predictions.npz")["proba"].argmax(axis=1)
    assert study["gpu_vs_cpu"]["pairs"][1]["agreement"] == pytest.approx(
        float(np.mean(gpu_s1 == cpu_s1)))
    bf16 = study["bf16_vs_float32"]
    assert [p["delta"] for p in bf16["pairs"]] == pytest.approx([-0.02, -0.01, 0.01, 0.01])
    assert study["timing"]["solo"]["bf16"]["train_s"] == 25.0
    text = "\n".join(gpu_report.section(results))
    assert "### GPU: the PyTorch twin on NVIDIA H200" in text
    assert "bf16 over float32 on the GPU: 1.60x training time (3.20 -> 2.00 ms/step)" in text
    assert ("the published study reports about 15 minutes for 50 epochs on a laptop RTX 4060, "
            "6.0 min for 20 at that rate") in text
    assert "| float32 | 4 | 66.8 % |" in text
    assert "TensorFlow twin: not measured: TensorFlow is not installed on the GPU machine" in text


@pytest.mark.parametrize("member", ["../escape.json", "seeds/../../x.json", "/etc/x.json",
                                    "seeds/link.json", "seeds/a b.json", "seeds/x.sh"])
def test_ingest_refuses_an_archive_member_that_is_not_a_plain_seed_file(
        tmp_path: Path, member: str) -> None:
    _returned(tmp_path / "files", seeds=False)
    with tarfile.open(tmp_path / "files" / "seeds.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo(member)
        if member.endswith("link.json"):
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    with pytest.raises(DataError, match=r"is not a plain file seeds/NAME\.json"):
        gpu_kit.ingest(tmp_path / "files", tmp_path / "results")
    assert not [p for p in (tmp_path / "results").rglob("*") if p.is_file()]
    assert not (tmp_path / "escape.json").exists()
