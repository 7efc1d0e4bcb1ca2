"""`python -m benchmarks report`: render COMPARISON.md and figures from stored records only.

Nothing here trains or imports a framework: every number comes from a record or its stored
predictions, so the report can be regenerated anywhere and always says what was measured.
"""

import argparse
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import (
    data_quality,
    figures,
    gpu_report,
    model_cost,
    resolution,
    summary,
    trajectory,
)
from benchmarks.closing import add_closing_arguments, export_tensorboard_to, print_closing
from benchmarks.convergence import RULE as CONVERGENCE_RULE
from benchmarks.convergence import plateau_epochs, still_improving
from benchmarks.markdown import md_text
from benchmarks.published_protocol import published_protocol
from benchmarks.records import (
    Row,
    Setting,
    exit_text,
    group_rows,
    is_compared,
    load_predictions,
    load_records,
    rows_by_setting,
    warn,
)
from benchmarks.stats import mcnemar, mean_ci, paired_t_test
from common_data.atomic import write_text_atomic
from common_data.data.card import shipped_cards
from common_data.errors import ConfigError
from common_data.frameworks import FRAMEWORK_NAMES, FRAMEWORKS
from common_data.run.metrics import classification_metrics, ensemble_proba
from common_data.safe_files import read_json_text

_METRICS = (
    ("accuracy", "accuracy"),
    ("macro_f1", "macro F1"),
    ("weighted_f1", "weighted F1"),
    ("roc_auc_ovr_macro", "ROC AUC"),
)


def _pct(value: float) -> str:
    return "n/a" if value is None or np.isnan(value) else f"{100 * value:.2f}"


def _mean_ci_text(values: list[float]) -> str:
    """`mean ± std [low, high]` in percent; one seed has no spread, and says so."""
    if not values:
        return "n/a"
    mean, std, low, high = mean_ci(values)
    if len(values) == 1:
        return f"{_pct(mean)} (1 seed)"
    return f"{_pct(mean)} ± {_pct(std)} [{_pct(low)}, {_pct(high)}]"


def _avg(records: list[dict[str, Any]], section: str, key: str) -> float:
    values = [r[section][key] for r in records if r[section].get(key) is not None]
    return float(np.mean(values)) if values else float("nan")


def _memory_text(records: list[dict[str, Any]]) -> str:
    device = [r["memory"]["device_peak_mb"] for r in records if r["memory"]["device_peak_mb"]]
    if device:
        return f"{max(device):.0f} MB (device)"
    return f"{max(r['memory']['peak_rss_mb'] for r in records):.0f} MB (RSS)"


def _modes_text(config: dict[str, Any]) -> str:
    """The tuned modes a run used (threads included), e.g. 'onednn, 1 thread'."""
    on = [key for key, value in config.get("mode", {}).items() if value]
    threads = config["threads"]
    return ", ".join([*on, f"{threads} thread{'s' if threads > 1 else ''}"])


def _improving_text(records: list[dict[str, Any]]) -> str:
    """How many of a row's runs were still improving at their last epoch (convergence.RULE)."""
    count = sum(still_improving(r["history"]) for r in records)
    return f"**{count} of {len(records)}**" if count else "none"


