"""`python -m common_data` as a user runs it: output, digests, and one-line errors (exit 2)."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from conftest import five_class_card, frame, run_cli, write_image

from common_data.data.batches import iterate_batches
from common_data.data.datasets import load_for_run, resolve_data
from common_data.data.splits import make_split
from common_data.errors import DataError


def _one_line_error(result, *fragments: str) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def two_day_dataset(make_dataset, tmp_cache):
    return make_dataset(palettes=["IRON", "Red Hot"], per_folder=2, days=2)


def test_describe_json(two_day_dataset):
    result = run_cli("describe", "--data", str(two_day_dataset), "--json", "--image-size", "16")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["layout"] == "nested" and info["n_images"] == 40
    assert info["classes"] == dict.fromkeys(["angry", "happy", "natural", "sad", "surprise"], 8)
    assert info["palettes"] == {"IRON": 20, "Red Hot": 20}
    assert info["sessions"] == {"2024-03-03": 20, "2024-03-04": 20}
    assert info["bad_files"] == [] and info["unknown_folders"] == {}
    assert re.fullmatch(r"[0-9a-f]{64}", info["dataset_hash"])


def test_describe_table_lists_unknown_folders_and_bad_files(make_dataset, tmp_cache):
    root = make_dataset(folders=["angry", "happy", "disgust"], per_folder=2)
    five_class_card(root)
    (root / "happy" / "broken.png").write_bytes(b"not a png")
    result = run_cli("describe", "--data", str(root), "--skip-bad", "--image-size", "16")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "layout flat" in out and "images    4 of 5 files" in out
    assert "unknown folders (not used):\n  disgust (2 files)" in out
    assert "bad files (skipped):" in out and "broken.png: OpenCV cannot decode it" in out
    assert re.search(r"^session\s+angry\s+happy\s+natural\s+sad\s+surprise\s+total$", out, re.M)


def test_split_json(two_day_dataset):
    result = run_cli("split", "--data", str(two_day_dataset), "--split", "session", "--json",
                     "--image-size", "16")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["split"] == "session" and info["held_out_sessions"] == ["2024-03-04"]
    assert info["train"]["n"] == info["val"]["n"] == 20
    assert info["leakage"]["shared_burst_fraction"] == 0.0


def test_digest_last_line_is_the_sha256_of_every_batch(two_day_dataset):
    args = ["digest", "--data", str(two_day_dataset), "--split", "random", "--epochs", "2",
            "--seed", "3", "--batch-size", "8", "--image-size", "16", "--augment"]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 0: 4 batches of 32 training frames")
    images = load_for_run(str(two_day_dataset), image_size=16)
    split = make_split(images, "random")
    digest = hashlib.sha256()
    for epoch in range(2):
        for x, y in iterate_batches(images.images, images.labels, split.train, batch_size=8,
                                    seed=3, epoch=epoch, shuffle=True, augment=True):
            digest.update(x.tobytes())
            digest.update(y.tobytes())
    assert lines[-1] == digest.hexdigest()
    assert run_cli(*args).stdout == result.stdout
    plain = run_cli(*[a for a in args if a != "--augment"])
    assert plain.stdout.strip().splitlines()[-1] != lines[-1]


def test_bad_data_errors_are_one_line(tmp_path, make_dataset, tmp_cache):
    missing = tmp_path / "missing"
    _one_line_error(run_cli("describe", "--data", str(missing)), str(missing), "does not exist")
    file = write_image(tmp_path / "f.png", frame(0))
    _one_line_error(run_cli("describe", "--data", str(file)), "is a file")

    unknown = tmp_path / "unknown"
    write_image(unknown / "cats" / "a.png", frame(1))
    five_class_card(unknown)
    _one_line_error(run_cli("describe", "--data", str(unknown)), "no class folders", "cats")

    empty = make_dataset(folders=["angry"], per_folder=1, name="empty")
    (empty / "sad").mkdir()
    _one_line_error(run_cli("describe", "--data", str(empty)), "sad holds no images")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty (0 bytes)"),
        (b"hello, I am text", "OpenCV cannot decode it"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "OpenCV cannot decode it"),
    ],
    ids=["zero-byte", "text", "truncated"],
)
def test_bad_file_via_cli_is_one_line_and_skippable(make_dataset, tmp_cache, content, reason):
    root = make_dataset(folders=["angry", "happy"], per_folder=2)
    bad = root / "happy" / "bad.png"
    bad.write_bytes(content)
    _one_line_error(run_cli("describe", "--data", str(root), "--image-size", "16"),
                    f"cannot decode image file {bad}: {reason}", "--skip-bad")
    ok = run_cli("describe", "--data", str(root), "--image-size", "16", "--skip-bad", "--json")
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == ""
    info = json.loads(ok.stdout)
    assert [b["path"] for b in info["bad_files"]] == [str(bad)]
    assert info["bad_files"][0]["reason"].startswith(reason)
    assert info["n_images"] == 4


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["split", "--split", "loso", "--fold", "7"], ["--fold 7 is out of range", "0..1"]),
        (["split", "--split", "loso"], ["--split loso needs --fold K"]),
        (["split", "--split", "shuffle"], ["--split: invalid choice: 'shuffle'"]),
        (["split", "--split", "random", "--image-size", "0"], ["image size 0 is not valid"]),
        (["split", "--split", "random", "--hud", "off"], ["--hud: invalid choice: 'off'"]),
        (["digest", "--split", "random", "--epochs", "1", "--seed", "0", "--batch-size", "0"],
         ["batch_size=0 is not valid"]),
        (["digest", "--split", "random", "--epochs", "0", "--seed", "0"],
         ["--epochs 0 is not valid"]),
        (["digest", "--split", "random", "--epochs", "1"],
         ["the following arguments are required"]),
        (["describe", "--bogus"], ["unrecognized arguments: --bogus"]),
    ],
)
def test_bad_flags_are_one_line(two_day_dataset, args, fragments):
    result = run_cli(args[0], "--data", str(two_day_dataset), *args[1:])
    _one_line_error(result, *fragments)


def test_resolve_data(tmp_path):
    assert resolve_data(str(tmp_path)) == tmp_path.resolve()
    with pytest.raises(DataError, match=r"--data '.*nope' does not exist: expected 'synthetic'"):
        resolve_data(str(tmp_path / "nope"))


def test_real_describe_via_cli(real_data, real_images_64):
    result = run_cli("describe", "--data", str(real_data), "--json", "--image-size", "64")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["n_images"] == 2485 and len(info["classes"]) == 5
    assert info["classes"]["surprise"] == 440 and info["folders"]["surpise"] == "surprise"
    assert len(info["palettes"]) == 6 and len(info["sessions"]) == 5
    assert info["bad_files"] == [] and info["unknown_folders"] == {}


def test_real_digest_is_reproducible(real_data, real_images_64):
    args = ["digest", "--data", str(real_data), "--split", "session", "--epochs", "1",
            "--seed", "0", "--image-size", "64"]
    first, second = run_cli(*args), run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert re.fullmatch(r"[0-9a-f]{64}", first.stdout.strip().splitlines()[-1])
    assert "64 batches of 2030 training frames" in first.stdout
