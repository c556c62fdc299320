"""Job images: which blobs a job used as inputs and mask and which it produced.

The statements are built once, with bound parameters: every job runs them, and building a
statement costs more CPU than running it (bench/bench_queue.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ImageRole, JobImage
from storage.sql import run, table_of
from storage.threads import VersionImage

_images = table_of(JobImage)
_INSERT = insert(_images)
_BY_JOB = (
    select(*_images.c)
    .where(_images.c.job_id == bindparam("job_id"))
    .order_by(_images.c.role, _images.c.position)
)
_BY_JOB_AND_ROLE = (
    select(*_images.c)
    .where(_images.c.job_id == bindparam("job_id"), _images.c.role == bindparam("role"))
    .order_by(_images.c.position)
)


async def add_job_images(
    session: AsyncSession, *, job_id: str, role: ImageRole, images: Sequence[VersionImage]
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


async def job_images(
    session: AsyncSession, *, job_id: str, role: ImageRole | None = None
) -> list[JobImage]:
    """A job's images (of one role, or all), ordered by role then position."""
    if role is None:
        result = await run(session, _BY_JOB, {"job_id": job_id})
    else:
        result = await run(session, _BY_JOB_AND_ROLE, {"job_id": job_id, "role": role})
    return [JobImage(**row) for row in result.mappings()]
