"""Discovery: layouts, aliases, sessions and bursts, hashing, and one-line errors."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from conftest import five_class_card, frame, stamp, write_image

from common_data.data import discovery, hash_index
from common_data.data.discovery import discover
from common_data.errors import DataError


def test_flat_layout_with_mixed_case_extensions(make_dataset, tmp_cache):
    root = make_dataset(folders=["angry", "happy"], per_folder=1)
    write_image(root / "angry" / "x1.JPG", frame(90))
    write_image(root / "angry" / "x2.jpeg", frame(91))
    write_image(root / "happy" / "x3.Bmp", frame(92))
    write_image(root / "happy" / "x4.PNG", frame(93))
    ds = discover(root)
    assert ds.layout == "flat"
    assert len(ds.records) == 6
    assert all(r.palette is None for r in ds.records)
    assert [r.rel_path for r in ds.records] == sorted(r.rel_path for r in ds.records)


def test_nested_layout_records_palette_and_the_cards_label(make_dataset, tmp_cache):
    root = make_dataset(folders=["surpise", "natural"], palettes=["Red Hot", "IRON"])
    assert {r.label for r in discover(root).records} == {"surpise", "natural"}  # no card
    five_class_card(root, surpise="surprise")
    ds = discover(root)
    assert ds.layout == "nested"
    rec = next(r for r in ds.records if r.folder == "surpise")
    assert rec.label == "surprise"
    assert rec.palette in {"Red Hot", "IRON"}
    assert rec.rel_path.startswith("surpise/")
    assert rec.path == ds.root / rec.rel_path
    assert ds.classes.index(rec.label) == 4


def test_user_aliases_extend_the_card(make_dataset, tmp_cache):
    root = make_dataset(folders=["joyful", "sad"])
    five_class_card(root)
    assert discover(root).unknown_folders == {"joyful": 3}
    ds = discover(root, aliases={"joyful": "happy"})
    assert {r.label for r in ds.records} == {"happy", "sad"}
    assert ds.unknown_folders == {}


def test_unknown_folder_is_reported_not_dropped_silently(make_dataset, tmp_cache):
    root = make_dataset(folders=["angry", "happy", "disgust"], per_folder=2)
    five_class_card(root)
    ds = discover(root)
    assert ds.unknown_folders == {"disgust": 2}
    assert {r.label for r in ds.records} == {"angry", "happy"}


def test_two_folders_for_one_class_are_not_merged(make_dataset, tmp_cache):
    root = make_dataset(folders=["sad", "sadness"])
    five_class_card(root, sadness="sad")
    with pytest.raises(DataError, match=r"'sad' and 'sadness' in .* both map to class 'sad'"):
        discover(root)


def test_non_image_files_are_listed_as_ignored(make_dataset, tmp_cache):
    root = make_dataset(folders=["angry"], per_folder=1)
    (root / "angry" / "notes.txt").write_text("hello")
    (root / "README.md").write_text("hi")
    (root / "angry" / ".DS_Store").write_bytes(b"\0")
    ds = discover(root)
    assert ds.ignored_files == ["README.md", "angry/notes.txt"]
    assert len(ds.records) == 1


def test_capture_time_session_and_bursts(tmp_path, tmp_cache):
    root = tmp_path / "d"
    for offset in (0, 5, 10, 200, 203):  # a 190 s gap starts a new burst
        write_image(root / "happy" / f"{stamp(offset)}.png", frame(offset))
    write_image(root / "happy" / "portrait.png", frame(1))  # no capture time
    write_image(root / "happy" / "img20241399_250000.png", frame(2))  # impossible date
    ds = discover(root, burst_gap_s=90)
    by_name = {Path(r.rel_path).name: r for r in ds.records}
    first = by_name[f"{stamp(0)}.png"]
    assert first.captured_at.isoformat() == "2024-03-03T10:00:00"
    assert first.session == "2024-03-03"
    bursts = [by_name[f"{stamp(o)}.png"].burst for o in (0, 5, 10, 200, 203)]
    assert bursts[:3] == ["2024-03-03/happy/-/0"] * 3
    assert bursts[3:] == ["2024-03-03/happy/-/1"] * 2
    for name in ("portrait.png", "img20241399_250000.png"):
        assert by_name[name].session == "unknown"
        assert by_name[name].captured_at is None
    assert by_name["portrait.png"].burst != by_name["img20241399_250000.png"].burst
    # 4 s: gaps of 5 s now split too; 4 timed bursts plus one per untimed frame
    assert len({r.burst for r in discover(root, burst_gap_s=4).records}) == 6


def test_sha256_is_of_file_bytes_and_dataset_hash_tracks_content(make_dataset, tmp_cache):
    root = make_dataset(folders=["angry", "happy"], per_folder=2)
    ds = discover(root)
    rec = ds.records[0]
    assert rec.sha256 == hashlib.sha256(rec.path.read_bytes()).hexdigest()
    write_image(rec.path, frame(1234))
    ds2 = discover(root)
    assert ds2.records[0].sha256 == hashlib.sha256(rec.path.read_bytes()).hexdigest()
    assert ds2.hash() != ds.hash()


def test_hash_index_avoids_rehashing_unchanged_files(make_dataset, tmp_cache, monkeypatch):
    root = make_dataset(folders=["angry", "happy"], per_folder=2)
    first = discover(root)
    assert list((tmp_cache / "hash-index").glob("*.json"))
    read: list[str] = []
    real = hash_index.sha256_file

    def counting(item):
        read.append(item.rel_path)
        return real(item)

    monkeypatch.setattr(hash_index, "sha256_file", counting)
    assert discover(root).hash() == first.hash()
    assert read == []
    changed = first.records[1]
    changed.path.write_bytes(changed.path.read_bytes() + b"\0")
    os.utime(changed.path, ns=(1, 1))
    discover(root)
    assert read == [changed.rel_path]


def test_missing_path(tmp_path, tmp_cache):
    with pytest.raises(DataError, match=r"does not exist: expected a folder of <emotion>"):
        discover(tmp_path / "nope")


def test_path_is_a_file(tmp_path, tmp_cache):
    path = write_image(tmp_path / "a.png", frame(0))
    with pytest.raises(DataError, match=r"a\.png is a file: expected a folder"):
        discover(path)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_class_folders", r"no class folders in .*found folders: cats, dogs"),
        ("mixed_layout", r"mixed layout in .*'angry' holds images directly but 'happy'"),
        ("images_and_folders", r"angry: it holds both images and folders"),
        ("stray_image", r"image 'stray.png' lies beside the class folders"),
        ("too_deep", r"nested too deep"),
        ("empty_class", r"class folder .*sad holds no images: expected at least one"),
        ("empty_palette", r"palette folder .*happy/IRON holds no images"),
        ("no_images", r"no images found under .*: expected .bmp, .jpeg, .jpg, .png, .webp files"),
    ],
)
def test_layout_errors_are_one_clear_line(tmp_path, tmp_cache, setup, message):
    root = tmp_path / "d"
    png = frame(0)
    if setup == "no_class_folders":
        five_class_card(root)
        write_image(root / "cats" / "a.png", png)
        write_image(root / "dogs" / "a.png", png)
    elif setup == "mixed_layout":
        write_image(root / "angry" / "a.png", png)
        write_image(root / "happy" / "IRON" / "a.png", png)
    elif setup == "images_and_folders":
        write_image(root / "angry" / "a.png", png)
        write_image(root / "angry" / "IRON" / "a.png", png)
    elif setup == "stray_image":
        write_image(root / "angry" / "a.png", png)
        write_image(root / "stray.png", png)
    elif setup == "too_deep":
        write_image(root / "angry" / "IRON" / "x" / "a.png", png)
    elif setup == "empty_class":
        write_image(root / "angry" / "a.png", png)
        (root / "sad").mkdir()
    elif setup == "empty_palette":
        write_image(root / "happy" / "RAINBOW" / "a.png", png)
        (root / "happy" / "IRON").mkdir()
    elif setup == "no_images":
        (root / "angry").mkdir(parents=True)
        (root / "angry" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match=message) as err:
        discover(root)
    assert "\n" not in str(err.value)


def test_real_dataset_structure(real_data):
    ds = discover(real_data)
    summary = discovery.summarize(ds.records, ds.classes)
    assert ds.layout == "nested"
    assert len(ds.records) == 2485
    assert summary["classes"] == {
        "angry": 509, "happy": 538, "natural": 541, "sad": 457, "surprise": 440,
    }
    assert {r.folder for r in ds.records if r.label == "surprise"} == {"surpise"}
    assert set(summary["palettes"]) == {
        "ICEBLUE", "IRNBOW", "IRON", "RAINBOW", "Red Hot", "White Hot",
    }
    assert summary["sessions"] == {
        "2023-11-26": 723, "2023-12-03": 590, "2023-12-05": 636,
        "2023-12-10": 81, "2024-03-03": 455,
    }
    assert summary["bursts"] == 273
    assert ds.unknown_folders == {} and ds.ignored_files == []


def test_real_dataset_hashes_match_published_checksums(real_data):
    listing = real_data.parent / "facial-emotion.sha256"
    if not listing.exists():
        pytest.skip("facial-emotion.sha256 not present")
    published = {}
    for line in listing.read_text().splitlines():
        digest, name = line.split("  ", 1)
        published[name.removeprefix("./")] = digest
    assert {r.rel_path: r.sha256 for r in discover(real_data).records} == published
