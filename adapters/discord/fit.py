"""Make result files fit Discord's upload limit: re-encode as WebP, then JPEG, then shrink."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from bot.core.ports import ResultImage

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024
"""Discord's per-file limit for unboosted guilds since January 2025 (10 MiB)."""

_WEBP_QUALITIES = (90, 80, 65, 50)
_JPEG_QUALITIES = (90, 80, 65, 50, 35)
_SHRINK = 0.75


@dataclass(frozen=True)
class FittedImages:
    """The images to upload and, when any was re-encoded, the format it was sent as."""

    images: tuple[ResultImage, ...]
    sent_as: str | None = None

    def note(self, limit: int) -> str:
        """Caption note, e.g. `(sent as WebP to fit Discord's 10 MB limit)`; empty if untouched."""
        if self.sent_as is None:
            return ""
        return f"(sent as {self.sent_as} to fit Discord's {limit // (1024 * 1024)} MB limit)"


def _stem(filename: str) -> str:
    return filename.rsplit(".", 1)[0] if "." in filename else filename


def _encode(im: Image.Image, fmt: str, quality: int) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        if im.mode in ("RGBA", "LA", "P"):
            # JPEG has no alpha: flatten onto white, the usual page colour.
            rgba = im.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            im = flat
        elif im.mode != "RGB":
            im = im.convert("RGB")
        im.save(out, format="JPEG", quality=quality, optimize=True)
    else:
        im.save(out, format="WEBP", quality=quality, method=4)
    return out.getvalue()


def reencode_to_fit(image: ResultImage, *, limit: int) -> tuple[ResultImage, str | None]:
    """`image` itself when it fits, else the best re-encoding under `limit` (blocking: Pillow)."""
    if len(image.data) <= limit:
        return image, None
    with Image.open(io.BytesIO(image.data)) as opened:
        opened.load()
        im: Image.Image = opened.copy()
    while True:
        for fmt, label, mime, ext, qualities in (
            ("WEBP", "WebP", "image/webp", "webp", _WEBP_QUALITIES),
            ("JPEG", "JPEG", "image/jpeg", "jpg", _JPEG_QUALITIES),
        ):
            for quality in qualities:
                data = _encode(im, fmt, quality)
                if len(data) <= limit:
                    fitted = ResultImage(
                        data=data,
                        mime=mime,
                        filename=f"{_stem(image.filename)}.{ext}",
                        width=im.width,
                        height=im.height,
                    )
                    return fitted, label
        if min(im.size) <= 64:
            raise ValueError("image cannot be made to fit the upload limit")
        im = im.resize(
            (int(im.width * _SHRINK), int(im.height * _SHRINK)), Image.Resampling.LANCZOS
        )


async def fit_images(images: Sequence[ResultImage], *, limit: int) -> FittedImages:
    """Re-encode any image over `limit` bytes, in a worker thread (never on the event loop)."""
    fitted: list[ResultImage] = []
    sent_as: str | None = None
    for image in images:
        if len(image.data) <= limit:
            fitted.append(image)
            continue
        result, label = await asyncio.to_thread(reencode_to_fit, image, limit=limit)
        fitted.append(result)
        sent_as = sent_as or label
    return FittedImages(images=tuple(fitted), sent_as=sent_as)
