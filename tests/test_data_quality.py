"""The data-quality report: what a dataset leaves out or gets wrong reaches the report."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import five_class_card, frame, write_image
from conftest import flat_dataset as dataset

from benchmarks.matrix.build import build_cells
from benchmarks.matrix.preflight import find_problems

pytestmark = pytest.mark.cross_env
CAMERA_OVERLAY = ('source = "boxes"\nframe_width = 240\nframe_height = 320\n'
                  '[[overlay.box]]\nname = "band"\nrows = [0, 43]\ncolumns = [0, 240]')


def test_the_report_names_every_kind_of_left_out_or_doubtful_data(
    tmp_path: Path, tmp_cache: Path
) -> None:
    root = dataset(tmp_path / "data")
    five_class_card(root, overlay=CAMERA_OVERLAY)  # boxes stated for 320x240 frames
    for i in range(4):  # a folder no class maps to
        write_image(root / "fear" / f"f{i}.png", frame(100 + i))
    (root / "notes.txt").write_text("not an image")
    (root / "sad" / "gone.png").symlink_to("nowhere.png")
    os.mkfifo(root / "happy" / "pipe.png")
    shutil.copy(next((root / "angry").glob("*.png")), root / "sad" / "copy.png")
    profile = {"frameworks": ["torch"], "variants": ["baseline"], "seeds": [0],
               "splits": ["random"], "hud": ["masked"],
               "run": {"data": str(root), "image_size": 32}}
    problems, (report,) = find_problems(build_cells(profile))
    assert problems == []
    assert report["unmapped_folders"] == {"fear": 4}
    assert set(report["ignored_files"]) == {
        "notes.txt", "sad/gone.png (broken symlink)", "happy/pipe.png (not a regular file)"
    }
    (duplicate,) = report["duplicates_across_classes"]
    assert duplicate["classes"] == ["angry", "sad"]
    (warning,) = report["hud_warnings"]
    assert "40x30" in warning and "320x240" in warning
    (audit,) = report["splits"].values()
    assert audit["n_val"] > 0 and 0 <= audit["near_duplicate_fraction"] <= 1
