"""Check everything a matrix needs before its first cell starts a framework.

Without this, an undecodable image, a session split on undated frames or an input size the
network cannot take is found inside every cell: each starts a framework, fails and writes a
record. Here the harness does, once per distinct need, what the runners will do (discover the
dataset, decode it or read its cache, build the model spec at the input size, make each split)
and collects every problem, so the user sees all of them at once, one line each, and nothing
is trained or written. The decode also fills the cache the runners then read.
"""

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.markdown import visible_controls
from benchmarks.matrix import data_quality
from benchmarks.matrix.cells import Cell
from benchmarks.matrix.data_quality import QUALITY_FOLDER
from common_data.data import cache, splits
from common_data.data.datasets import open_dataset, preprocess_for
from common_data.data.preprocess import Preprocess
from common_data.errors import BenchError, ConfigError, one_line
from common_data.model.spec import load_spec
from common_data.regimes import has_folds
from common_data.safe_files import read_json_text


def _problem(error: BenchError) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def find_problems(cells: list[Cell]) -> tuple[list[str], list[dict[str, Any]]]:
    """Every problem the cells' runners would hit before training, each named once, and the
    data-quality report of each dataset (see `benchmarks.matrix.data_quality`)."""
    problems: list[str] = []
    reports: list[dict[str, Any]] = []
    seen: set[str] = set()

    def note(text: str) -> None:
        if text not in seen:
            seen.add(text)
            problems.append(text)

    bad_sizes = set()
    for spec_name, size in sorted({(c.config["spec"], c.config["image_size"]) for c in cells}):
        try:
            Preprocess(size=size)
            load_spec(spec_name, image_size=size)
        except BenchError as exc:
            bad_sizes.add(size)
            note(f"--image-size {size}: {_problem(exc)}")
    cells = [c for c in cells if c.config["image_size"] not in bad_sizes]
    by_data: dict[tuple[str, str, str], list[Cell]] = {}
    for cell in cells:
        key = (cell.config["data"], cell.config.get("card", ""), cell.config.get("card_sha256", ""))
        by_data.setdefault(key, []).append(cell)
    for (data, card, card_sha256), data_cells in by_data.items():
        try:
            dataset = open_dataset(data, card, card_sha256)
        except BenchError as exc:
            note(_problem(exc))
            continue
        report = data_quality.new_report(dataset)
        reports.append(report)
        views: dict[tuple[int, str, bool], list[Cell]] = {}
        for cell in data_cells:
            key = (cell.config["image_size"], cell.config["hud"], cell.config["skip_bad"])
            views.setdefault(key, []).append(cell)
        for (size, hud, skip_bad), view_cells in sorted(views.items()):
            try:
                preprocess = preprocess_for(dataset, size, hud)
            except BenchError as exc:
                note(f"--hud {hud} on {dataset.root}: {_problem(exc)}")
                continue
            try:
                images = cache.load(dataset, preprocess, skip_bad=skip_bad)
            except BenchError as exc:
                note(_problem(exc))
                try:  # the good images still show whether the splits would work
                    images = cache.load(dataset, preprocess, skip_bad=True)
                except BenchError:
                    continue
            data_quality.add_view(report, images, dataset.card.overlay_frame if dataset.card
                                  else "")
            for split, fold, seed in sorted(_splits(view_cells)):
                try:
                    made = splits.make_split(images, split, fold=fold, seed=seed)
                except BenchError as exc:
                    where = f"split {split!r}" + (f" fold {fold}" if fold is not None else "")
                    # the data layer's hints name `split`'s flag; compare's is --splits
                    hint = _problem(exc).replace("--split ", "--splits ")
                    note(f"{where} on {dataset.root}: {hint}")
                    continue
                data_quality.add_split(report, made, hud)
    return problems, reports


def _splits(cells: list[Cell]) -> set[tuple[str, Any, int]]:
    return {
        (c.split, c.fold if has_folds(c.split) else None, c.config["split_seed"]) for c in cells
    }


RESULT_FOLDERS = ("runs", "configs", "logs", "failures", QUALITY_FOLDER)


def unwritable(results: Path) -> list[str]:
    """Folders of `results` the matrix will write to but cannot (a run would train, then fail
    to write its record). Missing ones are made later in `results`, which the lock file
    already proved writable."""
    problems = []
    for name in RESULT_FOLDERS:
        folder = results / name
        if not folder.is_dir():
            continue
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            problems.append(f"--results {results}: cannot write in {folder} "
                            f"({exc.strerror or exc}); expected a writable folder")
    return problems


def stale_records(cells: list[Cell], results: Path, reports: list[dict[str, Any]]) -> list[str]:
    """Records a rerun would count as done although the folder they name now holds other
    content: the config (and so the cell) names a folder, not what is in it."""
    current = {report["dataset"]: report["dataset_hash"] for report in reports}
    stale: dict[str, tuple[str, int]] = {}
    for cell in cells:
        try:
            record = json.loads(read_json_text(results / "runs" / f"{cell.run_id}.json",
                                               "result record"))
            made_on = record["data"]["dataset_hash"]
            root = record["data"]["dataset"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # no record, or one without data: the cell reruns anyway
        if root in current and made_on != current[root]:
            stale[root] = (made_on, stale.get(root, ("", 0))[1] + 1)
    return [
        f"{n} records in {results / 'runs'} were made on other content of {root} (dataset hash "
        f"{made_on[:8]}, now {current[root][:8]}): rerun them with --force, or use another "
        f"--results"
        for root, (made_on, n) in stale.items()
    ]


def preflight(cells: list[Cell], results: Path, force: bool = False) -> None:
    """Print every problem on stderr, one `error:` line each, then refuse the matrix; when
    there is none, keep each dataset's data-quality report in `results`."""
    if not cells:
        raise ConfigError("the matrix is empty: expected at least one framework, variant, "
                          "seed, split and HUD mode")
    problems, reports = find_problems(cells)
    problems += unwritable(results)
    if not force:
        problems += stale_records(cells, results, reports)
    if not problems:
        data_quality.save_reports(results, reports)
        for report in reports:  # the runs go ahead, but not without saying what they lack
            for text in data_quality.class_warnings(report):
                print(f"warning: {visible_controls(text)}", file=sys.stderr)
        return
    for line in problems[:-1]:
        print(f"error: {one_line(line)}", file=sys.stderr)
    raise ConfigError(problems[-1] + (
        f" ({len(problems)} problems found before any run started; nothing was trained)"
        if len(problems) > 1 else " (found before any run started; nothing was trained)"
    ))
