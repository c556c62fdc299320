"""An image's width and height read from its first bytes, without decoding anything.

A result's size is needed once per output (its version row, its message). Pillow reads it
from the header too, but Pillow runs in a thread here (never on the event loop), and the
trip to a thread and back cost about three times the read itself (bench/bench_queue.py).
For what formats.sniff recognises, this reads the few fields the format puts the size in
(PNG's IHDR, a JPEG's frame header, WebP's VP8 / VP8L / VP8X chunk, GIF's screen), a few
microseconds of byte slicing; anything else, or bytes that do not parse, gives None and the
caller asks Pillow.
"""

from __future__ import annotations

from bot.images.formats import sniff

# JPEG frame headers (SOF0-SOF15) carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers with no length field: TEM, RST0-RST7, SOI.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), 0xD8})


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG, JPEG, WebP or GIF; None when unsure."""
    kind, head = sniff(data), bytes(data[:32])
    if kind == "png":
        return _positive(_be(head, 16, 4), _be(head, 20, 4)) if head[12:16] == b"IHDR" else None
    if kind == "jpeg":
        return _jpeg(data)
    if kind == "webp":
        return _webp(head)
    if kind == "gif":
        return _positive(_le(head, 6, 2), _le(head, 8, 2))
    return None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    view = memoryview(data)
    i, end = 2, len(data)
    while i + 9 <= end:
        if view[i] != 0xFF:
            return None
        marker = view[i + 1]
        if marker == 0xFF:  # a fill byte before the marker
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker in _SOF:
            return _positive(_be(view, i + 7, 2), _be(view, i + 5, 2))
        if marker == 0xDA:  # the scan starts before any frame header: not a JPEG we know
            return None
        i += 2 + _be(view, i + 2, 2)
    return None


def _webp(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        return _positive(_le(head, 26, 2) & 0x3FFF, _le(head, 28, 2) & 0x3FFF)
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = _le(head, 21, 4)
        return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        return (_le(head, 24, 3) + 1, _le(head, 27, 3) + 1)
    return None


def _be(data: bytes | memoryview, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "big")


def _le(data: bytes | memoryview, at: int, size: int) -> int:
    return int.from_bytes(data[at : at + size], "little")


def _positive(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None
