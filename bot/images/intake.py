"""Image intake: attachment bytes -> the NormalizedImage a provider gets.

The *_sync functions do the Pillow work; the async entry points run them in a thread so the
event loop never waits on a decode. Every way a file can be unusable (not an image, too big,
a decompression bomb, corrupt, a bad mask) ends as ImageRejected naming the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from PIL import Image

from bot.core.domain import NormalizedImage
from bot.core.errors import ImageRejected, OptionError
from bot.images.formats import PIL_FORMATS, describe_unknown, is_heif, is_html, sniff
from bot.images.modes import ORIENTATION_TAG, orient, to_rgb_or_rgba

if TYPE_CHECKING:
    from bot.core.config import Settings

__all__ = [
    "ImageLimits",
    "describe_unknown",
    "fit_within",
    "normalize_image",
    "normalize_image_sync",
    "normalize_mask",
    "normalize_mask_sync",
    "pick_mask",
    "sniff",
]

log = logging.getLogger(__name__)

JPEG_QUALITY = 92
"""Re-encoding quality; with 4:4:4 chroma it keeps edges and text the model should see."""

DRAFT_MIN_SHARE = 0.9
"""A JPEG's scaled DCT decode (1/2, 1/4, 1/8) is used when its long side is at least this share
of max_side. When that decode already fits, it is the output as is: a 4000x3000 photo becomes
2000x1500 (2% under a 2048 cap) from a decode of a quarter of the pixels, with no resampling."""

# What Pillow raises on corrupt or truncated input, at open or at load.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    EOFError,
    struct.error,
    zlib.error,
)

_WARNINGS_LOCK = threading.Lock()

_LANCZOS = Image.Resampling.LANCZOS
# resize() first box-reduces by an integer factor while the image stays >= 3x the target, then
# runs LANCZOS: indistinguishable from plain LANCZOS at a fraction of the cost.
_REDUCING_GAP = 3.0
# Below 2x reduction (what is left after a JPEG draft decode) a Hamming-windowed kernel of
# support 1 is about 2.4x cheaper than LANCZOS (support 3) and, in the bench, lands within
# ~40 dB of a full-size LANCZOS reference: well under what the provider can see. Larger
# reductions (PNG, WebP, small JPEG scales) keep LANCZOS.
_SHORT_KERNEL_BELOW = 2.0


@dataclass(frozen=True)
class ImageLimits:
    """What intake accepts and produces."""

    max_bytes: int = 50 * 1024 * 1024
    max_side: int = 2048
    """Long side of the normalized image, after downscaling."""
    max_pixels: int = 89_478_485
    """Decoded pixel cap (decompression bombs), checked before the pixels are decoded."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageLimits:
        return cls(
            max_bytes=settings.max_input_bytes,
            max_side=settings.max_input_side,
            max_pixels=settings.max_input_pixels,
        )


async def normalize_image(data: bytes, *, name: str, limits: ImageLimits) -> NormalizedImage:
    """Decode, orient, downscale and re-encode an input image, in a worker thread."""
    return await asyncio.to_thread(normalize_image_sync, data, name=name, limits=limits)


async def normalize_mask(
    data: bytes, *, name: str, size: tuple[int, int], limits: ImageLimits
) -> NormalizedImage:
    """Check a mask (PNG with alpha) and resize it to `size`, in a worker thread."""
    return await asyncio.to_thread(normalize_mask_sync, data, name=name, size=size, limits=limits)


def normalize_image_sync(data: bytes, *, name: str, limits: ImageLimits) -> NormalizedImage:
    """The thread body of normalize_image: blocking Pillow work."""
    fmt = _accepted_format(data, name=name, limits=limits)
    im, orientation = _decode(data, fmt=fmt, name=name, limits=limits)
    # Draft works in the stored orientation, so the target is computed there too.
    target = fit_within(im.size, limits.max_side)
    im = to_rgb_or_rgba(im)
    if im.size != target:
        im = _downscale(im, target)
    im = orient(im, orientation)
    if im.mode == "RGBA" and _alpha_is_opaque(im):
        im = im.convert("RGB")
    return _encode(im, name=name)


