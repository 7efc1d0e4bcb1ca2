"""Refuse decompression bombs before a decoder allocates for them.

A few hundred bytes of PNG can claim 100000x100000 pixels. OpenCV's own guard stops at 2**30
pixels (a gigapixel, 3 GB of RGB) with an assertion instead of an error, and anything just
under it still asks for gigabytes. Thermal frames are a few hundred pixels wide, so the limit
here is far lower and configurable: `THERMAL_BENCH_MAX_PIXELS` (default 50 megapixels). The
size is read from the file header (PNG, JPEG, BMP, WebP: the formats discovery accepts)
without decoding; a file whose header cannot be read is left to the decoder to judge.
"""

from __future__ import annotations

import os
import struct

from common_data.errors import ConfigError

MAX_PIXELS_ENV = "THERMAL_BENCH_MAX_PIXELS"
DEFAULT_MAX_PIXELS = 50_000_000
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless, ...); C4, C8, CC are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def max_pixels() -> int:
    """The pixel limit in force: the environment's, else the default."""
    value = os.environ.get(MAX_PIXELS_ENV)
    if value is None:
        return DEFAULT_MAX_PIXELS
    if not value.strip().isdigit() or int(value) < 1:
        raise ConfigError(f"{MAX_PIXELS_ENV}={value!r}: expected an integer >= 1 (pixels)")
    return int(value)


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) that the file's header claims, or None if it cannot be read."""
    if data.startswith(_PNG_MAGIC) and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _webp_size(data)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size of the first chunk: VP8X (extended), VP8L (lossless) or VP8 (lossy).

    A lossless WebP of 34 bytes can claim 16383x16383; decoding it first would allocate 1 GB.
    """
    kind, body = data[12:16], data[20:]
    if kind == b"VP8X" and len(body) >= 10:  # flags (4), then width-1 and height-1 as 24 bit
        return (1 + int.from_bytes(body[4:7], "little"),
                1 + int.from_bytes(body[7:10], "little"))
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:  # 14 bits each, minus one
        (bits,) = struct.unpack("<I", body[1:5])
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":  # key frame
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF  # the top two bits are the scale
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the marker segments to the first start-of-frame, which holds the size."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            i += 2
            continue
        if marker in _JPEG_SOF and i + 9 <= len(data):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        i += 2 + length
    return None


def too_large(data: bytes) -> str | None:
    """Why the file must not be decoded (its header claims more than the limit), or None."""
    size = header_size(data)
    limit = max_pixels()
    if size is None or size[0] * size[1] <= limit:
        return None
    return (
        f"its header claims {size[0]}x{size[1]} pixels, over the limit of {limit:,} "
        f"(a decompression bomb?; raise {MAX_PIXELS_ENV} if the image is real)"
    )
