"""Job images: which blobs a job used as inputs and mask and which it produced.

The statements are built once, with bound parameters: every job runs them, and building a
statement costs more CPU than running it (bench/bench_queue.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.jobs import StoredImage
from storage.direct import prebuilt
from storage.models import ImageRole, JobImage
from storage.sql import run, table_of

_images = table_of(JobImage)
_INSERT = prebuilt(insert(_images))
_BY_JOB = (
    select(*_images.c)
    .where(_images.c.job_id == bindparam("job_id"))
    .order_by(_images.c.role, _images.c.position)
)
_INPUTS_OF = prebuilt(
    select(*_images.c)
    .where(
        _images.c.job_id.in_(bindparam("job_ids", expanding=True)),
        # Not IN [...]: a literal list is expanded into the SQL on every run (storage.claims).
        or_(_images.c.role == ImageRole.INPUT, _images.c.role == ImageRole.MASK),
    )
    .order_by(_images.c.job_id, _images.c.role, _images.c.position)
)
_BY_JOB_AND_ROLE = (
    select(*_images.c)
    .where(_images.c.job_id == bindparam("job_id"), _images.c.role == bindparam("role"))
    .order_by(_images.c.position)
)


async def add_job_images(
    session: AsyncSession, *, job_id: str, role: ImageRole, images: Sequence[StoredImage]
) -> None:
    """Record a job's images of one role, in order (position 0, 1, ...)."""
    if not images:
        return
    rows = [
        {
            "job_id": job_id,
            "role": role,
            "position": i,
            "sha256": image.sha256,
            "mime": image.mime,
            "width": image.width,
            "height": image.height,
        }
        for i, image in enumerate(images)
    ]
    await run(session, _INSERT, rows)


async def add_inputs(
    session: AsyncSession,
    *,
    job_id: str,
    inputs: Sequence[StoredImage],
    mask: StoredImage | None,
) -> None:
    """Record a job's input images, in order, and its mask."""
    await add_job_images(session, job_id=job_id, role=ImageRole.INPUT, images=inputs)
    if mask is not None:
        await add_job_images(session, job_id=job_id, role=ImageRole.MASK, images=[mask])


async def add_outputs(
    session: AsyncSession, *, job_id: str, outputs: Sequence[StoredImage]
) -> None:
    """Record a job's result images, in order."""
    await add_job_images(session, job_id=job_id, role=ImageRole.OUTPUT, images=outputs)


async def job_inputs(
    session: AsyncSession, *, job_id: str
) -> tuple[tuple[StoredImage, ...], StoredImage | None]:
    """A job's input images, in order, and its mask (None without one)."""
    return (await jobs_inputs(session, job_ids=[job_id])).get(job_id, ((), None))


async def jobs_inputs(
    session: AsyncSession, *, job_ids: Sequence[str]
) -> dict[str, tuple[tuple[StoredImage, ...], StoredImage | None]]:
    """Each job's input images, in order, and its mask, in one query; a job without any
    is left out."""
    by_job: dict[str, list[tuple[Any, ...]]] = {}
    rows = await run(session, _INPUTS_OF, {"job_ids": list(job_ids)})
    for row in rows.mappings():
        by_job.setdefault(row["job_id"], []).append(tuple(row[name] for name in INPUT_FIELDS))
    return {job_id: inputs_and_mask(images) for job_id, images in by_job.items()}


INPUT_FIELDS = ("role", "sha256", "mime", "width", "height")
"""What `inputs_and_mask` reads of each of a job's input rows, in this order."""


def inputs_and_mask(
    images: Iterable[Sequence[Any]],
) -> tuple[tuple[StoredImage, ...], StoredImage | None]:
    """A job's inputs (in position order, as given) and its mask, from its input rows'
    INPUT_FIELDS: rows of jobs_inputs' query, or the JSON of storage.claims' claim."""
    inputs, mask = [], None
    for role, sha256, mime, width, height in images:
        image = StoredImage(sha256=sha256, mime=mime, width=width, height=height)
        if role == ImageRole.MASK:
            mask = image
        else:
            inputs.append(image)
    return tuple(inputs), mask


async def job_outputs(session: AsyncSession, *, job_id: str) -> list[StoredImage]:
    """A job's result images, in order."""
    rows = await job_images(session, job_id=job_id, role=ImageRole.OUTPUT)
    return [StoredImage(sha256=r.sha256, mime=r.mime, width=r.width, height=r.height) for r in rows]


async def job_images(
    session: AsyncSession, *, job_id: str, role: ImageRole | None = None
) -> list[JobImage]:
    """A job's images (of one role, or all), ordered by role then position."""
    if role is None:
        result = await run(session, _BY_JOB, {"job_id": job_id})
    else:
        result = await run(session, _BY_JOB_AND_ROLE, {"job_id": job_id, "role": role})
    return [JobImage(**row) for row in result.mappings()]
