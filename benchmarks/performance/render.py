"""PERFORMANCE.md from performance.json's figures, and the one-line reason behind each target.

Every sentence is built from measured numbers; where a target is missed the text says by how
much and what the measurements point to, so the report never claims more than was timed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from benchmarks.formatting import num, pct
from benchmarks.performance import bf16_check
from benchmarks.performance import sections as perf_sections
from common_data.bench.suite import process_setting
from common_data.frameworks import FRAMEWORK_NAMES, FRAMEWORKS, notes, notes_part

_SPEEDUP_KEY = {"cached": "speedup", "cached_prefetch": "speedup_prefetch"}


def _loader(f: Mapping[str, Any]) -> str:
    d = f["details"]["loader"]
    if not d:
        return "not measured: no loader or training case ran (see 'Not run')"
    measured = ", ".join(f"{env} {num(v, 0)}" for env, v in d["loaders"].items())
    return (f"the shared loader makes {num(d['loader_images_per_s'], 0)} augmented images/s "
            f"in one thread (slowest of: {measured}); the fastest training case "
            f"({d['train_case']}) consumes {num(d['train_images_per_s'])} images/s")


def _data_wait(f: Mapping[str, Any]) -> str:
    d = f["details"]["data_wait"]
    if not d:
        return "not measured: no end-to-end case and no matrix records"
    parts = [f"{name}: {pct(v, 2)}" for name, v in d["sources"].items()]
    text = f"worst is {d['source']}; " + "; ".join(parts)
    if d["with_prefetch"]:
        text += "; with common_data/data/prefetch.py: " + ", ".join(
            f"{fw} {pct(v)}" for fw, v in d["with_prefetch"].items())
    if d["value"] >= 0.05:
        text += (". Runs prefetch the next batch in a background thread "
                 "(common_data/run/loop.py); what is left is the wait prefetch cannot hide")
    return text


def _peak(framework: str) -> Callable[[Mapping[str, Any]], str]:
    def explain(f: Mapping[str, Any]) -> str:
        d = f["details"]["peak"].get(framework)
        if not d:
            return "not measured: no training case or no matmul peak for this framework"
        size = d.get("image_size") or f["workload"]["image_size"]
        precision = d.get("precision", "sgemm")
        text = (f"best mode {d['mode']} (threads: {d['threads']}, {size}x{size}) reaches "
                f"{num(d['gflops'])} of "
                f"the machine's {num(d['peak_gflops'])} GFLOP/s (best {precision} matmul "
                f"{_matmul_size(f)} of either framework at that thread count: the peak of the "
                f"mode's own precision); the forward pass alone reaches "
                f"{pct(d['eval_fraction'])}")
        if d["fraction"] < 0.5:
            text += (". The counted FLOPs are 3x3 convolutions over few input channels "
                     "(reduction depth 27, 288 and 576 per output, against 2048 in the sgemm) "
                     "and their backward passes, which run below sgemm efficiency; ReLU, "
                     "pooling, dropout, the loss and Adam take time but count no FLOPs")
            if framework in (f.get("op_profiles") or {}):
                text += "; the per-op profile is under 'Where the time goes'"
        return text
    return explain


def _matmul_size(f: Mapping[str, Any]) -> str:
    n = f["workload"]["matmul_size"]
    return f"{n}x{n}, best of {f['workload']['matmul_rounds']}"


def _speedup(f: Mapping[str, Any]) -> str:
    e2e = f["details"]["end_to_end"]
    if "overall" not in e2e:
        return "not measured: no end-to-end case ran"
    parts = []
    for fw, d in e2e.items():
        if fw == "overall":
            continue
        pub, ours = d["published"], d["cached"]
        pub_outside = pub["seconds"] - pub["compute_s"]
        ours_outside = ours["seconds"] - ours["compute_s"]
        parts.append(
            f"{fw}: published {num(pub['seconds'])} s ({num(pub_outside)} s outside the steps)"
            f" vs ours {num(ours['seconds'])} s ({num(ours_outside, 2)} s outside): "
            f"{num(d['speedup'], 2)}x measured, {num(d['speedup_same_compute'], 2)}x with "
            f"equal step times, ceiling {num(d['ceiling'], 2)}x")
    text = "; ".join(parts)
    if any(d["speedup"] > d["ceiling"] for fw, d in e2e.items() if fw != "overall"):
        text += (". A measured speedup above the ceiling is load drift on the shared machine "
                 "between pipelines (their step times differ), not the loader")
    if all(d["ceiling"] < 5.0 for fw, d in e2e.items() if fw != "overall"):
        text += (". The ceiling is the published time over the time inside train and eval steps, "
                 "which no input pipeline removes: on this CPU the steps dominate, so even a free "
                 "loader cannot reach 5x")
    return text


def _overhead(f: Mapping[str, Any]) -> str:
    d = f["details"]["harness_overhead"]
    if not d:
        return ("not measured: no results/matrix.json that ran its cells one at a time "
                "(run `python -m benchmarks performance --matrix paper`)")
    text = (f"measured on the {d['profile']} profile ({d['runs']} runs, "
            f"{d['epochs_run']} epochs in all, data: {', '.join(d['datasets'])}): wall "
            f"{num(d['wall_s'])} s, train+eval {num(d['run_s'])} s, "
            f"{num(d['per_run_overhead_s'])} s fixed cost per run; in total "
            f"{num(d['inside_runners_s'])} s inside the runner processes (interpreter start, "
            "framework import, data load, build, record) and "
            f"{num(d['outside_runners_s'])} s in the harness process")
    projection = d.get("paper_projection")
    if projection:
        text += (f"; projected for the shortest paper run ({projection['epochs']} epochs, "
                 f"{projection['n_train']}+{projection['n_val']} images, "
                 f"{num(projection['step_s'], 2)} s/step): {pct(projection['fraction'])}, "
                 "a projection, not a measurement")
    return text


def _verdict(f: Mapping[str, Any]) -> str:
    m = (f.get("time_to_verdict") or {}).get("measured")
    if not m or "finding" not in m["matrices"]:
        return ("not measured: run `python -m benchmarks performance --verdict-cells N` "
                "(see 'Time to verdict')")
    e = m["matrices"]["finding"]
    runs = len({c["run_id"] for c in e["cells"]})  # a run two settings share counts once
    return (f"schedule64's 64-px cell, {runs} run(s) of {m['epochs']} epoch(s): "
            f"{num(e['out_of_box_s'], 2)} s/epoch out of the box (each framework's own modes "
            f"on this CPU, every core to one run) vs {num(e['tuned_s'], 2)} s/epoch as the "
            "matrix runs (chosen modes, runs side by side), summed over its cells; with every "
            f"tuned mode off instead, {num(e['modes_off_s'], 2)} s/epoch, "
            f"{num(e['ratio_modes_off'], 2)}x; {_bf16_text(e)} (see 'Time to verdict')")


def _bf16_text(e: Mapping[str, Any]) -> str:
    if not e.get("ratio_bf16"):
        return "bf16 not run (no CPU bf16, or no passed bf16 check)"
    return (f"opting in to bf16 ({', '.join(e['bf16_frameworks'])}, whose accuracy check "
            f"passed), {num(e['ratio_bf16'], 2)}x over out of the box")


_EXPLAIN: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "loader_over_train": _loader,
    "data_wait_fraction": _data_wait,
    **{f"peak_fraction.{key}": _peak(key) for key in FRAMEWORKS},
    "speedup_vs_published_pipeline.overall": _speedup,
    "harness_overhead_fraction": _overhead,
    "verdict_speedup.finding": _verdict,
}


def explain(key: str, figures: Mapping[str, Any]) -> str:
    return _EXPLAIN[key](figures)


def _value_text(key: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    return pct(value, 2) if "fraction" in key else f"{value:,.2f}x"


def _threshold_text(target: Mapping[str, Any]) -> str:
    sign = ">=" if target["higher_is_better"] else "<"
    return f"{sign} {_value_text(target['key'], target['threshold'])}"


def _margin(target: Mapping[str, Any]) -> str:
    if target["ratio"] is None:
        return ""
    if target["higher_is_better"]:
        return f"{target['ratio']:.2f}x the target"
    return f"{target['ratio']:.2f}x the limit"


def render(f: Mapping[str, Any]) -> str:
    m = f["machine"]
    versions = ", ".join(f"{FRAMEWORK_NAMES.get(k, k)} {v}"
                         for k, v in m["framework_versions"].items())
    device = ("**No GPU: every figure is CPU-only.**" if m["cpu_only"]
              else f"GPU: {', '.join(m['gpu'])}.")
    if m["cpu_only"] and f.get("gpu_measured"):
        device = ("The suites ran on this CPU only; the *GPU* section's figures come from the "
                  "GPU check, on the device it names.")
    lines = [
        "# Performance", "",
        f"Generated by `{f['command']}` at {f['generated_at']} (profile `{f['profile']}`; "
        f"last suite finished {f['measured_at']}).", "",
        f"Machine: {m['cpu']}, {m['cores']} cores; suites at {', '.join(map(str, m['threads']))} "
        f"threads. {device} {versions}; Python {', '.join(m['pythons'])}.", "",
        "Timings on a shared machine are noisy: throughputs use the median round, the matmul "
        "peak the best round. No figure here is a pass/fail test; the targets are judged below.",
        "", "## Targets", "",
        "| target | measured | threshold | status | margin | why |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for t in f["targets"]:
        lines.append(f"| {t['text']} | {_value_text(t['key'], t['value'])} | {_threshold_text(t)} "
                     f"| {t['status']} | {_margin(t)} | {t['why']} |")
    lines += ["", "## Headline figures", "",
              f"* loader_over_train: {num(f['loader_over_train'])}",
              "* peak_fraction: " + ", ".join(
                  f"{k} {pct(v)}" for k, v in f["peak_fraction"].items()),
              "* speedup_vs_published_pipeline: " + ", ".join(
                  f"{k} {num(v, 2)}x" for k, v in f["speedup_vs_published_pipeline"].items()),
              f"* harness_overhead_fraction: {pct(f['harness_overhead_fraction'])} "
              f"({f['harness_overhead_profile'] or 'no'} profile)",
              f"* data_wait_fraction: {pct(f['data_wait_fraction'], 2)}",
              "* machine_peak_gflops: " + "; ".join(
                  f"{precision} " + ", ".join(f"{t} thr {num(g)}" for t, g in by_t.items())
                  for precision, by_t in _machine_peaks(f).items()),
              "* matmul_peak_gflops: " + "; ".join(
                  f"{fw} " + ", ".join(f"{t} thr {num(g)}" for t, g in by_t.items())
                  for fw, by_t in f["matmul_peak_gflops"].items()),
              ""]
    lines += (_modes_table(f) + bf16_check.section(f.get("bf16_check"))
              + perf_sections.op_profiles(f) + perf_sections.time_to_verdict(f)
              + _e2e_table(f) + perf_sections.gpu(f) + _not_run(f) + _method(f))
    return "\n".join(lines) + "\n"


def _machine_peaks(f: Mapping[str, Any]) -> dict[str, Any]:
    """precision -> threads -> GFLOP/s; a performance.json from before bf16 peaks has sgemm's
    alone."""
    return f.get("machine_peak_gflops_by_precision") or {"sgemm": f["machine_peak_gflops"]}


def _modes_table(f: Mapping[str, Any]) -> list[str]:
    process = [fw for fw in FRAMEWORKS.values() if fw.process_mode]
    column = " / ".join(fw.mode_label(fw.process_mode) for fw in process if fw.process_mode)
    mode_notes = [note for fw in process if fw.process_mode
                  and (note := notes(fw.key, "modes").get(fw.process_mode))]
    lines = ["## Per-mode table (one training step, one evaluation pass, the sgemm, the loader)",
             "", *(line for note in mode_notes for line in (note, "")),
             "% of peak: of the machine's matmul peak in the row's own precision (float32 "
             "rows of sgemm, bf16 rows of the bf16 matmul).", "",
             f"| framework | case | mode | precision | {column or 'process mode'} | size | "
             "threads | batch | median ms | images/s | GFLOP/s | % of peak | first call s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    order = {"matmul": 0, "loader": 1, "train": 2, "eval": 3}
    rows = [r for r in f["modes"] if r["kind"] in order]
    rows.sort(key=lambda r: (r["framework"], order[r["kind"]], -(r.get("image_size") or 0),
                             r["batch_size"], r["mode"], bool(process_setting(r["framework"], r)),
                             -r["threads"]))
    for r in rows:
        batch = f"{r['batch_size']}x{r['batch_size']}" if r["kind"] == "matmul" else r["batch_size"]
        size = r.get("image_size") or ""
        lines.append(
            f"| {r['framework']} | {r['kind']} | {r['mode']} "
            f"| {_precision(r)} "
            f"| {_process_cell(r)} | {size} "
            f"| {r['threads']} | {batch} "
            f"| {num(r['median_ms'])} | {num(r['images_per_s'])} | {num(r['gflops'])} "
            f"| {pct(r['peak_fraction'])} | {num(r['first_call_s'], 2)} |")
    return [*lines, ""]


def _precision(row: Mapping[str, Any]) -> str:
    """float32 or bf16: what a step or a matmul computes in ('' for the loader)."""
    if row["kind"] == "loader":
        return ""
    return "bf16" if row.get("precision") == "bf16" else "float32"


def _process_cell(row: Mapping[str, Any]) -> str:
    """on / off for a row of a framework with a process mode, '' for one without."""
    if not FRAMEWORKS[row["framework"]].process_mode:
        return ""
    setting = process_setting(row["framework"], row)
    if setting is None:
        return "unset"
    return "on" if setting else "off"


def _e2e_table(f: Mapping[str, Any]) -> list[str]:
    e2e = f["details"]["end_to_end"]
    w = f["workload"]
    lines = ["## End to end: ours vs the published pipelines' approach", "",
             f"{w['e2e_epochs']} epoch(s) of {w['e2e_train_images']} augmented training images "
             f"and {w['e2e_val_images']} validation images at {w['image_size']}x"
             f"{w['image_size']}, batch {w['batch_size']}, the default mode, one warmed-up "
             "twin per pipeline. `published`: "
             "every sample read and decoded from disk on every step in the training process "
             f"({', '.join(notes_part('performance', 'published_pipeline'))}; byte-identical "
             "batches to ours). `cached`: "
             "the decode cache (loading it included) and the shared batch iterator, as runs use "
             "them. `cached_prefetch`: the same with common_data/data/prefetch.py. Both sides "
             "augment with our OpenCV warp, so the published Keras generator's slower SciPy "
             "warp is not charged to it: the speedup is a lower bound on that side.", "",
             f"Seconds are medians of {w['e2e_rounds']} round(s) in which the pipelines took "
             "turns; the speedup is the median of the per-round ratios.", "",
             "| framework | pipeline | seconds | outside steps s | data wait "
             "| speedup vs published |",
             "| --- | --- | --- | --- | --- | --- |"]
    for fw, d in e2e.items():
        if fw == "overall":
            continue
        for name in ("published", "cached", "cached_prefetch"):
            if name not in d:
                continue
            p = d[name]
            speedup = d[_SPEEDUP_KEY[name]] if name in _SPEEDUP_KEY else 1.0
            lines.append(f"| {fw} | {name} | {num(p['seconds'], 2)} "
                         f"| {num(p['seconds'] - p['compute_s'], 2)} "
                         f"| {pct(p['data_wait_fraction'])} | {num(speedup, 2)}x |")
    if "overall" in e2e:
        lines.append(f"| both | cached | {num(e2e['overall']['cached_s'], 2)} | | "
                     f"| {e2e['overall']['speedup']:.2f}x (geometric mean) |")
    return [*lines, ""]


def _not_run(f: Mapping[str, Any]) -> list[str]:
    if not f["not_run"]:
        return []
    lines = ["## Not run", "", "| suite | case | outcome | reason |", "| --- | --- | --- | --- |"]
    lines += [f"| {n['suite']} | {n['case']} | {n['outcome']} | {n['reason']} |"
              for n in f["not_run"]]
    return [*lines, ""]


def _method(f: Mapping[str, Any]) -> list[str]:
    return [
        "## How the figures are computed", "",
        f"* Suites: {' and '.join(f'`{fw.bench_suite}`' for fw in FRAMEWORKS.values())} "
        "(pytest-benchmark), one process per thread count"
        + "".join(f" and, {part}" for part in notes_part("performance", "suite_processes"))
        + ", cases from `common_data/bench/workload.toml`; the first input "
        "size is the primary one (every case, the peak-fraction targets), the others time "
        "training steps of each twin's default and tuned modes; each twin is "
        "built by its own `make_twin` + `Twin.build`, and every timed call returns only after the "
        "framework finished (the loss fetched as a float, logits as NumPy, one matmul element).",
        "* Roofline: FLOPs per training image from `common_data.model.spec` (multiply-add = 2; the "
        "forward pass, every weight gradient, and every input gradient but the image's: 3x "
        "the forward pass less the first conv's forward); achieved = images/s x FLOPs per "
        "image; peak = the machine's in the row's own precision: the best-round matmul of "
        "either framework at the same thread count, float32 (sgemm) for float32 modes, bf16 "
        "for bf16 modes (mixed_precision), so each mode is held to what its own arithmetic "
        "could reach.",
        "* first call s: the untimed first call of a case, where "
        + "; ".join(notes_part("performance", "first_call")) + ".",
        "* loader_over_train: augmented-batch images/s of the shared loader (slowest env) over "
        "the fastest training case of either twin.",
        "* Harness overhead: (matrix wall time - sum of train_s + eval_s of the runs it ran) / "
        "wall time, from `matrix.json` and its records.",
        "* Data wait: time inside the batch iterator over training-phase time, as "
        "`common_data.run.timing` records it.", "",
    ]