def normalize_mask_sync(
    data: bytes, *, name: str, size: tuple[int, int], limits: ImageLimits
) -> NormalizedImage:
    """The thread body of normalize_mask: blocking Pillow work."""
    what = "a PNG with an alpha channel: transparent where the edit goes, opaque elsewhere"
    fmt = _accepted_format(data, name=name, limits=limits)
    if fmt != "png":
        raise ImageRejected(
            f"The mask '{_short(name)}' is {describe_unknown(data)}; a mask must be {what}."
        )
    im, orientation = _decode(data, fmt=fmt, name=name, limits=limits)
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (
        im.mode in ("P", "L", "RGB") and "transparency" in im.info
    )
    if not has_alpha:
        raise ImageRejected(
            f"The mask '{_short(name)}' has no transparency; a mask must be {what}."
        )
    im = orient(im.convert("RGBA"), orientation)
    if _alpha_is_opaque(im):
        raise ImageRejected(
            f"The mask '{_short(name)}' is opaque everywhere, so it marks nothing to edit; "
            "make the area to change transparent."
        )
    if im.size != size:
        im = im.resize(size, _LANCZOS)
    return _encode(im, name=name, force_png=True)


def pick_mask(names_and_data: Sequence[tuple[str, bytes]], mask_index: int | None) -> int | None:
    """The 0-based index of the attachment that is the mask, or None when there is none.

    Args:
        names_and_data: the attachments in the order they were posted.
        mask_index: the `mask N` option (1-based) when the person gave one.
    """
    count = len(names_and_data)
    if mask_index is not None:
        if not 1 <= mask_index <= count:
            files = "file is" if count == 1 else "files are"
            raise OptionError(
                f"mask={mask_index} doesn't match an attachment: {count} {files} attached "
                "(mask counts them from 1)."
            )
        if count == 1:
            raise OptionError(
                "mask=1 names the only attached file; attach the image to edit as well as the "
                "mask (a PNG, transparent where the edit goes)."
            )
        return mask_index - 1
    if count < 2:
        return None
    for index, (name, data) in enumerate(names_and_data):
        if "mask" in name.lower() and sniff(data) == "png":
            return index
    return None


def fit_within(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """`size` scaled down (never up) so its long side is at most max_side, ratio kept."""
    width, height = size
    long = max(width, height)
    if long <= max_side:
        return size
    scale = max_side / long
    return max(1, round(width * scale)), max(1, round(height * scale))


def _accepted_format(data: bytes, *, name: str, limits: ImageLimits) -> str:
    """The sniffed format, after the byte cap; ImageRejected for anything not accepted."""
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            f"'{_short(name)}' is {_megabytes(len(data))}; images can be at most "
            f"{_megabytes(limits.max_bytes)}."
        )
    fmt = sniff(data)
    if fmt is not None:
        return fmt
    if is_html(data):
        raise ImageRejected(
            f"'{_short(name)}' arrived as an HTML page, not an image. On Slack this means the "
            "app is missing the files:read scope (Slack sends a login page instead of the "
            "file): ask an admin to add files:read and reinstall the app."
        )
    if is_heif(data):
        raise ImageRejected(
            f"'{_short(name)}' is a HEIC photo, which editbot can't read. Export it as JPEG or "
            "PNG (iPhone: Settings > Camera > Formats > Most Compatible) and attach it again."
        )
    raise ImageRejected(
        f"'{_short(name)}' is {describe_unknown(data)}, not an image editbot can use. "
        "Attach a PNG, JPEG, WebP or GIF."
    )


