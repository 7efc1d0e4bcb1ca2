"""The training set a run learns from (common_data/data/training_set.py): the palette finding
compares arms that must differ only in what they train on, so the subsample is fixed by the
seed, every arm gets the same number of frames and the same validation frames, luminance
leaves no hue, and the committed runs keep their identities under the new keys."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from benchmarks.matrix.records import protocol_of
from common_data.data.training_set import (
    frame_palettes,
    luminance,
    stratified_subsample,
)
from common_data.errors import ConfigError
from common_data.run.config import load_run_config
from common_data.run.inputs import load_run_data, run_images

RUNS = Path(__file__).resolve().parent.parent / "results" / "runs"
SIZE = 32   # the embedded synthetic set, decoded once at this size for the whole module


@pytest.fixture(scope="module")
def images():
    return run_images(load_run_config({"data": "synthetic", "image_size": SIZE}))


def _run(images, **overrides):
    config = load_run_config({"data": "synthetic", "image_size": SIZE, **overrides})
    return load_run_data(config, images)


def test_the_subsample_is_fixed_by_the_seed(images) -> None:
    _, first = _run(images, train_palettes=["RAINBOW"], train_frames=40, seed=1)
    _, again = _run(images, train_palettes=["RAINBOW"], train_frames=40, seed=1)
    _, other = _run(images, train_palettes=["RAINBOW"], train_frames=40, seed=2)
    _, split = _run(images)
    assert np.array_equal(first.train, again.train)
    assert not np.array_equal(first.train, other.train)
    assert set(first.train) <= set(split.train)
    assert set(frame_palettes(images, first.train)) == {"RAINBOW"}


def test_both_twins_train_on_the_same_frames_and_pixels(images) -> None:
    chosen = {"train_palettes": ["ICEBLUE", "Red Hot"], "train_frames": 50, "colour": "luminance"}
    torch_images, torch_split = _run(images, framework="torch", **chosen)
    tf_images, tf_split = _run(images, framework="tf", **chosen)
    assert np.array_equal(torch_split.train, tf_split.train)
    assert np.array_equal(torch_images.images, tf_images.images)


def test_arms_train_on_equal_frame_counts_and_score_on_the_same_frames(images) -> None:
    arms = [{}, {"train_palettes": ["RAINBOW"]}, {"colour": "luminance"},
            {"train_palettes": ["ICEBLUE", "IRNBOW", "IRON", "RAINBOW", "White Hot"]}]
    splits = [_run(images, train_frames=60, **arm)[1] for arm in arms]
    _, untouched = _run(images)
    assert [len(s.train) for s in splits] == [60] * len(arms)
    for split in splits:
        assert np.array_equal(split.val, untouched.val)
        assert split.hash == untouched.hash
    # stratified: each class keeps its share of the pool, within one frame
    pool = Counter(images.labels[untouched.train])
    taken = Counter(images.labels[splits[0].train])
    for label, count in pool.items():
        assert abs(taken[label] - 60 * count / len(untouched.train)) < 1


def test_stratified_subsample_allocates_by_largest_remainder() -> None:
    labels = np.array([0] * 5 + [1] * 3 + [2] * 2)
    picked = stratified_subsample(np.arange(10), labels, 5, seed=0)
    assert len(picked) == 5 and len(set(picked)) == 5
    assert Counter(labels[picked]) == {0: 3, 1: 1, 2: 1}   # 2.5, 1.5, 1.0: ties to class 0


def test_luminance_has_identical_channels_and_no_hue() -> None:
    # BT.601 weights: these three colours have the same luma (0.299*R + 0.587*G + 0.114*B),
    # so the grey image cannot tell which palette drew them.
    pixels = np.array([[[0, 170, 0], [200, 49, 100], [100, 100, 100]]], dtype=np.uint8)
    grey = luminance(pixels)
    assert grey.dtype == np.uint8 and grey.shape == pixels.shape
    assert (grey == grey[..., :1]).all()
    assert len(np.unique(grey)) == 1
    assert luminance(np.array([[255, 0, 0]], dtype=np.uint8))[0, 0] == 76


def test_a_luminance_run_sees_grey_frames_on_both_sides(images) -> None:
    grey, split = _run(images, colour="luminance")
    assert (grey.images == grey.images[..., :1]).all()
    assert not (images.images[..., 0] == images.images[..., 2]).all()   # the source had colour
    assert split.images is grey


@pytest.mark.parametrize("overrides, message", [
    ({"train_palettes": ["MAGENTA"]}, "train_palettes names 'MAGENTA', not a palette folder"),
    ({"train_palettes": ["RAINBOW"], "train_frames": 100000},
     "train_frames 100000, but the random split has only"),
])
def test_a_selection_the_data_cannot_give_is_one_line(images, overrides, message) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _run(images, **overrides)
    assert "\n" not in str(caught.value)


def test_palettes_on_a_dataset_without_palette_folders_are_refused() -> None:
    config = load_run_config({"data": "synthetic-flat", "image_size": SIZE,
                              "train_palettes": ["RAINBOW"]})
    with pytest.raises(ConfigError, match="has no palette folders") as caught:
        load_run_data(config)
    assert "\n" not in str(caught.value)


def test_committed_runs_keep_their_config_hashes() -> None:
    """The new keys at their defaults leave every committed run's identity as it was."""
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(RUNS.glob("*.json"))]
    assert len(records) >= 100
    for record in records:
        config = {"dropout": "framework", **record["config"]}   # runs from before that key
        assert load_run_config(config).hash() == record["config_hash"], record["run_id"]


def test_the_new_keys_change_a_run_s_identity_and_palette_order_does_not() -> None:
    base = load_run_config({}).hash()
    one = load_run_config({"train_palettes": ["Red Hot", "ICEBLUE"]})
    assert one.hash() != base
    assert one.hash() == load_run_config({"train_palettes": ["ICEBLUE", "Red Hot"]}).hash()
    assert load_run_config({"train_frames": 10}).hash() != base
    assert load_run_config({"colour": "luminance"}).hash() != base
    with pytest.raises(ConfigError, match="'colour' must be 'rgb' or 'luminance'"):
        load_run_config({"colour": "grey"})
    with pytest.raises(ConfigError, match="'train_palettes' must be a list of distinct"):
        load_run_config({"train_palettes": ["RAINBOW", "RAINBOW"]})


def test_runs_made_after_the_new_keys_share_the_rows_of_earlier_runs() -> None:
    """A new run of a committed setting reports in the same row as the committed seeds; a
    palette run does not."""
    record = json.loads(next(RUNS.glob("*-baseline-random-full-64px-*.json")).read_text())
    assert "train_frames" not in record["config"]
    fresh = {**record, "config": {**record["config"], "train_palettes": [], "train_frames": 0,
                                  "colour": "rgb"}}
    palette = {**record, "config": {**record["config"], "train_frames": 420}}
    assert protocol_of(fresh) == protocol_of(record)
    assert protocol_of(palette) != protocol_of(record)
