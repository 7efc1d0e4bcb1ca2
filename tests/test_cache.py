"""Decode rules, HUD preprocessing, the cache's key, integrity and bad-file handling."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import frame, write_image

from common_data.data import cache
from common_data.data.cache import load
from common_data.data.card import SHIPPED_CARDS, load_card
from common_data.data.discovery import discover
from common_data.data.preprocess import Preprocess
from common_data.errors import ConfigError, DataError

RAW = Preprocess(size=16, interpolation="nearest")


def _single(tmp_path, name: str, image: np.ndarray, preprocess: Preprocess = RAW) -> np.ndarray:
    root = tmp_path / "d"
    write_image(root / "happy" / name, image)
    return load(discover(root), preprocess).images[0]


def test_colour_order_is_rgb(tmp_path, tmp_cache):
    bgr = np.zeros((16, 16, 3), np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's BGR
    out = _single(tmp_path, "a.png", bgr)
    assert out.shape == (16, 16, 3) and out.dtype == np.uint8
    assert (out[..., 0] == 200).all() and (out[..., 1:] == 0).all()


def test_grayscale_is_replicated_to_three_channels(tmp_path, tmp_cache):
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    out = _single(tmp_path, "g.png", gray)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_sixteen_bit_keeps_the_high_byte(tmp_path, tmp_cache):
    deep = (np.arange(256, dtype=np.uint16).reshape(16, 16) * 257 + 3).astype(np.uint16)
    out = _single(tmp_path, "d.png", deep)
    np.testing.assert_array_equal(out[..., 0], (deep >> 8).astype(np.uint8))


def test_alpha_is_dropped(tmp_path, tmp_cache):
    bgra = np.zeros((16, 16, 4), np.uint8)
    bgra[..., 0] = 50
    bgra[..., 3] = 0  # fully transparent: the colour is kept, alpha ignored
    out = _single(tmp_path, "a.png", bgra)
    assert (out[..., 2] == 50).all() and (out[..., :2] == 0).all()


@pytest.mark.parametrize("ext", [".bmp", ".jpg"])
def test_bmp_and_jpeg_decode(tmp_path, tmp_cache, ext):
    out = _single(tmp_path, f"a{ext}", np.full((16, 16, 3), 128, np.uint8))
    assert abs(int(out.mean()) - 128) <= 2


def test_lossless_webp_decodes_to_the_same_pixels_as_png(tmp_path, tmp_cache):
    bgr = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    png = _single(tmp_path / "png", "a.png", bgr)
    webp = _single(tmp_path / "webp", "a.webp", bgr)  # OpenCV writes WebP lossless by default
    assert np.array_equal(webp, png)


# the real camera's HUD, as its shipped card declares it
HUD_BOXES = load_card(SHIPPED_CARDS / "facial-emotion.toml").overlay


def _hud_frame() -> np.ndarray:
    return np.full((320, 240, 3), 255, np.uint8)


def test_masked_blanks_every_hud_box_at_full_resolution():
    out = Preprocess(size=320, hud="masked", boxes=HUD_BOXES).apply_hud(_hud_frame())
    assert (out[:43] == 0).all()  # top band
    assert (out[45:291, 188:] == 0).all()  # colour bar
    assert (out[144:176, 104:136] == 0).all()  # cross-hair
    assert (out[43:144, :188] == 255).all()  # the face area stays


def test_hud_only_keeps_band_and_bar_but_blanks_face_and_cross_hair():
    out = Preprocess(size=320, hud="hud_only", boxes=HUD_BOXES).apply_hud(_hud_frame())
    assert (out[:43] == 255).all() and (out[45:291, 188:] == 255).all()
    assert (out[144:176, 104:136] == 0).all()
    assert (out[43:, :188] == 0).all()


def test_masking_happens_before_the_resize():
    out = Preprocess(size=32, hud="masked", boxes=HUD_BOXES).apply(_hud_frame())
    # 43/320 of 32 rows is 4.3: row 4 mixes masked and unmasked pixels, rows 0-3 are pure mask.
    assert (out[:4] == 0).all()
    assert out.shape == (32, 32, 3)


def test_preprocess_key_changes_with_every_choice():
    keys = {
        json.dumps(p.key(), sort_keys=True)
        for p in (
            Preprocess(),
            Preprocess(size=64),
            Preprocess(interpolation="linear"),
            Preprocess(hud="masked", boxes=HUD_BOXES),
            Preprocess(hud="hud_only", boxes=HUD_BOXES),
            Preprocess(hud="masked", boxes=HUD_BOXES[:2]),
        )
    }
    assert len(keys) == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, r"image size 0 is not valid: expected an integer in 8\.\.4096"),
        ({"size": "64"}, r"image size '64' is not valid"),
        ({"interpolation": "bicubic"}, r"interpolation 'bicubic' is not valid: expected one of"),
        ({"hud": "off"}, r"hud 'off' is not valid: expected one of full, masked, hud_only"),
        ({"hud": "masked"}, r"hud 'masked' needs overlay regions, but the dataset card declares "
                            r"none"),
    ],
)
def test_bad_preprocess_values(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Preprocess(**kwargs)


def test_second_load_comes_from_the_cache(make_dataset, tmp_cache, monkeypatch):
    root = make_dataset(per_folder=2)
    first = load(discover(root), RAW)
    assert first.images.shape == (10, 16, 16, 3)
    assert first.labels.dtype == np.int64
    assert first.labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert len(list((tmp_cache / "decoded").glob("*.npy"))) == 1
    assert not list((tmp_cache / "decoded").glob("*.tmp"))

    def no_decode(*_args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(cache, "_decode_all", no_decode)
    second = load(discover(root), RAW)
    np.testing.assert_array_equal(second.images, first.images)
    assert second.cache_key == first.cache_key


def test_changed_file_changes_key_and_pixels(make_dataset, tmp_cache):
    root = make_dataset(folders=["angry", "happy"], per_folder=1)
    first = load(discover(root), RAW)
    write_image(first.records[0].path, np.zeros((40, 30, 3), np.uint8))
    second = load(discover(root), RAW)
    assert second.cache_key != first.cache_key
    assert (second.images[0] == 0).all() and not (first.images[0] == 0).all()


def test_cache_dir_argument_and_env(make_dataset, tmp_path, tmp_cache):
    root = make_dataset(folders=["angry"], per_folder=1)
    load(discover(root), RAW, cache_dir=tmp_path / "elsewhere")
    assert list((tmp_path / "elsewhere" / "decoded").glob("*.npy"))
    assert not (tmp_cache / "decoded").exists()
    load(discover(root), RAW)
    assert list((tmp_cache / "decoded").glob("*.npy"))


def _damage_truncate(npy):
    npy.write_bytes(npy.read_bytes()[:100])


def _damage_flip(npy):
    data = bytearray(npy.read_bytes())
    data[-1] ^= 0xFF
    npy.write_bytes(bytes(data))


def _damage_garbage(npy):
    npy.write_bytes(b"garbage")


def _damage_manifest(npy):
    npy.with_suffix(".json").write_text("{not json")


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (_damage_truncate, "unreadable or truncated array"),
        (_damage_flip, "checksum mismatch"),
        (_damage_garbage, "unreadable or truncated array"),
        (_damage_manifest, "unreadable manifest"),
    ],
)
def test_damaged_cache_is_reported_and_rebuilt(make_dataset, tmp_cache, capsys, damage, why):
    root = make_dataset(folders=["angry", "happy"], per_folder=2)
    good = load(discover(root), RAW).images.copy()
    (npy,) = (tmp_cache / "decoded").glob("*.npy")
    damage(npy)
    capsys.readouterr()
    again = load(discover(root), RAW)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is damaged" in err[0] and why in err[0] and "rebuilding" in err[0]
    np.testing.assert_array_equal(again.images, good)
    load(discover(root), RAW)
    assert capsys.readouterr().err == ""


BAD_FILES = {
    "zero-byte": (b"", "the file is empty (0 bytes)"),
    "text": (b"this is not an image\n", "OpenCV cannot decode it"),
    "truncated": (None, "OpenCV cannot decode it"),
}


def _write_bad(root, kind: str):
    path = root / "happy" / "bad.png"
    data, _ = BAD_FILES[kind]
    if data is None:
        _, enc = cv2.imencode(".png", frame(7))
        data = enc.tobytes()[:-40]
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_file_is_an_error_naming_it(make_dataset, tmp_cache, capfd, kind):
    root = make_dataset(folders=["angry", "happy"], per_folder=2)
    path = _write_bad(root, kind)
    with pytest.raises(DataError) as err:
        load(discover(root), RAW)
    message = str(err.value)
    assert message.startswith(f"cannot decode image file {path}: {BAD_FILES[kind][1]}")
    assert "--skip-bad" in message and "\n" not in message
    assert "libpng" not in capfd.readouterr().err  # codec chatter stays off the terminal


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_skip_bad_records_and_goes_on(make_dataset, tmp_cache, kind):
    root = make_dataset(folders=["angry", "happy"], per_folder=2)
    path = _write_bad(root, kind)
    dataset = discover(root)
    images = load(dataset, RAW, skip_bad=True)
    assert len(images) == 4 and images.images.shape[0] == 4
    assert all(r.path != path for r in images.records)
    assert images.skipped == dataset.bad_files
    assert images.skipped[0]["path"] == str(path)
    assert images.skipped[0]["reason"].startswith(BAD_FILES[kind][1])
    with pytest.raises(DataError, match="cannot decode image file"):  # the cache remembers
        load(discover(root), RAW)


def test_truncated_png_reason_carries_the_codec_message(make_dataset, tmp_cache):
    root = make_dataset(folders=["happy"], per_folder=1)
    _write_bad(root, "truncated")
    images = load(discover(root), RAW, skip_bad=True)
    reason = images.skipped[0]["reason"]
    assert reason.endswith("input buffer is incomplete"), reason


def test_every_file_bad_is_an_error_even_with_skip_bad(tmp_path, tmp_cache):
    root = tmp_path / "d"
    (root / "happy").mkdir(parents=True)
    (root / "happy" / "a.png").write_bytes(b"nope")
    with pytest.raises(DataError, match=r"no image in .* could be decoded"):
        load(discover(root), RAW, skip_bad=True)


def test_real_dataset_decodes_to_uint8_rgb(real_images_64):
    images = real_images_64
    assert images.images.shape == (2485, 64, 64, 3)
    assert images.images.dtype == np.uint8
    assert images.source_formats == {"320x240 3ch uint8": 2485}
    assert np.bincount(images.labels).tolist() == [509, 538, 541, 457, 440]
    assert images.skipped == []


def _lossless_webp_claiming(width: int, height: int) -> bytes:
    """A 34-byte lossless WebP whose header claims width x height (issue 25, item 1)."""
    bits = (width - 1) | (height - 1) << 14
    body = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 9
    chunk = b"VP8L" + len(body).to_bytes(4, "little") + body
    return b"RIFF" + (4 + len(chunk)).to_bytes(4, "little") + b"WEBP" + chunk


def test_a_webp_bomb_is_refused_from_its_header_without_decoding(monkeypatch):
    data = _lossless_webp_claiming(16383, 16383)
    assert len(data) == 34

    def no_decode(*_args):
        raise AssertionError("decoded a bomb")

    monkeypatch.setattr(cache.cv2, "imdecode", no_decode)
    with pytest.raises(DataError, match="its header claims 16383x16383 pixels"):
        cache.decode_rgb(data)


@pytest.mark.parametrize("quality", [101, 80])  # lossless (VP8L), lossy (VP8)
def test_webp_headers_give_the_true_size(quality):
    from common_data.data.image_limits import header_size

    ok, data = cv2.imencode(".webp", frame(0, 37, 53), [cv2.IMWRITE_WEBP_QUALITY, quality])
    assert ok and header_size(data.tobytes()) == (53, 37)
    extended = (b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00" + b"\x00" * 4
                + (70000 - 1).to_bytes(3, "little") + (9 - 1).to_bytes(3, "little"))
    assert header_size(extended) == (70000, 9)


def test_the_pixel_limit_is_part_of_the_cache_key(make_dataset, tmp_cache, monkeypatch):
    """Raising the limit, as its error advises, decodes again instead of reusing the entry
    that recorded the refusals; a bad value is refused even when the entry is cached."""
    from common_data.data.image_limits import MAX_PIXELS_ENV

    root = make_dataset(per_folder=1)
    default_key = load(discover(root), RAW).cache_key
    monkeypatch.setenv(MAX_PIXELS_ENV, "100")  # the frames are 40x30
    with pytest.raises(DataError, match="over the limit of 100"):
        load(discover(root), RAW)
    monkeypatch.setenv(MAX_PIXELS_ENV, "5000")
    raised = load(discover(root), RAW)
    assert len(raised.images) == 5 and raised.cache_key != default_key
    for bad in ("abc", "0", "-5"):
        monkeypatch.setenv(MAX_PIXELS_ENV, bad)
        with pytest.raises(ConfigError, match=f"{MAX_PIXELS_ENV}='{bad}'"):
            load(discover(root), RAW)