def _decode(data: bytes, *, fmt: str, name: str, limits: ImageLimits) -> tuple[Image.Image, int]:
    """Open with only the sniffed decoder, check the pixel cap, draft (JPEG), load.

    Returns the loaded image (in its stored orientation) and its EXIF orientation.
    """
    try:
        with _pillow_warnings(name):
            im = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[fmt]])
        _check_pixels(im, name=name, limits=limits)
        if fmt == "jpeg":
            _draft(im, limits.max_side)
        im.load()
        with _pillow_warnings(name):
            orientation = _orientation(im)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageRejected(
            f"'{_short(name)}' has too many pixels to open safely (editbot's limit is "
            f"{limits.max_pixels:,}); downscale it and try again."
        ) from exc
    except (*_DECODE_ERRORS, Warning) as exc:
        # Warning: a process run with warnings as errors (-W error) gets them raised from load.
        log.info("undecodable %s %r: %s", fmt, name, exc)
        raise ImageRejected(
            f"'{_short(name)}' looks like a {fmt.upper()} file but is damaged or cut short, "
            "so editbot can't read it. Save or export it again and attach the new file."
        ) from exc
    return im, orientation


@contextmanager
def _pillow_warnings(name: str) -> Iterator[None]:
    """Pillow's bomb warning raised as an error; its other warnings logged, not emitted.

    Covers the header parse (where Pillow checks for bombs) and the EXIF parse, both quick.
    Warning filters are process-wide in Python 3.11, so threads take turns changing them: two
    interleaved catch_warnings blocks would leave one's temporary filters in place for good.
    """
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield
    for warning in caught:
        log.debug("pillow warning for %r: %s", name, warning.message)


def _check_pixels(im: Image.Image, *, name: str, limits: ImageLimits) -> None:
    """The pixel cap, from the header alone: before any pixel is decoded."""
    width, height = im.size
    if width * height > limits.max_pixels:
        raise ImageRejected(
            f"'{_short(name)}' is {width}x{height} = {width * height:,} pixels, more than editbot "
            f"opens ({limits.max_pixels:,}); downscale it and try again."
        )


def _draft(im: Image.Image, max_side: int) -> None:
    """Ask the JPEG decoder for the smallest DCT scale that still gives enough pixels."""
    width, height = im.size
    long = max(width, height)
    if long <= max_side:
        return
    for scale in (8, 4, 2):
        if -(-long // scale) >= max_side * DRAFT_MIN_SHARE:
            # Pillow picks the largest scale s with size // request >= s: request size // scale.
            im.draft("RGB", (max(1, width // scale), max(1, height // scale)))
            return


def _downscale(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    if max(im.size) < _SHORT_KERNEL_BELOW * max(size):
        return im.resize(size, Image.Resampling.HAMMING)
    return im.resize(size, _LANCZOS, reducing_gap=_REDUCING_GAP)


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1..8); 1 when absent or unreadable."""
    try:
        value = im.getexif().get(ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _alpha_is_opaque(im: Image.Image) -> bool:
    low, _ = im.getchannel("A").getextrema()
    return bool(low == 255)


def _encode(im: Image.Image, *, name: str, force_png: bool = False) -> NormalizedImage:
    """PNG when alpha matters (or asked for), else high-quality JPEG; metadata is dropped."""
    buf = io.BytesIO()
    if force_png or im.mode == "RGBA":
        im.save(buf, "PNG")
        mime, ext = "image/png", "png"
    else:
        im.save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=0)
        mime, ext = "image/jpeg", "jpg"
    data = buf.getvalue()
    stem = PurePath(name).stem or "image"
    return NormalizedImage(
        data=data,
        mime=mime,
        width=im.width,
        height=im.height,
        sha256=hashlib.sha256(data).hexdigest(),
        name=f"{stem}.{ext}",
    )


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _short(name: str, limit: int = 80) -> str:
    """A file name fit for a one-line message."""
    name = " ".join(name.split())
    return name if len(name) <= limit else name[: limit - 1] + "…"
