"""Images kept in the blob store, loaded back: a job's inputs, a version, a result's size.

Blob reads go through the BlobStore port; a size is read from the header's bytes, or by
Pillow in a thread.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence

from PIL import Image

from bot.core.domain import NormalizedImage
from bot.core.edits import EditRequest
from bot.core.jobs import JobWithInputs, StoredImage
from bot.core.ports import BlobStore
from bot.images.header_size import header_size


async def load_image(blobs: BlobStore, image: StoredImage, *, name: str) -> NormalizedImage:
    """A stored image as the provider gets it; FileNotFoundError when its blob is gone."""
    return NormalizedImage(
        data=await blobs.get(image.sha256),
        mime=image.mime,
        width=image.width,
        height=image.height,
        sha256=image.sha256,
        name=name,
    )


async def load_request(blobs: BlobStore, job: JobWithInputs) -> EditRequest:
    """The EditRequest a job was queued with, its inputs (and mask) read from the blob store."""
    inputs = await _load_all(blobs, job.inputs, prefix="input")
    mask = None
    if job.mask is not None:
        mask = await load_image(blobs, job.mask, name="mask-1")
    return job.spec.request(inputs, mask)


async def _load_all(
    blobs: BlobStore, images: Sequence[StoredImage], *, prefix: str
) -> tuple[NormalizedImage, ...]:
    return tuple(
        [await load_image(blobs, image, name=f"{prefix}-{i + 1}") for i, image in enumerate(images)]
    )


async def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of encoded image bytes, read from the header: by byte slicing for
    the formats editbot stores (bot.images.header_size), else by Pillow in a thread."""
    size = header_size(data)
    return size if size is not None else await asyncio.to_thread(_size_of, data)


def _size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size
