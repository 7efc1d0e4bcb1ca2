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
     modes) on that data, on the GPU;
   - `suite.json`: the GPU suite process's selection (profile `gpu`, its host threads).
2. On the device, from the project root: `bash benchmarks/gpu_check.sh`, carrying `.gpu`.
3. `python -m benchmarks gpu-kit --ingest FOLDER` checks what came back and copies it into
   `results/performance/gpu/`; `python -m benchmarks performance --quick --reuse
   --verdict-cells 3 --data ../shared/datasets/facial-emotion` renders it (the flags keep the
   report's measured time to verdict, read from its stored records).
"""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.compare import resolve_data_flag
from benchmarks.envs import PROJECT_ROOT
from benchmarks.matrix import expand, load_matrix_profile
from benchmarks.perf_figures import rows_from_suite
from common_data.atomic import write_bytes_atomic, write_json_atomic
from common_data.bench.workload import SuiteSelection, load_suite_profile
from common_data.data.datasets import load_for_run
from common_data.errors import DataError

KIT = PROJECT_ROOT / ".gpu"  # benchmarks/gpu_check.sh reads it there, relative to the root
SUITE_PROFILE = "gpu"        # common_data/bench/workload.toml [profiles.gpu]
# what gpu_check.sh leaves in $OUT, and what the report reads from results/performance/gpu/
RETURNED = ("device.txt", "torch-gpu.json", "paper-gpu.json")


def paper_run_config(data: str) -> dict[str, Any]:
    """The paper protocol's PyTorch baseline, seed 0, as the matrix would run it, moved to the
    GPU with the suite profile's host threads and no weights file (only its clock and accuracy
    return)."""
    profile = load_matrix_profile("paper")
    profile.update(frameworks=["torch"], variants=["baseline"], seeds=[0])
    threads = load_suite_profile(SUITE_PROFILE).threads[0]
    profile["run"].update(data=data, device="gpu", threads=threads, save_weights=False)
    (cell,) = expand(profile)
    return cell.config


def suite_selection(data: str) -> dict[str, Any]:
    """The GPU suite process's THERMAL_BENCH_PERF value (gpu_check.sh passes it on)."""
    profile = load_suite_profile(SUITE_PROFILE)
    return asdict(SuiteSelection(profile.name, profile.threads[0], data))


def pack(data: str, out: Path, config: dict[str, Any]) -> int:
    """The dataset's images at the run's size and HUD mode, as lossless WebP under their own
    paths in `out`; the number written. Refuses if the packed set decodes to other pixels."""
    size, hud = config["image_size"], config["hud"]
    source = load_for_run(data, image_size=size, hud=hud)
    for record, rgb in zip(source.records, source.images, strict=True):
        ok, encoded = cv2.imencode(".webp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_WEBP_QUALITY, 101])  # above 100: lossless
        if not ok:
            raise DataError(f"cannot encode {record.rel_path} as WebP")
        write_bytes_atomic(out / Path(record.rel_path).with_suffix(".webp"), encoded.tobytes())
    packed = load_for_run(str(out), image_size=size, hud=hud)
    if [Path(r.rel_path).with_suffix("") for r in packed.records] != [
            Path(r.rel_path).with_suffix("") for r in source.records] or not np.array_equal(
            packed.images, source.images):
        raise DataError(f"the packed set in {out} does not decode to the pixels of {data}")
    return len(packed.records)


def build_kit(data: str, kit: Path = KIT) -> int:
    """Pack into a sibling folder, then put it in place of the old kit: a failed pack (a bad
    --data, a full disk) leaves the old kit as it was. The number of images packed."""
    partial = kit.with_name(kit.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    data_dir = partial / "data"
    config = paper_run_config(str((kit / "data").relative_to(kit.parent)))
    count = pack(data, data_dir, config)
    write_json_atomic(partial / "paper-run.json", config)
    write_json_atomic(partial / "suite.json", suite_selection(config["data"]))
    shutil.rmtree(kit, ignore_errors=True)
    partial.rename(kit)
    return count


def read_returned(folder: Path) -> dict[str, Any] | None:
    """The GPU figures for the report: the device, each suite step (median ms, images/s, peak
    memory) and the paper run's clock and accuracy; None while the folder lacks a file. A
    file of another shape is refused in one line."""
    if not all((folder / name).is_file() for name in RETURNED):
        return None
    try:
        return _figures(folder)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{folder}: not what benchmarks/gpu_check.sh writes "
                        f"({type(exc).__name__}: {exc})") from None


def _figures(folder: Path) -> dict[str, Any]:
    device = (folder / "device.txt").read_text(encoding="utf-8").strip().splitlines()
    suite = json.loads((folder / "torch-gpu.json").read_text(encoding="utf-8"))
    steps = [{"kind": row.kind, "mode": row.mode, "batch_size": row.batch_size,
              "image_size": row.image_size, "ms": row.median_s * 1e3,
              "images_per_s": row.images_per_s, "gflops": row.gflops,
              "first_call_s": row.first_call_s, "device": row.device,
              "peak_memory_mb": row.info.get("peak_memory_mb")}
             for row in rows_from_suite(suite) if row.kind in ("train", "eval")]
    run = json.loads((folder / "paper-gpu.json").read_text(encoding="utf-8"))
    timing, metrics = run.get("timing") or {}, run.get("metrics") or {}
    return {"folder": str(folder), "device": device, "steps": steps,
            "paper_run": {"status": run["status"], "epochs": len(run.get("history") or []),
                          "total_s": timing.get("total_s"), "train_s": timing.get("train_s"),
                          "step_ms_median": timing.get("step_ms_median"),
                          "accuracy": metrics.get("accuracy"),
                          "gpu": (run.get("environment") or {}).get("gpu"),
                          "mode": (run.get("config") or {}).get("mode"),
                          "peak_memory_mb": (run.get("memory") or {}).get("device_peak_mb"),
                          "error": run.get("error")}}


def ingest(returned: Path, results: Path) -> list[Path]:
    """Check everything the device returned, then copy it into results/performance/gpu/."""
    missing = [name for name in RETURNED if not (returned / name).is_file()]
    if missing:
        raise DataError(f"--ingest {returned}: missing {', '.join(missing)} (expected what "
                        "benchmarks/gpu_check.sh writes into $OUT)")
    read_returned(returned)  # every file parses and has its shape before any is copied
    target = results / "performance" / "gpu"
    for name in RETURNED:
        write_bytes_atomic(target / name, (returned / name).read_bytes())
    return [target / name for name in RETURNED]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks gpu-kit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="synthetic",
                        help="dataset to pack (default: the synthetic set)")
    parser.add_argument("--ingest", type=Path, metavar="FOLDER",
                        help="take in what gpu_check.sh returned instead of packing")
    parser.add_argument("--results", type=Path, default=PROJECT_ROOT / "results")
    args = parser.parse_args(argv)
    if args.ingest:
        for path in ingest(args.ingest, args.results):
            print(f"ingested: {path}")
        return 0
    count = build_kit(resolve_data_flag(args.data))
    megabytes = sum(p.stat().st_size for p in KIT.rglob("*") if p.is_file()) / 2**20
    print(f"gpu kit: {KIT} ({count} images, {megabytes:.1f} MiB); on the device run "
          "`bash benchmarks/gpu_check.sh` with carry ['.gpu'], then "
          "`python -m benchmarks gpu-kit --ingest FOLDER`")
    return 0