def results_table(rows: list[Row]) -> list[str]:
    head = [
        "framework",
        "variant",
        "seeds",
        *(label for _, label in _METRICS),
        "params",
        "epochs run",
        "train s",
        "ms/step",
        "images/s",
        "data wait",
        "warm-up s",
        "peak memory",
        "device",
        "dropout masks",
        "modes",
        "still improving",
        "plateau epochs",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        ok = row.ok
        diverged = len(row.records) - len(ok)
        seeds = f"{len(ok)}" + (f" (+{diverged} not ok)" if diverged else "")
        if not ok:
            lines.append(
                f"| {FRAMEWORK_NAMES[row.framework]} | {row.label} | {seeds} |"
                + " n/a |" * (len(head) - 3)
            )
            continue
        epochs_run = np.mean([len(r["history"]) for r in ok])
        cells = [
            FRAMEWORK_NAMES[row.framework],
            row.label,
            seeds,
            *(_mean_ci_text(row.values(key)) for key, _ in _METRICS),
            f"{ok[0]['model']['params_total']:,}",
            f"{epochs_run:.1f}",
            f"{_avg(ok, 'timing', 'train_s'):.1f}",
            f"{_avg(ok, 'timing', 'step_ms_median'):.1f}",
            f"{_avg(ok, 'timing', 'images_per_s'):.0f}",
            f"{100 * _avg(ok, 'timing', 'data_wait_fraction'):.1f} %",
            f"{_avg(ok, 'timing', 'warmup_s'):.2f}",
            _memory_text(ok),
            ok[0]["environment"]["device"],
            ok[0]["config"].get("dropout", "framework"),
            _modes_text(ok[0]["config"]),
            _improving_text(ok),
            f"{max(plateau_epochs(r['history']) for r in ok)}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _ensemble(row: Row) -> tuple[dict[str, Any], np.ndarray, np.ndarray] | None:
    """Softmax-average of every seed's stored validation probabilities (same frames)."""
    stored = [p for p in (load_predictions(r) for r in row.ok) if p is not None]
    if len(stored) < 2:
        return None
    first = stored[0]
    if any(not np.array_equal(p["val_indices"], first["val_indices"]) for p in stored):
        return None
    proba = ensemble_proba([p["proba"] for p in stored])
    classes = row.ok[0]["metrics"]["classes"]
    return (classification_metrics(first["y_true"], proba, classes), first["y_true"],
            proba.argmax(axis=1))


def ensemble_table(rows: list[Row]) -> list[str]:
    lines = [
        "| framework | variant | models | accuracy | macro F1 | weighted F1 | ROC AUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        result = _ensemble(row)
        if result is None:
            continue
        metrics = result[0]
        lines.append(
            f"| {FRAMEWORK_NAMES[row.framework]} | {row.label} | {len(row.ok)}-seed "
            f"ensemble | " + " | ".join(_pct(metrics[k]) for k, _ in _METRICS) + " |"
        )
    return lines if len(lines) > 2 else []


def delta_table(rows: list[Row]) -> list[str]:
    """PyTorch − TensorFlow per variant: paired by seed (same data order and initial weights)."""
    lines = [
        "| variant | seeds paired | Δ accuracy (pp) mean [95 % CI] | paired t p | "
        "McNemar on ensembles (b01/b10, p) |",
        "|---|---|---|---|---|",
    ]
    # pair rows run under the same protocol; tuned modes may differ per framework (each
    # twin in its fastest faithful mode), the rest of the protocol may not
    by_variant: dict[tuple[str, str], dict[str, Row]] = {}
    for row in rows:
        protocol = {k: v for k, v in json.loads(row.protocol).items() if k != "mode"}
        key = (row.variant, json.dumps(protocol, sort_keys=True))
        by_variant.setdefault(key, {})[row.framework] = row
    for (variant, _), pair in by_variant.items():
        if set(FRAMEWORKS) - set(pair):
            continue
        torch_seeds, tf_seeds = pair["torch"].by_seed(), pair["tf"].by_seed()
        seeds = sorted(set(torch_seeds) & set(tf_seeds))
        if not seeds:
            continue
        a = [torch_seeds[s]["metrics"]["accuracy"] for s in seeds]
        b = [tf_seeds[s]["metrics"]["accuracy"] for s in seeds]
        diffs = [x - y for x, y in zip(a, b, strict=True)]
        mean, _, low, high = mean_ci(diffs)
        ci = f"[{100 * low:+.2f}, {100 * high:+.2f}]" if len(diffs) > 1 else "(1 seed)"
        p_seed = paired_t_test(a, b) if len(diffs) > 1 else float("nan")
        test = "n/a"
        ens_torch, ens_tf = _ensemble(pair["torch"]), _ensemble(pair["tf"])
        if ens_torch and ens_tf and np.array_equal(ens_torch[1], ens_tf[1]):
            result = mcnemar(ens_torch[1], ens_torch[2], ens_tf[2])
            test = f"{result['b01']}/{result['b10']}, p = {result['p_value']:.3g}"
        p_text = "n/a" if np.isnan(p_seed) else f"{p_seed:.3g}"
        lines.append(f"| {variant} | {len(seeds)} | {100 * mean:+.2f} {ci} | {p_text} | {test} |")
    return lines if len(lines) > 2 else []


def _best_rows(rows: list[Row], item: dict[str, Any], transfer: str) -> dict[str, Row]:
    """Per framework, our highest-fidelity row (largest input, then most seeds) of the
    published row's spec, transfer mode and variant, on the published split and frame."""
    variant = "baseline" if item["variant"] == "ensemble" else item["variant"]
    best: dict[str, Row] = {}
    for row in rows:
        config = row.records[0]["config"]
        if (row.setting.split, row.setting.hud, row.variant) != ("random", "full", variant) \
                or not row.ok or config["spec"] != item["spec"] \
                or config.get("transfer", "scratch") != transfer:
            continue
        current = best.get(row.framework)
        rank = (row.setting.image_size, len(row.ok))
        if current is None or rank > (current.setting.image_size, len(current.ok)):
            best[row.framework] = row
    return best


def _ours_text(found: dict[str, Row], ensemble: bool) -> str:
    parts = []
    protocol = published_protocol()
    for framework, row in sorted(found.items()):
        where = f"{row.setting.image_size}px, {md_text(row.setting.data_label)}"
        published_epochs = (protocol.augmented_epochs if row.variant == "augmented"
                            else protocol.baseline_epochs)
        epochs = max(r["config"]["epochs"] for r in row.records)
        if epochs != published_epochs:  # a smoke run is never read as a result
            where = f"{epochs} epoch{'s' if epochs > 1 else ''}, {where}"
        if ensemble:
            result = _ensemble(row)
            if result:
                parts.append(f"{FRAMEWORK_NAMES[framework]} {_pct(result[0]['accuracy'])} "
                             f"({len(row.ok)}-seed ensemble, {where})")
            continue
        seeds = len(row.ok)
        parts.append(f"{FRAMEWORK_NAMES[framework]} {_pct(float(np.mean(row.values('accuracy'))))}"
                     f" ({seeds} seed{'s' if seeds > 1 else ''}, {where})")
    return "; ".join(parts)


def _dataset_hash(row: Row) -> str | None:
    return row.records[0].get("data", {}).get("dataset_hash") if row.records else None


def published_table(rows: list[Row]) -> list[str]:
    """The published figures beside ours on the published split (random, full frame): per
    published model, our runs of the same spec (and transfer mode), or why there are none.
    A run trained from scratch is never shown as a transfer result."""
    cards = [c for c in shipped_cards() if c.published is not None]
    hashes = {_dataset_hash(row) for row in rows}
    card = next((c for c in cards if c.content_hash in hashes), None)
    if card is None:
        return ["None for these datasets: published figures come from a dataset card's "
                "`[published]` table, tied to the content hash of the data they were measured on."]
    # figures stand only beside runs on the very content they were measured on
    rows = [row for row in rows if _dataset_hash(row) == card.content_hash]
    published = card.published
    lines = [
        f"Published values are from the {published['source']}, labelled **published**; "
        "ours are this project's records of the same spec on the random split with the full "
        "frame, per twin, at the largest input size run (seeds, input and dataset named).",
        "",
        "| framework | model | published accuracy | published params | ours: accuracy "
        "(mean over seeds) | ours: params |",
        "|---|---|---|---|---|---|",
    ]
    for item in published["row"]:
        transfer = item.get("transfer", "scratch")
        found = _best_rows(rows, item, transfer)
        ensemble = item["variant"] == "ensemble"
        run_it = f"`compare --profile {item['profile']}`" if "profile" in item else ""
        mine = _ours_text(found, ensemble) or (
            f"not run yet ({run_it})" if run_it else "not run yet: no profile runs this variant")
        if not found and transfer != "scratch":
            scratch = _ours_text(_best_rows(rows, item, "scratch"), ensemble)
            mine = ("not run: needs `--pretrained FILE` (ImageNet weights, torchvision layout"
                    + (f"; {run_it} `--pretrained FILE`)" if run_it else ")")
                    + (f"; from scratch instead: {scratch}" if scratch else ""))
        params = next((f"{r.ok[0]['model']['params_total']:,}" for r in found.values()), "")
        published_params = item.get("params_note") or (
            f"{item['params']:,}" if "params" in item else "")
        lines.append(
            f"| {FRAMEWORK_NAMES[item['framework']]} | {item['model']} | "
            f"{_pct(item['accuracy'])} (published) | {published_params} | {mine} | {params} |"
        )
    return lines


def protocol_notes(rows: list[Row]) -> list[str]:
    """Say plainly where our protocol departs from the published one."""
    published = published_protocol()
    notes = []
    for row in rows:
        config = row.records[0]["config"]
        baseline_epochs = config["epochs"] if row.variant == "baseline" else None
        notes += published.departures(config["image_size"], baseline_epochs)
    unique = sorted(set(notes))
    # one note for the seed counts, as a range when the cells differ
    counts = sorted({len(row.records) for row in rows})
    if counts and counts[0] < published.seeds:
        span = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        unique.append(f"{span} seed{'s' if counts[-1] > 1 else ''} per cell "
                      f"(the published ensemble used {published.seeds} models)")
    if not unique:
        return [f"Protocol: the published one ({published.describe()})."]
    return ["**Reduced protocol** — these runs differ from the published protocol: "
            + "; ".join(unique) + "."]


def _runs_at_once(record: dict[str, Any]) -> int:
    return (record["environment"] or {}).get("concurrent_runs", 1)


def shared_machine_note(rows: list[Row]) -> list[str]:
    """Runs made with `--jobs` > 1 shared the machine: say so beside their timings."""
    timed = [r for row in rows for r in row.ok]
    shared = [r for r in timed if _runs_at_once(r) > 1]
    if not shared:
        return []
    most = max(_runs_at_once(r) for r in shared)
    return [f"**Shared machine** — {len(shared)} of these {len(timed)} runs were timed while up "
            f"to {most} runs shared the machine (`--jobs {most}`, or {most} Ray tasks on one "
            "node): their train s, ms/step and images/s are not those of a run alone; compare "
            "timings only between runs made one at a time."]


def _host(record: dict[str, Any]) -> str:
    """The machine's name; records made before hosts were recorded give '' (never counted)."""
    return (record["environment"] or {}).get("host", "")


def machines_note(rows: list[Row]) -> list[str]:
    """Runs timed on different machines (e.g. Ray nodes on several hosts): say so."""
    timed = [r for row in rows for r in row.ok]
    hosts = sorted({_host(r) for r in timed} - {""})
    if len(hosts) < 2:
        return []
    return [f"**Several machines** — these {len(timed)} runs were timed on {len(hosts)} machines "
            f"({', '.join(hosts)}): compare timings only between runs of one machine; the "
            "Environment section lists where each run ran."]


def nodes_table(records: list[dict[str, Any]]) -> list[str]:
    """Which machine and Ray node ran each run, when the runs did not all run on one host."""
    if len({_host(r) for r in records} - {""}) < 2 and not any(
        (r["environment"] or {}).get("node") for r in records
    ):
        return []
    lines = ["", "| run | host | Ray node |", "|---|---|---|"]
    for record in records:
        node = (record["environment"] or {}).get("node")
        lines.append(f"| `{record['run_id']}` | {_host(record) or '-'} | "
                     f"{f'`{node[:12]}`' if node else '-'} |")
    return lines


def environment_block(records: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| framework | version | Python | OS | host | CPU | GPU | device | threads (intra/inter) "
        "| runs at once |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    seen = set()
    records = [r for r in records if is_compared(r) and r["environment"] is not None]
    for record in records:
        env = {k: v for k, v in (record["environment"] or {}).items() if k != "node"}
        key = json.dumps(env, sort_keys=True)
        if key in seen or not env:
            continue
        seen.add(key)
        threads = env["threads"]
        lines.append(
            f"| {FRAMEWORK_NAMES[record['framework']]} | {env['framework_version']} | "
            f"{env['python']} | {env['os']} | {_host(record) or '-'} | {env['cpu']} | "
            f"{env['gpu'] or 'none'} | {env['device']} | {threads['intra_op']}/"
            f"{threads['inter_op']} | {_runs_at_once(record)} |"
        )
    lines += nodes_table(records)
    lines += [
        "",
        "| data | dataset hash | cache key | split | split hash | train / val |",
        "|---|---|---|---|---|---|",
    ]
    seen = set()
    for record in records:
        data = record["data"]
        key = (data["dataset_hash"], data["cache_key"], data["split_hash"])
        if key in seen:
            continue
        seen.add(key)
        lines.append(
            f"| {md_text(Path(str(data['dataset'])).name)} | `{data['dataset_hash'][:12]}` | "
            f"`{data['cache_key'][:12]}` | {data['split']} | `{data['split_hash'][:12]}` "
            f"| {data['n_train']} / {data['n_val']} |"
        )
    return lines


def _cell_text(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def failures_block(results_dir: Path, records: list[dict[str, Any]]) -> list[str]:
    """One table row per run that did not finish normally: failed and diverged records, and
    the harness's notes on processes that died before writing a record."""
    rows = []
    for record in records:
        if record["status"] != "ok":
            where = (
                f"at epoch {record['diverged_at_epoch']}"
                if record.get("diverged_at_epoch")
                else ""
            )
            error = (record.get("error") or "").strip().splitlines()[-1:] or [where]
            rows.append((record["run_id"], record["status"], error[0]))
    finished = {record["run_id"] for record in records if is_compared(record)}
    for path in sorted((results_dir / "failures").glob("*.json")):
        if path.stem in finished:  # the cell ran again and finished: the note is history
            continue
        try:
            failure = json.loads(read_json_text(path, "failure note"))
            run_id, returncode = str(failure["run_id"]), failure["returncode"]
            tail = [str(line) for line in failure.get("error_tail", []) if str(line).strip()]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            warn(f"skipping failure note {path}: unreadable ({type(exc).__name__})")
            continue
        rows.append((run_id, f"process failed ({exit_text(returncode)})",
                     tail[-1] if tail else "no output"))
    if not rows:
        return []
    lines = ["## Runs that did not finish normally", "", "| run | status | last error line |",
             "|---|---|---|"]
    lines += [f"| `{run_id}` | {status} | {_cell_text(error)} |" for run_id, status, error in rows]
    return [*lines, ""]


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A side file of the report (finding, matrix summary); unreadable ones are skipped."""
    try:
        value = json.loads(read_json_text(path, what))
    except (OSError, ValueError) as exc:
        warn(f"skipping {what} {path}: unreadable ({type(exc).__name__})")
        return {}
    if not isinstance(value, dict):
        warn(f"skipping {what} {path}: expected a JSON object")
        return {}
    return value


def _arm_accuracies(row: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A verdict row's (reference, arm) accuracies; findings written before arms existed
    name them baseline and augmented."""
    if "reference_accuracy" in row:
        return row["reference_accuracy"], row["arm_accuracy"]
    return row["baseline_accuracy"], row["augmented_accuracy"]


def _arm_names(result: dict[str, Any]) -> str:
    """The accuracy columns' heads: the arms' names where every verdict compares the same two,
    else the roles (each row's comparison then leads its framework cell)."""
    pairs = {(c["reference"], c["arm"]) for c in
             (r.get("comparison") or {"reference": "baseline", "arm": "augmented"}
              for r in result["verdicts"])}
    reference, arm = next(iter(pairs)) if len(pairs) == 1 else ("reference", "arm")
    return f"{reference} acc | {arm} acc"


def _improving_note(row: dict[str, Any]) -> str:
    """Beside a verdict: how many of the runs it rests on were still improving at their last
    epoch (findings evaluated before this was recorded say nothing)."""
    counts = row.get("still_improving")
    if not counts or not any(counts.values()):
        return ""
    names = row.get("comparison") or {}
    parts = ", ".join(f"{n} of {row['n_seeds']} {names.get(side, side)}"
                      for side, n in counts.items() if n)
    return f" (still improving at the last epoch: {parts})"


def _fmt_ci(values: list[float]) -> str:
    return f"[{100 * values[0]:+.1f}, {100 * values[1]:+.1f}]" if values[0] == values[0] else "n/a"


def _recorded_text(row: dict[str, Any]) -> str:
    """The verdict recorded for this cell of the finding, in words, with the reference arm's
    recorded accuracy (`baseline_accuracy` in findings written before arms existed)."""
    expected = row.get("expected")
    if not expected:
        return "—"
    reference = (row.get("comparison") or {}).get("reference", "baseline")
    accuracy = expected.get("reference_accuracy", expected.get("baseline_accuracy"))
    return f"{expected['verdict']}, {reference} {_pct(accuracy)} %"


def _finding_order(result: dict[str, Any]) -> tuple[bool, int]:
    """The highest-fidelity protocol first: published, then by input size."""
    return (not result.get("published_protocol", False), -result["protocol"]["image_size"])


def finding_protocol(results_dir: Path) -> tuple[str, int] | None:
    """(protocol name, input size) of the stored default finding result, if there is a
    readable one; an unreadable file is warned about once, by the findings section."""
    path = results_dir / "findings" / "augmentation.json"
    try:
        result = json.loads(read_json_text(path, "finding"))
        return result["profile"], int(result["protocol"]["image_size"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def findings_section(results_dir: Path, fig_dir: Path, out_dir: Path) -> list[str]:
    """Verdicts of every stored finding, highest fidelity first: a table naming the protocol
    the verdicts come from, a chart and plain sentences."""
    lines = []
    results = [_read_json(path, "finding")
               for path in sorted((results_dir / "findings").glob("*.json"))]
    results = [r for r in results
               if r and r.get("verdicts") and "claim" in r
               and r.get("selection", {}).get("fault", "none") == "none"]
    for result in sorted(results, key=_finding_order):
        name = f"{result['finding']}-{result['profile']}"
        chart = figures.finding_chart(result, fig_dir / f"finding-{name}.png")
        data = result.get("data") or {}
        seeds = len(result.get("selection", {}).get("seeds", []))
        label = result.get("protocol_label") or f"`{result['profile']}`"
        kind = ("the published protocol" if result.get("published_protocol")
                else "**not** the published protocol")
        lines += [
            f"### Finding: {result['finding']}, protocol {label}",
            "",
            f"> {result['claim']}",
            "",
            f"Published: {result['source']}. Re-tested with `{result['command']}` on "
            f"{md_text(Path(str(data.get('dataset', '?'))).name)}, {kind} "
            f"({seeds} seeds per cell). A direction is called when the mean change reaches "
            f"{100 * result['min_effect']:.0f} pp and its 95 % CI excludes zero.",
            "",
            f"| framework | split | HUD | protocol | seeds | {_arm_names(result)} | Δ (pp) "
            "[95 % CI] | paired t p | McNemar p (ensembles) | verdict | recorded |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        protocol = result["protocol"]
        short = (f"{protocol['image_size']}px, {protocol['epochs']}/"
                 f"{'≤' if protocol['early_stopping'] else ''}{protocol['augmented_epochs']} ep"
                 + ("" if result.get("published_protocol") else " (reduced)"))
        for row in result["verdicts"]:
            test = row.get("mcnemar_ensembles") or {}
            p_seed = row.get("p_value_seeds")
            reference, arm = _arm_accuracies(row)
            lines.append(
                f"| {FRAMEWORK_NAMES[row['framework']]} | {row['split']} | {row['hud']} | "
                f"{short} | {row['n_seeds']} | {_pct(reference['mean'])} | "
                f"{_pct(arm['mean'])} | "
                f"{100 * row['delta_accuracy']:+.1f} {_fmt_ci(row['delta_ci95'])} | "
                f"{'n/a' if p_seed is None else f'{p_seed:.3g}'} | "
                f"{test.get('p_value', float('nan')):.3g} | **{row['verdict']}**"
                f"{_improving_note(row)} | "
                f"{_recorded_text(row)} |"
            )
        probe = result.get("hud_only_probe") or {}
        if probe:
            majority = _pct(next(iter(probe.values()))["majority_class_rate"])
            full = {r["framework"]: _arm_accuracies(r)[0]["mean"] for r in result["verdicts"]
                    if r["split"] == "random" and r["hud"] == "full"}
            lines += [
                "",
                "HUD-only probe (face blanked, random split, baseline) beside the full frame: "
                + ", ".join(
                    f"{FRAMEWORK_NAMES[fw]} {_pct(p['accuracy']['mean'])} % over "
                    f"{p['n_seeds']} seeds"
                    + (f" (full frame {_pct(full[fw])} %)" if fw in full else "")
                    for fw, p in probe.items()
                )
                + f"; majority class {majority} %.",
            ]
        cells = result.get("cells")
        if cells:
            lines += [
                "",
                f"Time to verdict: {cells['with_records']} of {cells['total']} cells have "
                f"records; their runs took {result['run_time_s'] / 3600:.2f} h of run time "
                "together (each run's own wall clock; with `--jobs 2` on two cores the matrix "
                "takes about half that).",
            ]
        lines += [
            "",
            *result["summary"],
            "",
            f"![finding]({chart.relative_to(out_dir).as_posix()})",
            "",
        ]
    return ["## Findings", "", *lines] if lines else []


def matrix_section(
    matrix: dict[str, Any], rows: list[Row], fig_dir: Path, out_dir: Path,
    audits: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """The report's opening: what the last `compare` matrix found, with one figure."""
    from benchmarks.finding import load_finding

    if not rows:
        return []
    only = [Row(r.setting, r.framework, r.variant, r.protocol,
                [x for x in r.records if x["run_id"] in matrix["run_ids"]]) for r in rows]
    datasets = sorted({md_text(r.setting.data_label) for r in only})
    chart = figures.regime_chart(only, fig_dir / "matrix-regimes.png")
    answers = summary.answers(only, load_finding()["min_effect"], audits)
    return [
        "## The matrix just run",
        "",
        f"`{matrix['command']}` on {', '.join(datasets)}: {len(matrix['run_ids'])} cells "
        f"({matrix['ran']} trained now, {matrix['skipped']} already stored), "
        f"{matrix['wall_s']:.0f} s wall time. Its tables come first under *Results*.",
        "",
        *(f"- {text}" for text in answers),
        "",
        f"![accuracy per regime]({chart.relative_to(out_dir).as_posix()})",
        "",
    ]


def summary_section(rows: list[Row],
                    audits: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """The first screen: the three questions answered per dataset, with their numbers."""
    from benchmarks.finding import load_finding

    min_effect = load_finding()["min_effect"]
    datasets: dict[str, list[Row]] = {}
    for row in rows:
        datasets.setdefault(row.setting.data_label, []).append(row)
    lines = []
    for dataset, group in datasets.items():
        found = summary.answers(group, min_effect, audits)
        if found:
            lines += [f"### {md_text(dataset)}", "", *(f"- {text}" for text in found), ""]
    return ["## Summary of all stored runs, by dataset", "", *lines] if lines else []


def data_section(rows: list[Row], reports: dict[str, dict[str, Any]]) -> list[str]:
    """Per dataset (name and content hash): what the data left out or got wrong, from the
    data-quality files the harness's preflight kept (`reports`, by dataset hash)."""
    datasets = {row.setting.dataset_hash: row.setting.data_label for row in rows}
    lines = []
    for digest, label in datasets.items():
        report = reports.get(digest)
        if report is None:
            found = ["- no data-quality file (these runs were made before the harness kept one)"]
        else:
            found = data_quality.summary_lines(report) or ["- nothing left out or flagged"]
        lines += [f"### {md_text(label)}", "", *found, ""]
    return ["## Data quality", "", *lines] if lines else []


def majority_note(rows: list[Row]) -> list[str]:
    """The split's majority-class rate, beside its accuracies: a model that predicts one class
    for every frame scores exactly this, so an accuracy near it means nothing was learnt."""
    found = next((m for row in rows if (m := row.majority()) is not None), None)
    if found is None:
        return []
    rate, name = found
    return [f"Majority-class rate of this split's validation frames: {_pct(rate)} % "
            f"(always predicting `{name}`).", ""]


def _setting_section(setting: Setting, rows: list[Row], fig_dir: Path, out_dir: Path) -> list[str]:
    curves = figures.learning_curves(rows, setting.title, fig_dir / f"curves-{setting.slug}.png")
    confusion = figures.confusion_matrices(
        rows, setting.title, fig_dir / f"confusion-{setting.slug}.png"
    )
    # per setting: one folder often holds a reduced matrix beside a published-protocol one
    lines = [f"### {md_text(setting.title)}", "", *protocol_notes(rows), "",
             *majority_note(rows),
             *results_table(rows), ""]
    for note in (shared_machine_note(rows), machines_note(rows)):
        if note:
            lines += [*note, ""]
    deltas = delta_table(rows)
    if deltas:
        lines += ["Framework delta (PyTorch − TensorFlow), paired by seed:", "", *deltas, ""]
    ensembles = ensemble_table(rows)
    if ensembles:
        lines += [
            "Ensembles (softmax average of the seeds' stored validation probabilities):",
            "",
            *ensembles,
            "",
        ]
    lines += [
        f"![learning curves]({curves.relative_to(out_dir).as_posix()})",
        "",
        f"![confusion matrices]({confusion.relative_to(out_dir).as_posix()})",
        "",
    ]
    return lines


def check_writable(folder: Path) -> None:
    """Fail before reading anything when the report cannot be written where it goes."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(
            f"--out {folder.parent}: cannot write the report there ({exc.strerror or exc}); "
            "expected a writable folder (pass --out with another one)"
        ) from None


def render(results_dir: Path, out_dir: Path) -> Path:
    """Write `<out>/COMPARISON.md` and `<out>/figures/*.png`; returns the markdown path."""
    check_writable(out_dir / "figures")
    records = load_records(results_dir / "runs")
    rows = group_rows(records)
    fig_dir = out_dir / "figures"
    matrix_path = results_dir / "matrix.json"
    matrix = _read_json(matrix_path, "matrix summary") if matrix_path.is_file() else {}
    lines = [
        "# Framework comparison: thermal facial emotion recognition",
        "",
        f"Generated by `python -m benchmarks report` on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} from {len(records)} run records "
        f"in `{results_dir.name}/runs/`.",
    ]
    if matrix.get("command"):
        lines += [
            "",
            f"Last matrix that trained: `{matrix['command']}`: {matrix['ran']} runs in "
            f"{matrix['wall_s']:.0f} s wall time, of which {matrix['subprocess_s']:.0f} s inside "
            "the run processes.",
        ]
    lines += [
        "",
        "Accuracy and F1 are percentages on the validation frames, computed in "
        "`common_data.run.metrics` from each run's stored predictions; cells read "
        "`mean ± std [95 % t-interval over seeds]`. Times exclude the first (warm-up/compile) "
        "step, which is reported apart. Convergence: " + CONVERGENCE_RULE + ".",
        "",
    ]
    if not records:
        lines += ["No run records yet: run `tox -m compare` first.", ""]
    else:
        audits = data_quality.load_reports(results_dir)  # the preflight's leakage audits
        just_run = {r["run_id"] for r in records} & set(matrix.get("run_ids", []))
        lines += [
            *matrix_section(matrix, [r for r in rows
                                     if any(x["run_id"] in just_run for x in r.records)],
                            fig_dir, out_dir, audits),
            *summary_section(rows, audits),
            *findings_section(results_dir, fig_dir, out_dir),
            *resolution.section(records, fig_dir, out_dir, finding_protocol(results_dir)),
            *trajectory.section(records, fig_dir, out_dir),
            *data_section(rows, audits),
            "## Results",
            "",
        ]
        settings = rows_by_setting(rows)
        # the settings of the matrix just run first, then the stored ones
        order = sorted(settings, key=lambda s: not any(
            r["run_id"] in just_run for row in settings[s] for r in row.records))
        for setting in order:
            lines += _setting_section(setting, settings[setting], fig_dir, out_dir)
        speed = figures.speed_chart(rows, fig_dir / "speed.png")
        lines += [
            "## Speed",
            "",
            f"![speed]({speed.relative_to(out_dir).as_posix()})",
            "",
            *model_cost.section(records),
            *gpu_report.section(results_dir),
            "## Published figures beside ours",
            "",
            *published_table(rows),
            "",
            *failures_block(results_dir, records),
            "## Environment",
            "",
            *environment_block(records),
            "",
        ]
    path = out_dir / "COMPARISON.md"
    write_text_atomic(path, "\n".join(lines))
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks report",
        description="Render COMPARISON.md from stored run records.",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        help="results folder holding runs/ (default: results)",
    )
    parser.add_argument(
        "--out", type=Path, help="where to write COMPARISON.md (default: --results)"
    )
    add_closing_arguments(parser)
    args = parser.parse_args(argv)
    if not (args.results / "runs").is_dir():
        raise ConfigError(
            f"--results {args.results}: no runs/ folder with records inside "
            "(run `python -m benchmarks compare` first)"
        )
    out = render(args.results, args.out or args.results)
    if args.json:  # every stored run, by dataset, as the report's summary has them
        from benchmarks.finding import load_finding

        print_closing(args.results / "runs", None, out, load_finding()["min_effect"],
                      as_json=True)
    else:
        print(out)
    if args.tensorboard:
        export_tensorboard_to(args.results, quiet_stdout=args.json)
    return 0
