"""Dataset cards: the seed dataset's quirks live in its card and still give today's bytes."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import PROJECT_ROOT
from conftest import flat_dataset as dataset

from common_data.data import synthetic as syn
from common_data.data.cache import cache_key
from common_data.data.card import CARD_NAME, SHIPPED_CARDS, load_card
from common_data.data.datasets import preprocess_for
from common_data.data.discovery import discover

SEED_CARD = SHIPPED_CARDS / "facial-emotion.toml"
RUNS = PROJECT_ROOT / "results" / "runs"

# The HUD boxes as the preprocessing had them in code before the card existed: fractions of
# the 240x320 frame. The cache keys of every committed masked / hud_only record hash these.
LEGACY_BOXES = [
    {"name": "top_band", "top": 0 / 320, "bottom": 43 / 320, "left": 0.0, "right": 1.0,
     "keep_in_hud_only": True},
    {"name": "colour_bar", "top": 45 / 320, "bottom": 291 / 320, "left": 188 / 240,
     "right": 1.0, "keep_in_hud_only": True},
    {"name": "cross_hair", "top": 144 / 320, "bottom": 176 / 320, "left": 104 / 240,
     "right": 136 / 240, "keep_in_hud_only": False},
]


def test_seed_card_boxes_are_the_legacy_boxes_to_the_last_bit() -> None:
    card = load_card(SEED_CARD)
    assert [asdict(box) for box in card.overlay] == LEGACY_BOXES
    assert card.classes == ("angry", "happy", "natural", "sad", "surprise")
    assert card.class_of("surpise") == "surprise"


def _committed(hud: str) -> dict:
    for path in sorted(RUNS.glob(f"*-{hud}-*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("data", {}).get("dataset_hash") == load_card(SEED_CARD).content_hash:
            return record
    pytest.skip(f"no committed {hud} record of the real dataset")


@pytest.mark.parametrize("hud", ["full", "masked", "hud_only"])
def test_real_dataset_is_found_by_hash_and_preprocessed_as_before(real_data: Path,
                                                                  hud: str) -> None:
    """The shipped card is found by content hash; labels, dataset hash and the cache key (which
    hashes every preprocessing choice and every file) equal a committed record's."""
    record = _committed(hud)
    ds = discover(real_data)
    assert ds.card is not None and ds.card.path == SEED_CARD
    assert ds.hash() == record["data"]["dataset_hash"]
    assert len({r.burst for r in ds.records}) == 273
    assert len({r.session for r in ds.records}) == 5
    preprocess = preprocess_for(ds, record["data"]["image_size"], hud)
    assert cache_key(ds, preprocess) == record["data"]["cache_key"]


def test_without_a_card_classes_are_the_folder_names(tmp_path: Path, tmp_cache: Path) -> None:
    root = dataset(tmp_path / "d", per_class=2, dated=False)
    (root / "fear").mkdir()
    next((root / "angry").glob("*.png")).rename(root / "fear" / "x.png")
    ds = discover(root)
    assert ds.card is None
    assert ds.classes == ("angry", "fear", "happy", "natural", "sad", "surprise")
    assert {r.session for r in ds.records} == {"unknown"}


def test_a_folder_card_sets_classes_aliases_and_unknown_folders(tmp_path: Path,
                                                                 tmp_cache: Path) -> None:
    root = dataset(tmp_path / "d", per_class=2)
    (root / "surprise").rename(root / "shock")
    (root / CARD_NAME).write_text(
        '[dataset]\nname = "mine"\n'
        '[classes]\nnames = ["sad", "happy", "angry", "surprise"]\n'
        '[classes.aliases]\nshock = "surprise"\n'
        '[sessions]\nsource = "none"\n[overlay]\nsource = "none"\n', encoding="utf-8")
    ds = discover(root)
    assert ds.classes == ("sad", "happy", "angry", "surprise")  # the card's order
    assert ds.unknown_folders == {"natural": 2}
    assert {r.label for r in ds.records if r.folder == "shock"} == {"surprise"}
    assert {r.session for r in ds.records} == {"unknown"}  # the card says: no sessions
    assert CARD_NAME not in ds.ignored_files


