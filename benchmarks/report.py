"""`python -m benchmarks report`: render COMPARISON.md and figures from stored records only.

Nothing here trains or imports a framework: every number comes from a record or its stored
predictions, so the report can be regenerated anywhere and always says what was measured.
"""

import argparse
import json
import os
import tempfile
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import data_quality, figures
from benchmarks.records import (
    FRAMEWORK_NAMES,
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
from common_data.errors import ConfigError
from common_data.metrics import classification_metrics, ensemble_proba
from common_data.stats import mcnemar, mean_ci, paired_t_test

PUBLISHED = Path(__file__).resolve().parent / "published.toml"
PAPER_PROTOCOL = {"image_size": 128, "batch_size": 32, "baseline_epochs": 20}
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
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        ok = row.ok
        diverged = len(row.records) - len(ok)
        seeds = f"{len(ok)}" + (f" (+{diverged} not ok)" if diverged else "")
        if not ok:
            lines.append(
                f"| {FRAMEWORK_NAMES[row.framework]} | {row.variant} | {seeds} |"
                + " n/a |" * (len(head) - 3)
            )
            continue
        epochs_run = np.mean([len(r["history"]) for r in ok])
        cells = [
            FRAMEWORK_NAMES[row.framework],
            row.variant,
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
    return classification_metrics(first["y_true"], proba), first["y_true"], proba.argmax(axis=1)


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
            f"| {FRAMEWORK_NAMES[row.framework]} | {row.variant} | {len(row.ok)}-seed "
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
    by_variant: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_variant.setdefault(row.variant, {})[row.framework] = row
    for variant, pair in by_variant.items():
        if {"torch", "tf"} - set(pair):
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


def published_table(rows: list[Row]) -> list[str]:
    """The published figures beside ours on the published split (random, full frame)."""
    published = tomllib.loads(PUBLISHED.read_text(encoding="utf-8"))
    ours: dict[tuple[str, str], Row] = {}
    for row in rows:
        if row.setting.split == "random" and row.setting.hud == "full" and row.ok:
            ours.setdefault((row.framework, row.variant), row)
    lines = [
        f"Published values are from the {published['source']}, labelled **published**; "
        "ours are this project's records on the random split with the full frame "
        "(dataset and input size in the last column).",
        "",
        "| framework | model | published accuracy | published params | ours: accuracy "
        "(mean over seeds) | ours: params | ours: data, input |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in published["row"]:
        ensemble = item["variant"] == "ensemble"
        row = ours.get((item["framework"], "baseline" if ensemble else item["variant"]))
        mine = ("not run", "", "")
        if row is not None:
            accuracy = _pct(float(np.mean(row.values("accuracy"))))
            if ensemble:
                result = _ensemble(row)
                accuracy = (
                    f"{_pct(result[0]['accuracy'])} ({len(row.ok)}-seed ensemble)"
                    if result
                    else "not run"
                )
            mine = (
                accuracy,
                f"{row.ok[0]['model']['params_total']:,}",
                f"{row.setting.data_label}, {row.setting.image_size}px",
            )
        params = item.get("params_note") or (f"{item['params']:,}" if "params" in item else "")
        lines.append(
            f"| {FRAMEWORK_NAMES[item['framework']]} | {item['model']} | "
            f"{_pct(item['accuracy'])} (published) | {params} | " + " | ".join(mine) + " |"
        )
    return lines


def protocol_notes(rows: list[Row]) -> list[str]:
    """Say plainly where our protocol is reduced from the published one."""
    notes = []
    for row in rows:
        config = row.records[0]["config"]
        if config["image_size"] != PAPER_PROTOCOL["image_size"]:
            notes.append(f"input {config['image_size']}x{config['image_size']} instead of 128x128")
        if row.variant == "baseline" and config["epochs"] != PAPER_PROTOCOL["baseline_epochs"]:
            notes.append(f"baseline trained {config['epochs']} epochs instead of 20")
        if len(row.records) < 5:
            seeds = len(row.records)
            notes.append(f"{seeds} seed{'s' if seeds > 1 else ''} per cell "
                         "(the published ensemble used 5 models)")
    unique = sorted(set(notes))
    if not unique:
        return ["Protocol: the published one (128x128, batch 32, Adam 1e-3, baseline 20 epochs)."]
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
            f"to {most} runs shared the machine (`--jobs {most}`): their train s, ms/step and "
            "images/s are not those of a run alone; compare timings only between runs made "
            "one at a time."]


def environment_block(records: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| framework | version | Python | OS | CPU | GPU | device | threads (intra/inter) "
        "| runs at once |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    seen = set()
    records = [r for r in records if is_compared(r) and r["environment"] is not None]
    for record in records:
        env = record["environment"]
        key = json.dumps(env, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        threads = env["threads"]
        lines.append(
            f"| {FRAMEWORK_NAMES[record['framework']]} | {env['framework_version']} | "
            f"{env['python']} | {env['os']} | {env['cpu']} | {env['gpu'] or 'none'} | "
            f"{env['device']} | {threads['intra_op']}/{threads['inter_op']} | "
            f"{_runs_at_once(record)} |"
        )
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
            f"| {Path(str(data['dataset'])).name} | `{data['dataset_hash'][:12]}` | "
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
            failure = json.loads(path.read_text(encoding="utf-8"))
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
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        warn(f"skipping {what} {path}: unreadable ({type(exc).__name__})")
        return {}
    if not isinstance(value, dict):
        warn(f"skipping {what} {path}: expected a JSON object")
        return {}
    return value


def _fmt_ci(values: list[float]) -> str:
    return f"[{100 * values[0]:+.1f}, {100 * values[1]:+.1f}]" if values[0] == values[0] else "n/a"


def findings_section(results_dir: Path, fig_dir: Path, out_dir: Path) -> list[str]:
    """Verdicts of every stored finding: a table, a chart and plain sentences."""
    lines = []
    for path in sorted((results_dir / "findings").glob("*.json")):
        result = _read_json(path, "finding")
        if not result or not result.get("verdicts") or "claim" not in result:
            continue
        if not result["verdicts"] or result.get("selection", {}).get("fault", "none") != "none":
            continue
        chart = figures.finding_chart(result, fig_dir / f"finding-{result['finding']}.png")
        data = result.get("data") or {}
        lines += [
            f"### Finding: {result['finding']}",
            "",
            f"> {result['claim']}",
            "",
            f"Published: {result['source']}. Re-tested with `{result['command']}` "
            f"(profile `{result['profile']}`: {json.dumps(result['protocol'])}) on "
            f"{Path(str(data.get('dataset', '?'))).name}. A direction is called when the "
            f"mean change reaches {100 * result['min_effect']:.0f} pp and its 95 % CI "
            "excludes zero.",
            "",
            "| framework | split | HUD | seeds | baseline acc | augmented acc | Δ (pp) "
            "[95 % CI] | paired t p | McNemar p (ensembles) | verdict | recorded |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in result["verdicts"]:
            test = row.get("mcnemar_ensembles") or {}
            p_seed = row.get("p_value_seeds")
            lines.append(
                f"| {FRAMEWORK_NAMES[row['framework']]} | {row['split']} | {row['hud']} | "
                f"{row['n_seeds']} | {_pct(row['baseline_accuracy']['mean'])} | "
                f"{_pct(row['augmented_accuracy']['mean'])} | "
                f"{100 * row['delta_accuracy']:+.1f} {_fmt_ci(row['delta_ci95'])} | "
                f"{'n/a' if p_seed is None else f'{p_seed:.3g}'} | "
                f"{test.get('p_value', float('nan')):.3g} | **{row['verdict']}** | "
                f"{row.get('expected') or '—'} |"
            )
        probe = result.get("hud_only_probe") or {}
        if probe:
            majority = _pct(next(iter(probe.values()))["majority_class_rate"])
            lines += [
                "",
                "HUD-only probe (face blanked, random split): "
                + ", ".join(
                    f"{FRAMEWORK_NAMES[fw]} {_pct(p['accuracy']['mean'])} % "
                    f"over {p['n_seeds']} seeds"
                    for fw, p in probe.items()
                )
                + f" (majority class {majority} %).",
            ]
        lines += [
            "",
            *result["summary"],
            "",
            f"![finding]({chart.relative_to(out_dir).as_posix()})",
            "",
        ]
    return ["## Findings", "", *lines] if lines else []


def data_section(rows: list[Row], results_dir: Path) -> list[str]:
    """Per dataset (name and content hash): what the data left out or got wrong, from the
    data-quality files the harness's preflight kept."""
    reports = data_quality.load_reports(results_dir)
    datasets = {row.setting.dataset_hash: row.setting.data_label for row in rows}
    lines = []
    for digest, label in datasets.items():
        report = reports.get(digest)
        if report is None:
            found = ["- no data-quality file (these runs were made before the harness kept one)"]
        else:
            found = data_quality.summary_lines(report) or ["- nothing left out or flagged"]
        lines += [f"### {label}", "", *found, ""]
    return ["## Data quality", "", *lines] if lines else []


def _setting_section(setting: Setting, rows: list[Row], fig_dir: Path, out_dir: Path) -> list[str]:
    curves = figures.learning_curves(rows, setting.title, fig_dir / f"curves-{setting.slug}.png")
    confusion = figures.confusion_matrices(
        rows, setting.title, fig_dir / f"confusion-{setting.slug}.png"
    )
    # per setting: one folder often holds a reduced matrix beside a published-protocol one
    lines = [f"### {setting.title}", "", *protocol_notes(rows), "", *results_table(rows), ""]
    shared = shared_machine_note(rows)
    if shared:
        lines += [*shared, ""]
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
        "`common_data.metrics` from each run's stored predictions; cells read "
        "`mean ± std [95 % t-interval over seeds]`. Times exclude the first (warm-up/compile) "
        "step, which is reported apart.",
        "",
    ]
    if not records:
        lines += ["No run records yet: run `tox -m compare` first.", ""]
    else:
        lines += [
            *findings_section(results_dir, fig_dir, out_dir),
            *data_section(rows, results_dir),
            "## Results",
            "",
        ]
        for setting, setting_rows in rows_by_setting(rows).items():
            lines += _setting_section(setting, setting_rows, fig_dir, out_dir)
        speed = figures.speed_chart(rows, fig_dir / "speed.png")
        lines += [
            "## Speed",
            "",
            f"![speed]({speed.relative_to(out_dir).as_posix()})",
            "",
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
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "COMPARISON.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)
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
    args = parser.parse_args(argv)
    if not (args.results / "runs").is_dir():
        raise ConfigError(
            f"--results {args.results}: no runs/ folder with records inside "
            "(run `python -m benchmarks compare` first)"
        )
    print(render(args.results, args.out or args.results))
    return 0
