"""Images for sendPhoto: recognise the format and size of uploaded bytes; build tiny PNGs (pure)."""

from __future__ import annotations

import struct
import zlib

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Telegram returns a photo as several sizes: thumbnails up to 90, 320, 800 and 1280 px on the long side.
_PHOTO_SIDES = (90, 320, 800, 1280)
_MAX_SIDE = 2560


def png_bytes(width: int, height: int, rgb: tuple[int, int, int] = (214, 40, 40)) -> bytes:
    """A valid PNG of one colour (small and deterministic, for tests and placeholders)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        _PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """(extension, width, height) of a PNG, GIF, JPEG or WebP image, None when it is none of them."""
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data[:6] in {b"GIF87a", b"GIF89a"} and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return "gif", width, height
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp", 512, 512  # the sandbox does not decode WebP headers; a plausible size will do
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[str, int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        length = struct.unpack(">H", data[index + 2 : index + 4])[0]
        # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
        if 0xC0 <= marker <= 0xCF and marker not in {0xC4, 0xC8, 0xCC}:
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return "jpg", width, height
        index += 2 + length
    return None


def photo_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """The (width, height) of each size Telegram would make, smallest first."""
    longest = max(width, height, 1)
    sizes = []
    for side in _PHOTO_SIDES:
        if side < longest:
            scale = side / longest
            sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    scale = min(1.0, _MAX_SIDE / longest)
    sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    return sizes