def test_a_manifest_card_gives_sessions_and_subject_bursts(tmp_path: Path,
                                                           tmp_cache: Path) -> None:
    root = dataset(tmp_path / "d", per_class=2, dated=False)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    rows = [f"{f},day{n % 2},s{n % 3}" for n, f in enumerate(files)]
    (root / "sessions.csv").write_text("file,session,subject\n" + "\n".join(rows) + "\n")
    (root / CARD_NAME).write_text(
        '[dataset]\nname = "m"\n[classes]\nnames = ["angry", "happy", "natural", "sad", '
        '"surprise"]\n[sessions]\nsource = "manifest"\nmanifest = "sessions.csv"\n'
        '[overlay]\nsource = "none"\n', encoding="utf-8")
    ds = discover(root)
    assert {r.session for r in ds.records} == {"day0", "day1"}
    by_path = {r.rel_path: r for r in ds.records}
    assert by_path[files[0]].burst == f"day0/{by_path[files[0]].label}/-/s0"


def test_synthetic_folders_carry_their_card(tmp_path: Path, tmp_cache: Path) -> None:
    with_hud = syn.generate(tmp_path / "hud", scale=0.1, hud=True)
    without = syn.generate(tmp_path / "plain", scale=0.1, hud=False)
    ds = discover(with_hud)
    assert ds.card is not None and [b.name for b in ds.card.overlay] == [
        "top_band", "colour_bar", "cross_hair"]
    assert discover(without).card.overlay == ()
    assert len({r.session for r in ds.records}) == 5


def _cells_with_card(data: Path, card: Path) -> list:
    import argparse

    from benchmarks.cli.args import add_matrix_arguments, apply_overrides
    from benchmarks.matrix.build import build_cells

    parser = argparse.ArgumentParser()
    add_matrix_arguments(parser, default_profile="quick")
    args = parser.parse_args(["--data", str(data), "--card", str(card), "--frameworks", "torch",
                              "--seeds", "0", "--variants", "baseline", "--splits", "random",
                              "--hud", "full", "--no-probe"])
    return build_cells(apply_overrides({"frameworks": ["torch"], "variants": ["baseline"],
                                        "seeds": [0], "splits": ["random"], "hud": ["full"]},
                                       args))


def test_a_card_given_by_flag_labels_the_runs_and_an_edit_makes_new_ones(
        tmp_path: Path, tmp_cache: Path) -> None:
    from common_data.errors import ConfigError
    from common_data.run.config import load_run_config
    from common_data.run.inputs import run_dataset

    root = dataset(tmp_path / "d", per_class=2, dated=False)
    card = tmp_path / "elsewhere.toml"
    card.write_text('[dataset]\nname = "mine"\n[classes]\nnames = ["sad", "happy", "shocked"]\n'
                    '[classes.aliases]\nsurprise = "shocked"\n'
                    '[sessions]\nsource = "none"\n[overlay]\nsource = "none"\n')
    (cell,) = _cells_with_card(root, card)
    assert cell.config["card"] == str(card.resolve())
    dataset_seen = run_dataset(load_run_config(cell.config))  # what the twin's run reads
    assert dataset_seen.classes == ("sad", "happy", "shocked")
    assert {r.label for r in dataset_seen.records if r.folder == "surprise"} == {"shocked"}

    card.write_text(card.read_text().replace('"shocked"]', '"shocked", "natural"]'))
    with pytest.raises(ConfigError, match="changed after the runs were planned"):
        run_dataset(load_run_config(cell.config))  # a planned run never reads the edited card
    (replanned,) = _cells_with_card(root, card)
    assert replanned.config_hash != cell.config_hash
    assert run_dataset(load_run_config(replanned.config)).classes[-1] == "natural"


def test_a_missing_card_flag_file_is_one_line(tmp_path: Path, tmp_cache: Path) -> None:
    from common_data.errors import ConfigError

    root = dataset(tmp_path / "d", per_class=1, dated=False)
    with pytest.raises(ConfigError) as caught:
        _cells_with_card(root, tmp_path / "nope.toml")
    assert str(caught.value).startswith(f"--card {tmp_path / 'nope.toml'}: no such file")
