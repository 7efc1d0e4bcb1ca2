"""`python -m benchmarks gpu-kit`: prepare the one GPU check (issue 11, item 5), and take in
what it brought back.

The GPU machine is lent to some tasks only, for 15 minutes, with no TensorFlow, no package
registry and a 64 MiB limit on what travels; `../shared` does not travel. So the check is
prepared here and run there once:

1. `python -m benchmarks gpu-kit --data ../shared/datasets/facial-emotion` writes `.gpu/`
   (git-ignored) in the project root:
   - `data/`: the dataset at the paper protocol's input size, every image re-encoded as
     lossless WebP under its own relative path (89 MB of 240x320 PNG frames become about
     44 MB). The runner's resize of a 128x128 image to 128x128 is the identity, so a run sees
     the pixels it sees here; the kit checks that before it finishes.
   - `paper-run.json`: the paper protocol's baseline run config (seed 0, the profile's
     modes) on that data, on the GPU.
2. On the device, from the project root: `bash benchmarks/gpu_check.sh`, carrying `.gpu`.
3. `python -m benchmarks gpu-kit --ingest FOLDER` copies what came back into
   `results/performance/gpu/`; `python -m benchmarks performance --reuse` renders it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.compare import resolve_data_flag
from benchmarks.envs import PROJECT_ROOT
from benchmarks.matrix import expand, load_matrix_profile
from common_data.atomic import write_bytes_atomic, write_json_atomic
from common_data.data.datasets import load_for_run
from common_data.errors import ConfigError, DataError

KIT = PROJECT_ROOT / ".gpu"
# what gpu_check.sh leaves in $OUT, and what the report reads from results/performance/gpu/
RETURNED = ("device.txt", "torch-gpu.json", "paper-gpu.json")
HOST_THREADS = 8  # the device's data path and kernel launches; its 16 cores hold one run


def paper_run_config(data: str) -> dict[str, Any]:
    """The paper protocol's PyTorch baseline, seed 0, as the matrix would run it, moved to the
    GPU with host threads to spare and no weights file (only its clock and accuracy return)."""
    profile = load_matrix_profile("paper")
    profile.update(frameworks=["torch"], variants=["baseline"], seeds=[0])
    profile["run"].update(data=data, device="gpu", threads=HOST_THREADS, save_weights=False)
    (cell,) = expand(profile)
    return cell.config


def pack(data: str, out: Path) -> int:
    """The dataset's images at the paper's size, as lossless WebP under their own paths; the
    number written. Refuses to finish if the packed set decodes to other pixels."""
    size = load_matrix_profile("paper")["run"]["image_size"]
    source = load_for_run(data, image_size=size)
    folder = out / "data"
    for record, rgb in zip(source.records, source.images, strict=True):
        ok, encoded = cv2.imencode(".webp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_WEBP_QUALITY, 101])  # above 100: lossless
        if not ok:
            raise DataError(f"cannot encode {record.rel_path} as WebP")
        write_bytes_atomic(folder / Path(record.rel_path).with_suffix(".webp"), encoded.tobytes())
    packed = load_for_run(str(folder), image_size=size)
    if [Path(r.rel_path).with_suffix("") for r in packed.records] != [
            Path(r.rel_path).with_suffix("") for r in source.records] or not np.array_equal(
            packed.images, source.images):
        raise DataError(f"the packed set in {folder} does not decode to the pixels of {data}")
    return len(packed.records)


def ingest(returned: Path, results: Path) -> list[Path]:
    """Copy what the device returned into results/performance/gpu/; a missing file is named."""
    missing = [name for name in RETURNED if not (returned / name).is_file()]
    if missing:
        raise DataError(f"--ingest {returned}: missing {', '.join(missing)} (expected what "
                        "benchmarks/gpu_check.sh writes into $OUT)")
    target = results / "performance" / "gpu"
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in RETURNED:
        if name.endswith(".json"):
            json.loads((returned / name).read_text(encoding="utf-8"))  # refuse a torn file
        shutil.copyfile(returned / name, target / name)
        copied.append(target / name)
    return copied


def read_returned(folder: Path) -> dict[str, Any] | None:
    """The ingested GPU figures for the report: the device, each suite step (median ms,
    images/s, peak memory) and the paper run's clock and accuracy; None before any check."""
    if not all((folder / name).is_file() for name in RETURNED):
        return None
    device = (folder / "device.txt").read_text(encoding="utf-8").strip().splitlines()
    suite = json.loads((folder / "torch-gpu.json").read_text(encoding="utf-8"))
    steps = []
    for bench in suite.get("benchmarks", []):
        info, median = bench["extra_info"], float(bench["stats"]["median"])
        if info.get("kind") in ("train", "eval"):
            steps.append({"kind": info["kind"], "mode": info["mode"],
                          "batch_size": info["batch_size"], "image_size": info["image_size"],
                          "ms": median * 1e3, "images_per_s": info["images"] / median,
                          "first_call_s": info.get("first_call_s"),
                          "peak_memory_mb": info.get("peak_memory_mb"),
                          "device": info.get("device")})
    run = json.loads((folder / "paper-gpu.json").read_text(encoding="utf-8"))
    timing, metrics = run.get("timing") or {}, run.get("metrics") or {}
    return {"folder": str(folder), "device": device, "steps": steps,
            "paper_run": {"status": run.get("status"), "epochs": len(run.get("history", [])),
                          "total_s": timing.get("total_s"), "train_s": timing.get("train_s"),
                          "step_ms_median": timing.get("step_ms_median"),
                          "accuracy": metrics.get("accuracy"),
                          "gpu": (run.get("environment") or {}).get("gpu"),
                          "mode": (run.get("config") or {}).get("mode"),
                          "peak_memory_mb": (run.get("memory") or {}).get("device_peak_mb")}}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks gpu-kit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="synthetic",
                        help="dataset to pack (default: the synthetic set)")
    parser.add_argument("--out", type=Path, default=KIT, help=f"kit folder (default: {KIT})")
    parser.add_argument("--ingest", type=Path, metavar="FOLDER",
                        help="take in what gpu_check.sh returned instead of packing")
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "results")
    args = parser.parse_args(argv)
    if args.ingest:
        for path in ingest(args.ingest, args.results):
            print(f"ingested: {path}")
        return 0
    out = args.out.resolve()
    if not out.is_relative_to(PROJECT_ROOT):
        raise ConfigError(f"--out {args.out}: expected a folder inside {PROJECT_ROOT} (only the "
                          "checkout travels to the device)")
    if out.exists():
        shutil.rmtree(out)
    count = pack(resolve_data_flag(args.data), out)
    # relative: the device runs from its own copy of the checkout
    config = paper_run_config(str((out / "data").relative_to(PROJECT_ROOT)))
    write_json_atomic(out / "paper-run.json", config)
    megabytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    print(f"gpu kit: {out} ({count} images, {megabytes:.1f} MiB); on the device run "
          "`bash benchmarks/gpu_check.sh` with carry ['.gpu'], then "
          "`python -m benchmarks gpu-kit --ingest FOLDER`")
    return 0
