"""Check everything a matrix needs before its first cell starts a framework.

Without this, an undecodable image, a session split on undated frames or an input size the
network cannot take is found inside every cell: each starts a framework, fails and writes a
record. Here the harness does, once per distinct need, what the runners will do (discover the
dataset, decode it or read its cache, build the model spec at the input size, make each split)
and collects every problem, so the user sees all of them at once, one line each, and nothing
is trained or written. The decode also fills the cache the runners then read.
"""

import sys
from typing import Any

from benchmarks.matrix import Cell
from common_data.errors import BenchError, ConfigError


def _problem(error: BenchError) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def find_problems(cells: list[Cell]) -> list[str]:
    """Every problem the cells' runners would hit before training, each named once."""
    from common_data import cache, discovery, splits
    from common_data.datasets import resolve_data
    from common_data.preprocess import Preprocess
    from common_data.spec import load_spec

    problems: list[str] = []
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
    by_data: dict[str, list[Cell]] = {}
    for cell in cells:
        by_data.setdefault(cell.config["data"], []).append(cell)
    for data, data_cells in by_data.items():
        try:
            dataset = discovery.discover(resolve_data(data))
        except BenchError as exc:
            note(_problem(exc))
            continue
        views: dict[tuple[int, str, bool], list[Cell]] = {}
        for cell in data_cells:
            key = (cell.config["image_size"], cell.config["hud"], cell.config["skip_bad"])
            views.setdefault(key, []).append(cell)
        for (size, hud, skip_bad), view_cells in sorted(views.items()):
            preprocess = Preprocess(size=size, hud=hud)
            try:
                images = cache.load(dataset, preprocess, skip_bad=skip_bad)
            except BenchError as exc:
                note(_problem(exc))
                try:  # the good images still show whether the splits would work
                    images = cache.load(dataset, preprocess, skip_bad=True)
                except BenchError:
                    continue
            for split, fold, seed in sorted(_splits(view_cells)):
                try:
                    splits.make_split(images, split, fold=fold, seed=seed)
                except BenchError as exc:
                    where = f"split {split!r}" + (f" fold {fold}" if fold is not None else "")
                    note(f"{where} on {dataset.root}: {_problem(exc)}")
    return problems


def _splits(cells: list[Cell]) -> set[tuple[str, Any, int]]:
    return {
        (c.split, c.fold if c.split == "loso" else None, c.config["split_seed"]) for c in cells
    }


def preflight(cells: list[Cell]) -> None:
    """Print every problem on stderr, one `error:` line each, then refuse the matrix."""
    if not cells:
        raise ConfigError("the matrix is empty: expected at least one framework, variant, "
                          "seed, split and HUD mode")
    problems = find_problems(cells)
    if not problems:
        return
    for line in problems[:-1]:
        print(f"error: {line}", file=sys.stderr)
    raise ConfigError(problems[-1] + (
        f" ({len(problems)} problems found before any run started; nothing was trained)"
        if len(problems) > 1 else " (found before any run started; nothing was trained)"
    ))
