"""Overlay help: describe finds burned-in regions where there are some, and none elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from common_data.__main__ import main as data_main
from common_data.data import synthetic as syn
from common_data.data.card import CARD_NAME
from common_data.data.datasets import load_for_run
from common_data.data.discovery import discover
from common_data.data.overlay import find_overlays, overlay_score


def _candidates(data: str | Path) -> list:
    return find_overlays(overlay_score(load_for_run(str(data), 128).images))


def test_the_seed_datasets_colour_bar_and_top_band_are_found(real_data: Path) -> None:
    found = _candidates(real_data)
    bar = [c for c in found if c.left >= 0.75 and c.top < 0.2 and c.bottom > 0.8]
    band = [c for c in found if c.top <= 0.05 and c.bottom <= 0.15]
    assert bar and band, found
    assert all(c.bottom <= 0.15 or c.left >= 0.75 for c in found)  # nothing on the face


@pytest.fixture(scope="module")
def synthetic_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("overlay")
    return (syn.generate(root / "hud", scale=0.3, hud=True),
            syn.generate(root / "plain", scale=0.3, hud=False))


def test_synthetic_with_an_overlay_has_candidates_and_without_none(
    synthetic_pair: tuple[Path, Path], tmp_cache: Path
) -> None:
    with_hud, without = synthetic_pair
    assert any(c.top <= 0.05 for c in _candidates(with_hud))  # the printed top band
    assert _candidates(without) == []


def test_flat_faces_without_an_overlay_have_none(tmp_cache: Path) -> None:
    assert _candidates("synthetic-flat") == []


def test_describe_without_a_card_prints_one_that_loads(
    synthetic_pair: tuple[Path, Path], tmp_cache: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = Path(load_for_run("synthetic-flat", 32).root)
    figure = tmp_path / "overlay.png"
    assert data_main(["describe", "--data", str(root), "--image-size", "32",
                      "--overlay-figure", str(figure)]) == 0
    out = capsys.readouterr().out
    card = out.split("save it as dataset.toml and edit):\n\n", 1)[1]
    assert 'source = "none"  # no region is nearly identical' in card
    assert figure.stat().st_size > 0
    copy = tmp_path / "data"
    copy.mkdir()
    for folder in discover(root).classes:
        (copy / folder).symlink_to(root / folder)
    (copy / CARD_NAME).write_text(card, encoding="utf-8")
    assert discover(copy).card is not None
    assert discover(copy).classes == discover(root).classes
