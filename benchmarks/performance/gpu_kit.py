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
   - `paper-run.json`, `paper-run-bf16.json`: the paper protocol's baseline run config
     (seed 0, the profile's modes) on that data, on the GPU, in float32 and bf16 autocast;
   - `seeds/`: the seed study's other configs (`[gpu_seed_study]` in
     common_data/bench/workload.toml) and `sweep.json`, how
     benchmarks/performance/gpu_sweep.py runs them;
   - `suite.json`: the GPU suite process's selection (profile `gpu`, its host threads).
2. On the device, from the project root: `bash benchmarks/performance/gpu_check.sh`, carrying
   `.gpu`.
3. `python -m benchmarks gpu-kit --ingest FOLDER` checks what came back and copies it into
   `results/performance/gpu/` (the seed study's records and predictions, unpacked member by
   member from `seeds.tar.gz`, into `seeds/`); `python -m benchmarks performance --suite quick
   --reuse --verdict-cells 3 --data ../shared/datasets/facial-emotion` renders it (the flags
   keep the report's measured time to verdict, read from its stored records).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tarfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.cli.args import resolve_data_flag
from benchmarks.matrix.cells import expand, load_matrix_profile
from benchmarks.matrix.envs import PROJECT_ROOT
from benchmarks.performance.figures import rows_from_suite
from benchmarks.performance.gpu_study import seed_study
from common_data.atomic import write_bytes_atomic, write_json_atomic
from common_data.bench.suite import SuiteSelection, gpu_seed_study, load_suite_profile
from common_data.data.datasets import load_for_run
from common_data.errors import DataError
from common_data.frameworks import GPU_KIT

# benchmarks/performance/gpu_check.sh reads it there, relative to the root
KIT = PROJECT_ROOT / ".gpu"
SUITE_PROFILE = "gpu"        # common_data/bench/workload.toml [suite.gpu]
# what gpu_check.sh leaves in $OUT, and what the report reads from results/performance/gpu/
SUITE_FILE = f"{GPU_KIT}-gpu.json"  # the suite's JSON, as gpu_check.sh names it
RETURNED = ("device.txt", SUITE_FILE, "seeds.tar.gz")
SEEDS_ARCHIVE = "seeds.tar.gz"
SEEDS = "seeds"              # the study's records and predictions, in results/performance/gpu/
# what the archive may hold: the runs' files in seeds/, and the sweep's account
_MEMBER = re.compile(r"(seeds/[A-Za-z0-9][A-Za-z0-9._-]*\.(?:json|npz|log)|sweep\.json)")
MAX_MEMBER_BYTES = 16 * 2**20


def paper_run_config(data: str, seed: int = 0, bf16: bool = False,
                     threads: int | None = None) -> dict[str, Any]:
    """The paper protocol's baseline of the GPU kit's framework, as the matrix would run it,
    moved to the GPU
    (float32, or bf16 autocast: mode `mixed_precision`) with the suite profile's host threads
    unless told, and no weights file (only its clock, accuracy and predictions return)."""
    profile = load_matrix_profile("paper")
    profile.update(frameworks=[GPU_KIT], variants=["baseline"], seeds=[seed])
    if threads is None:
        threads = load_suite_profile(SUITE_PROFILE).threads[0]
    profile["run"].update(data=data, device="gpu", threads=threads, save_weights=False)
    (cell,) = expand(profile)
    config = cell.config
    config["mode"] = {**config["mode"], "mixed_precision": bf16}
    return config


def seed_configs(data: str) -> dict[str, dict[str, Any]]:
    """The seed study's runs past seed 0 (which gpu_check.sh runs alone), file name -> config,
    in both precisions."""
    study = gpu_seed_study()
    return {f"{precision}-s{seed:02d}.json": paper_run_config(
                data, seed, precision == "bf16", study["threads"])
            for seed in range(1, study["seeds"]) for precision in ("float32", "bf16")}


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
    write_json_atomic(partial / "paper-run-bf16.json",
                      paper_run_config(config["data"], bf16=True))
    for name, seed_config in seed_configs(config["data"]).items():
        write_json_atomic(partial / SEEDS / name, seed_config)
    study = gpu_seed_study()
    write_json_atomic(partial / "sweep.json",
                      {k: study[k] for k in ("parallel", "budget_s", "run_timeout_s")})
    write_json_atomic(partial / "suite.json", suite_selection(config["data"]))
    shutil.rmtree(kit, ignore_errors=True)
    partial.rename(kit)
    return count


FILES = RETURNED[:-1]        # copied as they are; the archive is unpacked into seeds/


def read_returned(folder: Path, cpu_runs: Path | None = None) -> dict[str, Any] | None:
    """The GPU figures for the report from an ingested folder: the device, each suite row
    (median ms, images/s, achieved GFLOP/s against the peak of its precision, peak memory),
    the solo paper runs and the seed study (beside the CPU records in `cpu_runs`); None
    while the folder lacks a file. A file of another shape is refused in one line."""
    if not all((folder / name).is_file() for name in FILES):
        return None
    try:
        figures = _figures(folder)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{folder}: not what benchmarks/performance/gpu_check.sh writes "
                        f"({type(exc).__name__}: {exc})") from None
    figures["seed_study"] = seed_study(folder, cpu_runs) if cpu_runs else None
    return figures


