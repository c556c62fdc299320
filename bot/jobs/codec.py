"""Jobs as stored rows <-> edit requests: what the service writes and the worker reads back.

A job row carries everything a worker in any process needs to run it: the place (so the result
reaches the right thread after a restart), the prompt, the resolved request (options, output
size, aspect) as JSON, and its input and mask images as blobs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.domain import (
    Background,
    EditOptions,
    Mode,
    NormalizedImage,
    OutputFormat,
    Place,
    Quality,
    Resolution,
)
from bot.core.edits import EditRequest
from bot.core.ports import BlobStore
from storage.images import add_job_images, job_images
from storage.models import ImageRole, Job, JobImage
from storage.threads import VersionImage


def options_to_dict(options: EditOptions) -> dict[str, Any]:
    """EditOptions as plain JSON values."""
    raw = asdict(options)
    raw["size"] = list(options.size) if options.size else None
    return {k: (v.value if hasattr(v, "value") else v) for k, v in raw.items()}


def options_from_dict(raw: dict[str, Any]) -> EditOptions:
    """The inverse of options_to_dict."""
    size = raw.get("size")
    return EditOptions(
        quality=Quality(raw["quality"]),
        aspect=raw.get("aspect"),
        resolution=Resolution(raw["resolution"]),
        size=(int(size[0]), int(size[1])) if size else None,
        n=int(raw["n"]),
        format=OutputFormat(raw["format"]),
        background=Background(raw["background"]),
        mask=raw.get("mask"),
        mode=Mode(raw["mode"]),
    )


def request_json(request: EditRequest) -> str:
    """What a job row keeps of a request besides prompt and images: options, size, aspect."""
    return json.dumps(
        {
            "options": options_to_dict(request.options),
            "size": list(request.size),
            "aspect": request.aspect,
        },
        sort_keys=True,
    )


def job_options(job: Job) -> EditOptions:
    """The options a job was run with."""
    return options_from_dict(json.loads(job.options_json)["options"])


def place_of(job: Job) -> Place:
    """Where a job's answers go."""
    return Place(
        platform=job.platform,
        workspace=job.workspace,
        channel=job.channel,
        user=job.user,
        thread=job.thread,
    )


def _version_image(image: NormalizedImage, sha256: str) -> VersionImage:
    return VersionImage(sha256=sha256, mime=image.mime, width=image.width, height=image.height)


async def store_request_images(
    session: AsyncSession, blobs: BlobStore, *, job_id: str, request: EditRequest
) -> None:
    """Put a request's inputs and mask in the blob store and record them on the job."""
    inputs = [_version_image(im, await blobs.put(im.data)) for im in request.images]
    await add_job_images(session, job_id=job_id, role=ImageRole.INPUT, images=inputs)
    if request.mask is not None:
        mask = _version_image(request.mask, await blobs.put(request.mask.data))
        await add_job_images(session, job_id=job_id, role=ImageRole.MASK, images=[mask])


async def load_request(session: AsyncSession, blobs: BlobStore, job: Job) -> EditRequest:
    """Rebuild the EditRequest a job was queued with (from its row and its blobs)."""
    return await request_of(blobs, job, await job_images(session, job_id=job.id))


async def request_of(blobs: BlobStore, job: Job, rows: Sequence[JobImage]) -> EditRequest:
    """The EditRequest of a job, given its image rows (outputs among them are skipped)."""
    raw = json.loads(job.options_json)
    images: list[NormalizedImage] = []
    mask: NormalizedImage | None = None
    for row in rows:
        if row.role is ImageRole.OUTPUT:
            continue
        image = NormalizedImage(
            data=await blobs.get(row.sha256),
            mime=row.mime,
            width=row.width,
            height=row.height,
            sha256=row.sha256,
            name=f"{row.role.value}-{row.position + 1}",
        )
        if row.role is ImageRole.MASK:
            mask = image
        else:
            images.append(image)
    return EditRequest(
        prompt=job.prompt,
        images=tuple(images),
        options=options_from_dict(raw["options"]),
        size=(int(raw["size"][0]), int(raw["size"][1])),
        aspect=str(raw["aspect"]),
        mask=mask,
    )
