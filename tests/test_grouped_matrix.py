"""Data without capture sessions: the default matrix's leakage-safe split is the grouped one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import flat_dataset as dataset

from benchmarks.matrix.build import build_cells
from benchmarks.matrix.preflight import find_problems

pytestmark = pytest.mark.cross_env


def _profile(root: Path) -> dict:
    return {"frameworks": ["torch"], "variants": ["baseline"], "seeds": [0],
            "splits": ["random", "session"], "hud": ["full"],
            "run": {"data": str(root), "image_size": 32}}


def test_undated_data_gets_the_grouped_split_in_place_of_the_session_split(
    tmp_path: Path, tmp_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = dataset(tmp_path / "data", per_class=6, dated=False)
    cells = build_cells(_profile(root), frozenset({"splits", "hud"}))
    assert [c.split for c in cells] == ["random", "grouped"]
    assert "grouped split" in capsys.readouterr().err
    problems, _ = find_problems(cells)
    assert problems == []


def test_an_explicit_session_split_is_refused_with_compares_flag_in_the_hint(
    tmp_path: Path, tmp_cache: Path
) -> None:
    root = dataset(tmp_path / "data", per_class=6, dated=False)
    cells = build_cells(_profile(root))
    assert [c.split for c in cells] == ["random", "session"]
    problems, _ = find_problems(cells)
    (problem,) = problems
    assert "use --splits grouped" in problem and "--split " not in problem


def test_dated_data_keeps_its_session_split(
    make_dataset: Callable[..., Path], tmp_cache: Path
) -> None:
    profile = _profile(make_dataset(per_folder=3, days=2))
    cells = build_cells(profile, frozenset({"splits", "hud"}))
    assert [c.split for c in cells] == ["random", "session"]


def test_data_without_an_overlay_runs_no_overlay_regime(
    tmp_path: Path, tmp_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = dataset(tmp_path / "data", per_class=6, dated=False)
    profile = dict(_profile(root), hud=["full", "masked"],
                   probe={"split": "random", "hud": "hud_only", "variant": "baseline"})
    cells = build_cells(profile, frozenset({"splits", "hud"}))
    assert {c.hud for c in cells} == {"full"}
    assert "declares no overlay, so the masked and HUD-only regimes are skipped" in (
        capsys.readouterr().err)
    assert find_problems(cells)[0] == []
    # asked for by flag, the regime is refused with one line naming what is missing
    cells = build_cells(dict(_profile(root), hud=["masked"]), frozenset({"splits"}))
    (problem,) = find_problems(cells)[0]
    assert "needs overlay regions, but the dataset card declares none" in problem