def _figures(folder: Path) -> dict[str, Any]:
    device = (folder / "device.txt").read_text(encoding="utf-8").strip().splitlines()
    rows = rows_from_suite(json.loads((folder / SUITE_FILE).read_text(encoding="utf-8")))
    peaks = {row.mode: row.gflops for row in rows if row.kind == "matmul"}
    steps = [{"kind": row.kind, "mode": row.mode, "batch_size": row.batch_size,
              "image_size": row.image_size, "ms": row.median_s * 1e3,
              "images_per_s": row.images_per_s, "gflops": row.gflops,
              "peak_fraction": _fraction(row.gflops, peaks.get(row.precision)),
              "first_call_s": row.first_call_s, "device": row.device,
              "peak_memory_mb": row.info.get("peak_memory_mb")}
             for row in rows if row.kind in ("train", "eval")]
    return {"folder": str(folder), "device": device, "steps": steps, "peaks_gflops": peaks,
            "paper_run": _run_figures(folder / SEEDS / "paper-gpu.json"),
            "paper_run_bf16": _run_figures(folder / SEEDS / "paper-gpu-bf16.json")}


def _fraction(achieved: float | None, peak: float | None) -> float | None:
    return achieved / peak if achieved is not None and peak else None


def _run_figures(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"status": "not run", "epochs": 0, "mode": None, "gpu": None,
                "error": f"no {path.name} came back (the run timed out or never started)"}
    run = json.loads(path.read_text(encoding="utf-8"))
    timing, metrics = run.get("timing") or {}, run.get("metrics") or {}
    return {"status": run["status"], "epochs": len(run.get("history") or []),
            "total_s": timing.get("total_s"), "train_s": timing.get("train_s"),
            "step_ms_median": timing.get("step_ms_median"),
            "accuracy": metrics.get("accuracy"),
            "gpu": (run.get("environment") or {}).get("gpu"),
            "mode": (run.get("config") or {}).get("mode"),
            "peak_memory_mb": (run.get("memory") or {}).get("device_peak_mb"),
            "error": run.get("error")}


def unpack_seeds(archive: Path, into: Path) -> int:
    """The seed study's files, member by member: only regular files named
    `seeds/<plain name>.json|npz|log` or `sweep.json`, each under 16 MiB, written through the
    atomic writer;
    anything else (links, devices, paths that climb out, odd names) refuses the archive in
    one line. Never `extractall`: the archive came from another machine."""
    count = 0
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                if member.isdir() and member.name.rstrip("/") == SEEDS:
                    continue
                if not (member.isfile() and _MEMBER.fullmatch(member.name)
                        and member.size <= MAX_MEMBER_BYTES):
                    raise DataError(f"{archive}: member {member.name!r} is not a plain file "
                                    f"seeds/NAME.json|npz|log or sweep.json under "
                                    f"{MAX_MEMBER_BYTES} bytes")
                data = tar.extractfile(member)
                assert data is not None  # a regular file always has a body
                write_bytes_atomic(into / member.name, data.read(MAX_MEMBER_BYTES))
                count += 1
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{archive}: not a readable tar.gz ({exc})") from None
    return count


def ingest(returned: Path, results: Path) -> list[Path]:
    """Check everything the device returned in a staging folder, then put it in place of
    results/performance/gpu/ (a bad return leaves the old figures as they were)."""
    missing = [name for name in RETURNED if not (returned / name).is_file()]
    if missing:
        raise DataError(f"--ingest {returned}: missing {', '.join(missing)} (expected what "
                        "benchmarks/performance/gpu_check.sh writes into $OUT)")
    target = results / "performance" / "gpu"
    staging = target.with_name(".gpu.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for name in FILES:
            write_bytes_atomic(staging / name, (returned / name).read_bytes())
        unpack_seeds(returned / SEEDS_ARCHIVE, staging)
        read_returned(staging, results / "runs")  # all of it parses before the old goes
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return sorted(p for p in target.rglob("*") if p.is_file())


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
          "`bash benchmarks/performance/gpu_check.sh` with carry ['.gpu'], then "
          "`python -m benchmarks gpu-kit --ingest FOLDER`")
    return 0
