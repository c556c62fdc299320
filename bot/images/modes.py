"""Pixel-level fixes on a decoded image: modes to RGB/RGBA, and EXIF orientation."""

from __future__ import annotations

from PIL import Image

ORIENTATION_TAG = 0x0112

_T = Image.Transpose
# EXIF orientation -> the transpose that shows the image upright (as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: _T.FLIP_LEFT_RIGHT,
    3: _T.ROTATE_180,
    4: _T.FLIP_TOP_BOTTOM,
    5: _T.TRANSPOSE,
    6: _T.ROTATE_270,
    7: _T.TRANSVERSE,
    8: _T.ROTATE_90,
}


def orient(im: Image.Image, orientation: int) -> Image.Image:
    """`im` turned upright for an EXIF orientation value (1..8; others leave it as is)."""
    method = _TRANSPOSE.get(orientation)
    return im.transpose(method) if method is not None else im


def to_rgb_or_rgba(im: Image.Image) -> Image.Image:
    """`im` as 8-bit RGB, or RGBA when it carries any transparency information."""
    mode = im.mode
    transparent = "transparency" in im.info
    if mode == "RGB" and not transparent:
        return im
    if mode == "RGBA":
        return im
    if mode in ("LA", "La", "PA", "RGBa") or (mode in ("P", "L", "RGB") and transparent):
        return im.convert("RGBA")
    if mode.startswith("I") or mode == "F":
        return _to_8bit_gray(im).convert("RGB")
    # CMYK (Pillow already undid Adobe's inverted CMYK when decoding), 1, L, P, YCbCr, LAB, HSV.
    return im.convert("RGB")


def _to_8bit_gray(im: Image.Image) -> Image.Image:
    """Integer or float grey as 8-bit L, scaled rather than clipped.

    16-bit modes map 0..65535 onto 0..255 (Pillow's own I;16 -> L clips everything above 255 to
    white). 32-bit integer and float images have no fixed range: values already in 0..255 (or
    0..1 for floats) keep their meaning, 0..65535 is treated as 16-bit, anything else is stretched
    from its minimum to its maximum.
    """
    if im.mode.startswith("I;16"):
        return im.convert("I").point(lambda v: v / 257).convert("L")
    extrema = im.getextrema()
    # Single-band images give (min, max) as numbers.
    low, high = float(extrema[0]), float(extrema[1])  # type: ignore[arg-type]
    if im.mode == "F" and 0 <= low and high <= 1:
        scale, offset = 255.0, 0.0
    elif 0 <= low and high <= 255:
        scale, offset = 1.0, 0.0
    elif 0 <= low and high <= 65535:
        scale, offset = 1 / 257, 0.0
    elif high > low:
        scale = 255.0 / (high - low)
        offset = -low * scale
    else:
        scale, offset = 0.0, 0.0
    if im.mode != "F":
        im = im.convert("I")
    return im.point(lambda v: v * scale + offset).convert("L")
