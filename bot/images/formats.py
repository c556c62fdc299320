"""Recognising files by their first bytes: the image formats editbot takes, and what others are.

Names and content types from chat platforms lie (Slack answers a missing scope with an HTML
login page under the image's name), so only the magic bytes count.
"""

from __future__ import annotations

ACCEPTED = ("png", "jpeg", "webp", "gif")
"""Formats normalize_image accepts, as sniff() names them."""

PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF"}
"""sniff() names to the Pillow plugin that may decode them (Image.open(formats=[...]))."""

# ISO BMFF `ftyp` brands (bytes 8..12) of HEIF stills, which phones send as .heic/.heif.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

# Prefix -> description, checked in order after the image formats.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or a Word/Excel/PowerPoint file)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"BM", "a BMP image"),
    (b"8BPS", "a Photoshop (PSD) file"),
    (b"\x00\x00\x01\x00", "an icon (ICO) file"),
    (b"\xff\x0a", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", "a JPEG XL image"),
    (b"\x49\x49\xbc", "a JPEG XR image"),
    (b"OggS", "an Ogg audio or video file"),
    (b"ID3", "an MP3 audio file"),
    (b"\x1a\x45\xdf\xa3", "a WebM/Matroska video"),
    (b"{\\rtf", "an RTF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document"),
)


def sniff(data: bytes) -> str | None:
    """The accepted image format these bytes start with: png, jpeg, webp, gif; else None."""
    head = bytes(data[:16])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    return None


def is_heif(data: bytes) -> bool:
    """True for HEIC/HEIF photos (an ISO BMFF `ftyp` box with a HEIF brand)."""
    return data[4:8] == b"ftyp" and bytes(data[8:12]) in _HEIF_BRANDS


def is_html(data: bytes) -> bool:
    """True when the bytes look like an HTML page (what Slack sends without files:read)."""
    text = _text_head(data).lstrip().lower()
    if text.startswith(("<!doctype html", "<html", "<head", "<body")):
        return True
    # Pages may open with a comment or an XML prolog; look a little further in.
    return text.startswith("<") and ("<html" in text or "<!doctype html" in text)


def describe_unknown(data: bytes) -> str:
    """What a file that is not an accepted image looks like, for a message: `a PDF document`."""
    if not data:
        return "an empty file"
    kind = sniff(data)
    if kind:
        return {"png": "a PNG image", "jpeg": "a JPEG image", "webp": "a WebP image"}.get(
            kind, "a GIF image"
        )
    head = bytes(data[:32])
    if is_heif(data):
        return "a HEIC photo"
    if head[4:8] == b"ftyp":
        if head[8:12] in _AVIF_BRANDS:
            return "an AVIF image"
        return "a video (MP4/MOV)"
    if head[:4] == b"RIFF":
        return "a RIFF file (audio or video)"
    for prefix, description in _MAGIC:
        if head.startswith(prefix):
            return description
    if is_html(data):
        return "an HTML page"
    text = _text_head(data).lstrip().lower()
    if text.startswith("<svg") or (text.startswith("<?xml") and "<svg" in text):
        return "an SVG drawing"
    if text.startswith("<?xml"):
        return "an XML document"
    if text.startswith(("{", "[")):
        return "JSON text"
    if text and _is_mostly_text(data):
        return "plain text"
    return "a file of unknown type"


def _text_head(data: bytes) -> str:
    """The first KiB as text (BOM dropped, undecodable bytes replaced)."""
    head = bytes(data[:1024])
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.decode("utf-8", errors="replace")


def _is_mostly_text(data: bytes) -> bool:
    head = bytes(data[:1024])
    text = ""
    # A multi-byte character cut at the 1 KiB boundary is still text: allow up to 3 bytes off.
    for cut in range(4):
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return bool(text) and printable >= 0.95 * len(text)
