"""Where and how the runs ran: the machines, the nodes of a distributed matrix, the shared
cores, the software versions, and the runs that failed with why."""

import json
from pathlib import Path
from typing import Any

from benchmarks.markdown import md_text
from benchmarks.matrix.records import (
    Row,
    exit_text,
    is_compared,
    warn,
)
from common_data.frameworks import FRAMEWORK_NAMES
from common_data.safe_files import read_json_text


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


