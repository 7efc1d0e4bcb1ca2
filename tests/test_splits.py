"""Splits: the published random protocol, session hold-outs, LOSO, and the leakage audit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import fake_images

from common_data.data.splits import leakage_audit, make_split
from common_data.errors import BenchError, ConfigError, DataError

LABELS = [0] * 10 + [1] * 7 + [2] * 5 + [3] * 4 + [4] * 3


def _images(labels=LABELS, sessions=None, **kwargs):
    sessions = sessions or ["2024-01-01"] * len(labels)
    return fake_images(labels, sessions, **kwargs)


@pytest.mark.parametrize(
    ("fraction", "seed", "expected_val"),
    [
        # scikit-learn 1.9.1: sorted(train_test_split(np.arange(29), test_size=fraction,
        #                     stratify=LABELS, random_state=seed)[1])
        (0.2, 42, [3, 6, 12, 19, 25, 27]),
        (0.3, 7, [3, 4, 6, 12, 16, 17, 20, 25, 26]),
    ],
)
def test_random_split_matches_scikit_learn(fraction, seed, expected_val):
    split = make_split(_images(), "random", seed=seed, val_fraction=fraction)
    assert split.val.tolist() == expected_val
    assert sorted(split.train.tolist() + split.val.tolist()) == list(range(len(LABELS)))
    assert split.train.dtype == np.int64 and (np.diff(split.train) > 0).all()


def test_random_split_is_stable_and_seeded():
    images = _images()
    a, b = make_split(images, "random"), make_split(images, "random")
    assert a.hash == b.hash and np.array_equal(a.val, b.val)
    assert make_split(images, "random", seed=1).hash != a.hash


def test_hash_changes_with_kind_for_the_same_membership():
    images = _images(sessions=["2024-01-01"] * 20 + ["2024-02-02"] * 9, labels=[0, 1] * 14 + [0])
    loso = make_split(images, "loso", fold=1)
    session = make_split(images, "session")
    assert np.array_equal(loso.val, session.val)
    assert loso.hash != session.hash


def test_session_split_holds_out_the_latest_session_with_every_class():
    labels = [0, 1, 2] * 4
    sessions = ["2024-01-01"] * 3 + ["2024-01-02"] * 3 + ["2024-01-03"] * 3 + ["2024-01-04"] * 3
    labels[9:12] = [0, 0, 1]  # the last day lacks class 2
    split = make_split(_images(labels, sessions), "session")
    assert split.held_out == ("2024-01-03",)
    assert split.val.tolist() == [6, 7, 8]
    described = split.describe()
    assert described["val"]["sessions"] == {"2024-01-03": 3}
    assert described["val"]["classes"]["natural"] == 1


def test_session_split_combines_sessions_when_none_covers_every_class():
    labels = [0, 1, 1, 0]
    sessions = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"]
    split = make_split(_images(labels, sessions), "session")
    # latest first: 01-04 has {0}, adding 01-03 gives {0, 1}
    assert split.held_out == ("2024-01-03", "2024-01-04")


def test_session_split_fails_clearly_when_impossible():
    with pytest.raises(DataError, match=r"only one capture session \(2024-01-01\)"):
        make_split(_images(), "session")
    labels, sessions = [0, 0, 1], ["2024-01-01", "2024-01-02", "2024-01-02"]
    with pytest.raises(DataError, match=r"leaves no training images of happy"):
        make_split(_images(labels, sessions), "session")
    with pytest.raises(DataError, match=r"no capture sessions: .*use --split grouped"):
        make_split(_images([0, 1], ["unknown", "unknown"]), "session")


def test_unknown_sessions_stay_in_training():
    labels = [0, 1, 0, 1, 0, 1]
    sessions = ["unknown", "unknown", "2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02"]
    split = make_split(_images(labels, sessions), "session")
    assert split.held_out == ("2024-01-02",)
    assert {0, 1} <= set(split.train.tolist())


def test_loso_folds_follow_sorted_sessions():
    sessions = ["2024-02-01", "2024-01-01", "2024-03-01"] * 2
    images = _images([0, 0, 0, 1, 1, 1], sessions)
    assert [make_split(images, "loso", fold=k).held_out for k in range(3)] == [
        ("2024-01-01",), ("2024-02-01",), ("2024-03-01",)
    ]
    assert make_split(images, "loso", fold=0).val.tolist() == [1, 4]


@pytest.mark.parametrize(
    ("kind", "fold", "message"),
    [
        ("loso", 3, r"--fold 3 is out of range: expected 0\.\.2 for 3 sessions \(2024-01-01, "),
        ("loso", -2, r"--fold -2 is out of range"),
        ("loso", None, r"--split loso needs --fold K: expected K in 0\.\.2"),
        ("random", 1, r"--fold 1 applies to --split loso only"),
        ("kfold", None, r"split 'kfold' is not valid: expected one of random, session, loso"),
    ],
)
def test_bad_kind_or_fold(kind, fold, message):
    images = _images([0, 1, 0, 1, 0, 1], ["2024-01-01", "2024-02-01", "2024-03-01"] * 2)
    with pytest.raises(ConfigError, match=message):
        make_split(images, kind, fold=fold)


def test_fold_minus_one_means_no_fold_as_in_run_configs():
    assert make_split(_images(), "random", fold=-1).fold is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"val_fraction": 1.5}, r"val_fraction=1.5 is not valid: expected 0 < value < 1"),
        ({"seed": -1}, r"split seed -1 is not valid"),
    ],
)
def test_bad_random_split_arguments(kwargs, message):
    with pytest.raises(BenchError, match=message):
        make_split(_images(), "random", **kwargs)


def test_random_split_needs_two_frames_per_class():
    with pytest.raises(DataError, match=r"class 'happy' has only 1 image"):
        make_split(_images([0, 0, 0, 1]), "random")


def test_leakage_audit_flags_copies_and_not_strangers():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    copies = np.concatenate([base, base])
    images = _images([0] * 20, ["2024-01-01"] * 20, pixels=copies)
    train, val = np.arange(10), np.arange(10, 20)
    leak = leakage_audit(images, train, val)
    assert leak["near_duplicate_fraction"] == 1.0
    brighter = np.concatenate([base, np.clip(base.astype(int) + 30, 0, 255).astype(np.uint8)])
    assert leakage_audit(_images([0] * 20, ["d"] * 20, pixels=brighter), train, val)[
        "near_duplicate_fraction"
    ] >= 0.5  # mean-normalised: a brightness shift is still a copy
    strangers = rng.integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    leak = leakage_audit(_images([0] * 20, ["d"] * 20, pixels=strangers), train, val)
    assert leak["near_duplicate_fraction"] == 0.0
    assert {"threshold", "method", "shared_burst_fraction"} <= set(leak)


def test_shared_burst_fraction_reads_burst_ids():
    bursts = ["a", "a", "b", "b", "c", "d"]
    images = _images([0] * 6, ["d"] * 6, bursts=bursts)
    leak = leakage_audit(images, np.array([0, 2, 4]), np.array([1, 3, 5]))
    assert leak["shared_burst_fraction"] == round(2 / 3, 4)


def test_describe_is_json_with_the_documented_fields():
    info = make_split(_images(), "random").describe()
    json.dumps(info)
    assert {"split", "fold", "hash", "train", "val", "leakage"} <= set(info)
    for side in ("train", "val"):
        assert {"n", "classes", "sessions"} <= set(info[side])
    assert info["train"]["n"] + info["val"]["n"] == len(LABELS)
    assert set(info["leakage"]) >= {"near_duplicate_fraction", "threshold", "method"}


def test_real_random_split_is_the_published_one(real_images_64):
    split = make_split(real_images_64, "random")
    info = split.describe()
    assert (info["train"]["n"], info["val"]["n"]) == (1988, 497)
    assert info["val"]["classes"] == {
        "angry": 102, "happy": 108, "natural": 108, "sad": 91, "surprise": 88,
    }


def test_real_session_split_holds_out_2024_03_03(real_images_64):
    info = make_split(real_images_64, "session").describe()
    assert info["held_out_sessions"] == ["2024-03-03"]
    assert info["val"]["sessions"] == {"2024-03-03": 455}
    assert all(n > 80 for n in info["val"]["classes"].values())
    assert "2024-03-03" not in info["train"]["sessions"]


def test_real_leakage_random_clearly_above_session(real_images_64):
    random_leak = make_split(real_images_64, "random").leakage
    session_leak = make_split(real_images_64, "session").leakage
    assert random_leak["near_duplicate_fraction"] >= 0.08
    assert session_leak["near_duplicate_fraction"] <= 0.04
    assert random_leak["near_duplicate_fraction"] >= 3 * session_leak["near_duplicate_fraction"]
    assert random_leak["shared_burst_fraction"] > 0.95
    assert session_leak["shared_burst_fraction"] == 0.0


def _bursts(n_bursts: int = 40, per_burst: int = 4):
    """Bursts of near-copies (one base frame plus a little noise), five classes in turn; the
    bursts are not marked in the records, as in a dataset without capture times."""
    rng = np.random.default_rng(3)
    pixels, labels = [], []
    for b in range(n_bursts):
        base = rng.integers(40, 216, (16, 16, 3))
        for _ in range(per_burst):
            pixels.append(np.clip(base + rng.integers(-3, 4, base.shape), 0, 255))
            labels.append(b % 5)
    n = len(labels)
    return fake_images(labels, ["unknown"] * n, pixels=np.array(pixels, dtype=np.uint8))


def test_grouped_split_keeps_every_burst_on_one_side_and_leaks_nothing():
    images = _bursts()
    random = make_split(images, "random")
    assert random.leakage["near_duplicate_fraction"] > 0.5  # the random split leaks
    grouped = make_split(images, "grouped", seed=0)
    assert grouped.leakage["near_duplicate_fraction"] == 0.0  # by construction
    burst_of = np.arange(len(images)) // 4
    assert not set(burst_of[grouped.train]) & set(burst_of[grouped.val])
    assert len(grouped.val) == 32  # one fold of five: 8 of 40 bursts
    assert set(images.labels[grouped.val]) == set(images.labels[grouped.train]) == set(range(5))
    assert make_split(images, "grouped", seed=0).hash == grouped.hash
    assert make_split(images, "grouped", seed=1).hash != grouped.hash


def test_grouped_split_refuses_too_few_groups():
    images = _bursts(n_bursts=3, per_burst=5)
    with pytest.raises(DataError, match=r"only 3 groups of near-copies in 15 frames"):
        make_split(images, "grouped")


def test_real_grouped_split_leaks_nothing(real_images_64):
    grouped = make_split(real_images_64, "grouped")
    assert grouped.leakage["near_duplicate_fraction"] == 0.0
    assert 0.1 < len(grouped.val) / len(real_images_64) < 0.3
