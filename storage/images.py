"""Job images: which blobs a job used as inputs and mask and which it produced."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ImageRole, JobImage
from storage.sql import table_of
from storage.threads import VersionImage

_images = table_of(JobImage)


async def add_job_images(
    session: AsyncSession, *, job_id: str, role: ImageRole, images: Sequence[VersionImage]
) -> None:
    """Record a job's images of one role, in order (position 0, 1, ...)."""
    session.add_all(
        JobImage(
            job_id=job_id,
            role=role,
            position=i,
            sha256=image.sha256,
            mime=image.mime,
            width=image.width,
            height=image.height,
        )
        for i, image in enumerate(images)
    )
    await session.flush()


async def job_images(
    session: AsyncSession, *, job_id: str, role: ImageRole | None = None
) -> list[JobImage]:
    """A job's images (of one role, or all), ordered by role then position."""
    query = select(JobImage).where(_images.c.job_id == job_id)
    if role is not None:
        query = query.where(_images.c.role == role)
    return list((await session.exec(query.order_by(_images.c.role, _images.c.position))).all())
