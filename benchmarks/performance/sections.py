"""PERFORMANCE.md's sections beyond the suites' tables: where a step's time goes (the per-op
profiles), time to verdict (stored and measured), and what is known about GPU figures.

Kept apart from perf_render.py, which renders the suites' figures, so each stays small; every
line here is built from performance.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.formatting import num, pct
from benchmarks.performance import gpu_report
from common_data.bench.suite import process_setting
from common_data.frameworks import FRAMEWORK_NAMES, FRAMEWORKS, GPU_KIT, notes_part


def op_profiles(f: Mapping[str, Any]) -> list[str]:
    """One table per twin: op type, share of the step's wall time, ms per step."""
    profiles = f.get("op_profiles") or {}
    lines = ["## Where the time goes (per-op profile of each twin's best mode)", ""]
    if not profiles:
        return [*lines, "Not profiled: no per-op profile JSON under the suites' folder "
                "(`<package>.op_profile` runs after the suites; see its log).", ""]
    lines += ["A few training steps of each twin's best mode (the peak-fraction target's), one "
              "thread, after warm-up steps, under the framework's own profiler: "
              + "; ".join(notes_part("performance", "op_profiler"))
              + ". Self time counts a nested op once, in the op that ran it; the last "
              "row is the step's wall time that no op accounts for. The profiler adds its own "
              "cost, so the step here is slower than in the per-mode table.", ""]
    for fw, p in profiles.items():
        lines += [f"### {FRAMEWORK_NAMES.get(fw, fw)}: mode {p['mode']}{_process_text(fw, p)}, "
                  f"{p['image_size']}x{p['image_size']}, batch {p['batch_size']}, "
                  f"{p['threads']} thread(s), {p['steps']} steps, "
                  f"{num(p['step_ms'])} ms/step", "",
                  "| op | % of step time | ms per step |", "| --- | --- | --- |"]
        lines += [f"| {row['op']} | {pct(row['fraction'])} | {num(row['ms'])} |"
                  for row in p["rows"]]
        lines.append("")
    return lines


def time_to_verdict(f: Mapping[str, Any]) -> list[str]:
    """The stored figures (finding matrix, paper runs per seed) and, when run, the measured
    tuned vs out-of-the-box ratio."""
    t = f.get("time_to_verdict") or {}
    lines = ["## Time to verdict", ""]
    finding = t.get("finding")
    if finding:
        modes = "; ".join(f"{fw}: " + (", ".join(k for k, on in m.items() if on) or "default")
                          for fw, m in finding["modes"].items())
        modes = f"{modes}; any other twin: default" if modes else "every twin's default"
        cells = finding.get("cells") or {}
        lines += [f"* The finding's matrix ({finding['protocol_label']}): "
                  f"{num(finding['run_time_s'] / 3600, 2)} h of run time over "
                  f"{cells.get('with_records', '?')} of its {cells.get('total', '?')} cells "
                  f"(the runs' own clocks, summed; modes: {modes}), from `{finding['source']}`."]
    else:
        lines.append("* The finding's matrix: no stored finding result.")
    paper = t.get("paper") or []
    if paper:
        lines += ["* The 128-px paper protocol, baseline (20 epochs), per seed, from the "
                  "records under results/runs:", "",
                  "| framework | seed | dataset | modes | threads | runs side by side | epochs "
                  "| run s |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {r['framework']} | {r['seed']} | {r['dataset']} | {r['modes']} "
                  f"| {r['threads']} | {r['concurrent_runs'] or 1} | {r['epochs']} "
                  f"| {num(r['run_s'])} |" for r in paper]
    else:
        lines.append("* The 128-px paper protocol: no baseline record at its settings.")
    lines.append("")
    return lines + _measured(t.get("measured"))


