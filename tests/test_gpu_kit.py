"""The GPU check's two ends on this machine: the kit that travels (a lossless data pack and the
paper run's config) and the report of what came back. The device run itself needs a GPU."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import gpu_kit
from benchmarks.perf_render import render
from benchmarks.performance import assemble
from common_data.bench import workload
from common_data.data.datasets import load_for_run
from common_data.errors import DataError

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
                     "onednn": None}


def test_a_failed_pack_leaves_the_previous_kit(
        make_dataset: Callable[..., Path], tmp_cache: Path, tmp_path: Path) -> None:
    kit = tmp_path / ".gpu"
    gpu_kit.build_kit(str(make_dataset(per_folder=1)), kit)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError):
        gpu_kit.build_kit(str(empty), kit)
    assert (kit / "paper-run.json").is_file() and len(list((kit / "data").rglob("*.webp"))) == 5


def _returned(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "device.txt").write_text("NVIDIA H200, 143771 MiB, 580.159.03\npython 3.12.3\n")
    stats = {"median": 0.004, "min": 0.0039, "rounds": 30}
    fw = {"framework": "torch", "threads": 8, "device": "NVIDIA H200"}
    suite: dict[str, Any] = {"benchmarks": [
        {"name": "m", "stats": stats, "extra_info": {
            **fw, "kind": "matmul", "mode": "sgemm", "size": 8192, "flops": 2 * 8192**3}},
        {"name": "t", "stats": stats, "extra_info": {
            **fw, "kind": "train", "mode": "mixed_precision", "batch_size": 256,
            "image_size": 128, "images": 256, "flops_per_image": 1e9, "first_call_s": 1.5,
            "peak_memory_mb": 2048.0}}]}
    (folder / "torch-gpu.json").write_text(json.dumps(suite))
    run = {"status": "ok", "history": [{}] * 20, "config": {"mode": {"channels_last": True}},
           "timing": {"total_s": 61.0, "train_s": 40.0, "step_ms_median": 3.2},
           "metrics": {"accuracy": 0.8123}, "environment": {"gpu": "NVIDIA H200"},
           "memory": {"device_peak_mb": 900.0}}
    (folder / "paper-gpu.json").write_text(json.dumps(run))


def test_ingested_gpu_figures_replace_the_not_measured_row(tmp_path: Path) -> None:
    results = tmp_path / "results"
    (results / "performance").mkdir(parents=True)
    before = render(assemble(workload.load_suite_profile("quick"), [], None,
                             tmp_path / "no-matrix", "test", results / "performance", {}))
    assert "| PyTorch | not measured: no GPU is lent to this project |" in before

    _returned(tmp_path / "files")
    gpu_kit.ingest(tmp_path / "files", results)
    text = render(assemble(workload.load_suite_profile("quick"), [], None,
                           tmp_path / "no-matrix", "test", results / "performance", {}))
    assert "PyTorch twin on NVIDIA H200, 143771 MiB, 580.159.03 / python 3.12.3" in text
    assert ("| train | mixed_precision | 256 | 128 | 4.00 | 64,000.0 | 64,000.0 | 1.50 "
            "| 2,048.0 |") in text
    assert "20 epochs, channels_last) on NVIDIA H200: 61.0 s in all" in text
    assert "validation accuracy 81.2 %" in text
    assert "no GPU is lent to this project" not in text
    assert "| TensorFlow | not measured: TensorFlow is not installed on the GPU machine |" in text


def test_a_failed_gpu_run_is_reported_as_such(tmp_path: Path) -> None:
    _returned(tmp_path / "files")
    failed = {"status": "failed", "history": None, "metrics": None, "timing": None,
              "config": {"mode": {}}, "environment": {"gpu": None}, "memory": None,
              "error": "Traceback ...\nRuntimeError: CUDA error: out of memory\n"}
    (tmp_path / "files" / "paper-gpu.json").write_text(json.dumps(failed))
    gpu_kit.ingest(tmp_path / "files", tmp_path / "results")
    text = render(assemble(workload.load_suite_profile("quick"), [], None,
                           tmp_path / "no-matrix", "test", tmp_path / "results" / "performance",
                           {}))
    assert ("0 epochs, default) on no GPU: did not finish (status failed: RuntimeError: CUDA "
            "error: out of memory)." in text)


def test_ingest_refuses_a_file_of_another_shape_before_copying_anything(tmp_path: Path) -> None:
    _returned(tmp_path / "files")
    (tmp_path / "files" / "torch-gpu.json").write_text('{"benchmarks": [{"name": "t"}]}')
    with pytest.raises(DataError, match=r"not what benchmarks/gpu_check\.sh writes "
                                        r"\(KeyError: 'extra_info'\)$"):
        gpu_kit.ingest(tmp_path / "files", tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_ingest_names_what_the_device_did_not_return(tmp_path: Path) -> None:
    _returned(tmp_path / "files")
    (tmp_path / "files" / "paper-gpu.json").unlink()
    with pytest.raises(DataError, match=r"missing paper-gpu\.json \(expected what "
                                        r"benchmarks/gpu_check\.sh writes into \$OUT\)"):
        gpu_kit.ingest(tmp_path / "files", tmp_path / "results")
