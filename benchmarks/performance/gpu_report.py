"""The GPU figures in words and tables: PERFORMANCE.md's *GPU* section in full, and the
shorter GPU rows of COMPARISON.md, from what `benchmarks/performance/gpu_kit.py` ingested.

Every figure names the device it was measured on; only the GPU kit's framework has GPU
figures (no other is installed on the GPU machine), and both reports say why in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.formatting import num, pct, pp
from benchmarks.matrix.envs import PROJECT_ROOT
from benchmarks.performance.gpu_kit import read_returned
from common_data.bench.suite import shared
from common_data.frameworks import FRAMEWORK_NAMES, GPU_KIT

KIT_NAME = FRAMEWORK_NAMES[GPU_KIT]


def _not_measured() -> str:
    """'<Name> twin: <why>' for every framework the GPU kit does not run."""
    status = shared()["gpu_status"]
    return "; ".join(f"{name} twin: {status.get(fw, 'not measured')}"
                     for fw, name in FRAMEWORK_NAMES.items() if fw != GPU_KIT)


def _ci(ci: list[float | None]) -> str:
    low, high = ci
    return "n/a" if low is None or high != high else f"[{pp(low)}, {pp(high)}]"


def device_name(g: Mapping[str, Any]) -> str:
    """The GPU's name as nvidia-smi gave it (first field of device.txt's first line)."""
    return g["device"][0].split(",")[0].strip() if g["device"] else "unknown GPU"


def steps_table(g: Mapping[str, Any]) -> list[str]:
    peaks = g.get("peaks_gflops") or {}
    lines = [f"Matmul peaks on this device (8192x8192, best round): float32 (TF32 off) "
             f"{num((peaks.get('sgemm') or 0) / 1e3)} TFLOP/s, bf16 "
             f"{num((peaks.get('bf16') or 0) / 1e3) if peaks.get('bf16') else 'n/a'} "
             "TFLOP/s. Each step's achieved rate is held to the peak of its own precision "
             "(float32 steps to float32, bf16 autocast to bf16).", "",
             "| step | mode | batch | size | ms | images/s | TFLOP/s | of peak | first call s "
             "| peak memory MB |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {s['kind']} | {s['mode']} | {s['batch_size']} | {s['image_size']} "
              f"| {num(s['ms'], 2)} | {num(s['images_per_s'])} "
              f"| {num(s['gflops'] / 1e3 if s['gflops'] is not None else None, 3)} "
              f"| {pct(s.get('peak_fraction'), 2)} | {num(s['first_call_s'], 2)} "
              f"| {num(s['peak_memory_mb'])} |" for s in g["steps"]]
    return [*lines, ""]


def _run_line(label: str, run: Mapping[str, Any]) -> str:
    modes = ", ".join(k for k, on in (run.get("mode") or {}).items() if on) or "default"
    head = (f"{label} (baseline, seed 0, {run['epochs']} epochs, {modes}) on "
            f"{run['gpu'] or 'no GPU'}")
    if run["status"] != "ok":
        reason = (run.get("error") or "no error recorded").strip().splitlines()[-1]
        return f"{head}: did not finish (status {run['status']}: {reason})."
    return (f"{head}: {num(run['total_s'])} s in all, {num(run['train_s'])} s training, "
            f"{num(run['step_ms_median'], 2)} ms/step, validation accuracy "
            f"{pct(run['accuracy'])}, peak memory {num(run['peak_memory_mb'])} MB.")


def timing_lines(study: Mapping[str, Any] | None, g: Mapping[str, Any]) -> list[str]:
    lines = [f"- {_run_line('One paper-protocol run, float32, alone', g['paper_run'])}",
             f"- {_run_line('The same in bf16 autocast', g['paper_run_bf16'])}"]
    if not study:
        return lines
    solo, cpu = study["timing"]["solo"], (study.get("cpu") or {}).get("timing")
    published = study["timing"]["published"]
    if solo.get("float32") and solo.get("bf16"):
        lines.append(f"- bf16 over float32 on the GPU: "
                     f"{solo['float32']['train_s'] / solo['bf16']['train_s']:.2f}x training time "
                     f"({num(solo['float32']['step_ms_median'], 2)} -> "
                     f"{num(solo['bf16']['step_ms_median'], 2)} ms/step).")
    if solo.get("float32"):
        epochs = solo["float32"]["epochs"]
        scaled = published["minutes"] * 60 * epochs / published["epochs"]
        text = (f"- {epochs} epochs take {num(solo['float32']['train_s'])} s of training on "
                f"{solo['float32']['gpu']}")
        if cpu:
            text += (f", against {num(cpu['train_s'])} s on this project's CPU "
                     f"({cpu['concurrent_runs']} runs at once, 1 thread each: "
                     f"{cpu['train_s'] / solo['float32']['train_s']:.0f}x)")
        text += (f"; the published study reports about {published['minutes']} minutes for "
                 f"{published['epochs']} epochs on a {published['device']}, "
                 f"{num(scaled / 60)} min for {epochs} at that rate.")
        lines.append(text)
    return lines


def study_lines(study: Mapping[str, Any]) -> list[str]:
    """The seed study: spread per precision, GPU against CPU, bf16 against float32."""
    lines = [f"The CPU rows are this project's {KIT_NAME} records of the same protocol "
             "(same split, pixels, initial weights and dropout masks per seed).", "",
             "| precision | seeds | mean | 95 % CI | median | min | max "
             "| seeds on the loss plateau |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    spreads = {name: study["spread"][name] for name in ("float32", "bf16")
               if name in study["spread"]}
    if study.get("cpu"):
        spreads["float32, CPU"] = study["cpu"]
    for name, s in spreads.items():
        low, high = s["ci95"]
        ci = "n/a" if s["n"] < 2 else f"[{pct(low)}, {pct(high)}]"
        lines.append(f"| {name} | {s['n']} | {pct(s['mean'])} | {ci} | {pct(s['median'])} "
                     f"| {pct(s['min'])} | {pct(s['max'])} | {s['seeds_on_plateau']} |")
    majority = next(iter(spreads.values()))["majority_rate"]
    longest = ", ".join(f"{max(s['plateau_epochs'])} ({name})" for name, s in spreads.items())
    lines += ["", f"Majority-class rate of this split: {pct(majority)}. A seed counts as on "
              f"the plateau when its {study['plateau_rule']}; the most epochs any seed spent "
              f"there: {longest}. Failed runs: {study['failed']}.", ""]
    versus = study.get("gpu_vs_cpu")
    if versus:
        lines.append(
            f"- GPU against CPU, float32: {versus['test']} p = {versus['p']:.3g} "
            f"({study['spread']['float32']['n']} GPU seeds, {study['cpu']['n']} CPU seeds). "
            f"Same-seed pairs ({versus['n']}): GPU − CPU {pp(versus['mean_delta'])} on average, "
            f"at most {pp(versus['max_abs_delta'])} apart; their predictions agree on "
            f"{pct(versus['agreement_mean'])} of the validation frames (least "
            f"{pct(versus['agreement_min'])}).")
    bf16 = study.get("bf16_vs_float32")
    if bf16:
        p = "n/a" if bf16["paired_t_p"] is None else f"{bf16['paired_t_p']:.3g}"
        lines.append(
            f"- bf16 against float32 on the GPU, paired by seed ({bf16['n']} seeds): "
            f"{pp(bf16['mean_delta'])} {_ci(bf16['ci95'])}, paired t p = {p}; predictions "
            f"agree on {pct(bf16['agreement_mean'])} of the frames.")
    return [*lines, ""]


def performance_lines(g: Mapping[str, Any]) -> list[str]:
    """PERFORMANCE.md's GPU section, all of it."""
    study = g.get("seed_study")
    folder = Path(g["folder"])
    shown = folder.relative_to(PROJECT_ROOT) if folder.is_relative_to(PROJECT_ROOT) else folder
    lines = [f"{KIT_NAME} twin on {' / '.join(g['device'])} "
             "(`benchmarks/performance/gpu_check.sh`, ingested "
             f"into `{shown.as_posix()}/`): synchronised steps, the first call apart, medians.",
             "",
             *steps_table(g), *timing_lines(study, g), ""]
    if study:
        lines += ["### Seed study: the paper protocol's baseline on the GPU", "",
                  *study_lines(study)]
    return lines


def section(results_dir: Path) -> list[str]:
    """COMPARISON.md's GPU rows; nothing while no GPU check was ingested."""
    g = read_returned(results_dir / "performance" / "gpu", results_dir / "runs")
    if not g:
        return []
    study = g.get("seed_study")
    lines = [f"### GPU: the {KIT_NAME} twin on {device_name(g)}", "",
             f"Measured with `benchmarks/performance/gpu_check.sh` ({' / '.join(g['device'])}); "
             f"{_not_measured()}. PERFORMANCE.md has the per-step table.", "",
             *timing_lines(study, g), ""]
    if study:
        lines += study_lines(study)
    return lines