def _measured(m: Mapping[str, Any] | None) -> list[str]:
    if not m:
        return ["Tuned vs out of the box: not measured in this run (`python -m benchmarks "
                "performance --verdict-cells N` trains N seeds per framework of each matrix's "
                "cell both ways).", ""]
    lines = [f"Tuned vs out of the box, measured in one invocation: each matrix's cell (the "
             f"finding's 64-px random/full baseline, the paper's 128-px baseline) trained for "
             f"{m['epochs']} epoch(s), not the protocols' 20, so these are per-epoch training "
             f"times (`{m['folder']}`). Out of the box: each framework's modes as it sets them "
             "itself on this machine (asked of it"
             + _colon(notes_part("performance", "out_of_the_box"))
             + "), every core given to one run (intra-op threads), "
             "one run at a time. Modes off: the same with every tuned mode off"
             + "".join(f", {part}" for part in notes_part("performance", "modes_off"))
             + ". Tuned is how the matrix runs: "
             "the chosen modes and threads per run, as many runs at once as the cores allow; "
             "a run that shared the cores with k - 1 others counts 1/k of its seconds, since "
             "the matrix advances k runs meanwhile. Tuned in bf16 is tuned with bf16 on for "
             "the frameworks whose bf16-vs-float32 accuracy check passed (the others count "
             "as tuned); the findings' protocols stay in float32, so it is what a user gains "
             "by opting in (`--mode mixed_precision=true`), not the judged figure.", "",
             "| matrix | out of the box s/epoch | modes off s/epoch | tuned s/epoch "
             "| speedup over out of the box | speedup over modes off | tuned bf16 s/epoch "
             "| bf16 speedup over out of the box |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, e in m["matrices"].items():
        bf16 = (f"| {num(e['tuned_bf16_s'], 2)} | {num(e['ratio_bf16'], 2)}x |"
                if e.get("ratio_bf16") else "| not run | n/a |")
        lines.append(f"| {name} | {num(e['out_of_box_s'], 2)} | {num(e['modes_off_s'], 2)} "
                     f"| {num(e['tuned_s'], 2)} | {num(e['ratio'], 2)}x "
                     f"| {num(e['ratio_modes_off'], 2)}x {bf16}")
    lines += ["", "| matrix | framework | seed | setting | modes | size | threads | runs at once "
              "| train s/epoch |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, e in m["matrices"].items():
        lines += [f"| {name} | {c['framework']} | {c['seed']} | {c['setting']} | {c['modes']} "
                  f"| {c['image_size']} | {c.get('threads', '')} | {c.get('runs_at_once', '')} "
                  f"| {num(c['train_s_per_epoch'], 2)} |" for c in e["cells"]]
    return [*lines, ""]


def gpu(f: Mapping[str, Any]) -> list[str]:
    """The GPU check's figures once one was ingested (`benchmarks/performance/gpu_kit.py`); for a
    framework without them, why not, in words."""
    measured = f.get("gpu_measured")
    if not measured and not f["machine"]["cpu_only"]:
        return []
    lines = ["## GPU", ""]
    status = dict(f.get("gpu_status") or {})
    if measured:
        status.pop(GPU_KIT, None)
        lines += gpu_report.performance_lines(measured)
    if status:
        lines += ["| framework | GPU figures |", "| --- | --- |"]
        lines += [f"| {FRAMEWORK_NAMES.get(fw, fw)} | {text} |" for fw, text in status.items()]
    return [*lines, ""]


def _process_text(framework: str, profile: Mapping[str, Any]) -> str:
    """', <label> on' (the framework's process mode, by its report label) where the
    profile ran with one set; '' otherwise."""
    setting = process_setting(framework, profile) if framework in FRAMEWORKS else None
    if setting is None:
        return ""
    fw = FRAMEWORKS[framework]
    return f", {fw.mode_label(fw.process_mode or '')} {'on' if setting else 'off'}"


def _colon(parts: list[str]) -> str:
    """': a; b' after a phrase the parts explain, '' without parts."""
    return f": {'; '.join(parts)}" if parts else ""
