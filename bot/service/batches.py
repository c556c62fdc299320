"""The buttons under a batch (n=2..4, one version with several images): Use N and Vary N.

Use N is free: image N becomes what its version stands for, and that version the current one,
so the next refinement, `compare` and `undo` start from it. Vary N is a new paid edit: the
same prompt and options again, from image N, as the next version of the thread.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.jobs import JobSpec, StoredImage
from bot.images.stored import load_image
from bot.service.context import Conversation, ServiceContext
from bot.service.enqueue import JobOrigin, queue_edit
from bot.service.inputs import version_gone
from bot.service.prepare import mask_of_region, prepare_from_images
from storage.db import write_session
from storage.models import ThreadVersion
from storage.threads import choose_image, version_images

NO_BATCH = "That edit has no images to choose from."


def no_such_image(version: int, index: int | None, count: int) -> str:
    """Said for Use N / Vary N when version `version` has no image N."""
    which = f"image {index}" if index is not None else "that image"
    return f"v{version} has no {which}; it has images 1 to {count}."


def image_chosen(version: int, index: int) -> str:
    """Said after Use N: what the thread builds on now."""
    return (
        f"Using image {index} of v{version}: it is the current version now, and a reply in "
        "this thread keeps editing from it."
    )


async def _pick(
    ctx: ServiceContext, convo: Conversation, *, job: JobSpec, index: int | None
) -> ThreadVersion | None:
    """The image `index` (1-based) of the job's version, or None once the person was told."""
    if job.edit_thread_id is None or job.version is None:
        await convo.say(NO_BATCH)
        return None
    async with ctx.sessions() as session:
        rows = await version_images(session, thread_id=job.edit_thread_id, version=job.version)
    if not rows:  # pruned past retention
        await convo.say(version_gone(job.version))
        return None
    picked = next((r for r in rows if index is not None and r.position == index - 1), None)
    if picked is None or picked.job_id != job.id:
        await convo.say(no_such_image(job.version, index, len(rows)))
        return None
    return picked


async def use_image(
    ctx: ServiceContext, convo: Conversation, *, job: JobSpec, index: int | None
) -> None:
    """Use N: image N of the job's version is the one the thread continues from."""
    picked = await _pick(ctx, convo, job=job, index=index)
    if picked is None or job.edit_thread_id is None:
        return
    async with write_session(ctx.sessions) as session:
        await choose_image(
            session,
            thread_id=job.edit_thread_id,
            version=picked.version,
            position=picked.position,
        )
    await convo.say(image_chosen(picked.version, picked.position + 1))


async def vary_image(
    ctx: ServiceContext, convo: Conversation, *, job: JobSpec, index: int | None
) -> None:
    """Vary N: the job's prompt and options again, from image N (a new paid edit)."""
    picked = await _pick(ctx, convo, job=job, index=index)
    if picked is None:
        return
    stored = StoredImage(
        sha256=picked.sha256, mime=picked.mime, width=picked.width, height=picked.height
    )
    try:
        image = await load_image(ctx.blobs, stored, name=f"v{picked.version}-{picked.position + 1}")
    except FileNotFoundError:
        await convo.say(version_gone(picked.version))
        return
    # mask= named an attachment of the first request; a region is redrawn on this image.
    options = replace(job.options, mask=None)
    prepared = prepare_from_images(
        prompt=job.prompt,
        options=options,
        images=[image],
        mask=await mask_of_region(options, [image]),
        provider=ctx.provider,
        table=ctx.table,
    )
    place = await convo.place()
    origin = JobOrigin(
        user=place.user,
        edit_thread_id=job.edit_thread_id,
        base_version=picked.version,
        parent_job_id=job.id,
    )
    await queue_edit(ctx, convo, prepared=prepared, origin=origin)
