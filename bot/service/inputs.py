"""Which images an edit starts from: its attachments, a thread version, or the thread's images.

In order: the attachments of the message; in an edit thread, the current version (or the one
named by `v2 <instruction>`); else the newest image already in the platform thread; else the
person is asked to attach one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.domain import Attachment, NormalizedImage, Place
from bot.core.errors import UserInputError
from bot.core.messages import version_missing
from bot.core.options import PROMPT_EXAMPLE
from bot.core.ports import BlobStore, ChatPort
from bot.service.prepare import InputFile
from storage.db import Sessions
from storage.models import EditThread, ThreadVersion
from storage.threads import current_version, get_version

ATTACH_AN_IMAGE = (
    f"Attach an image to edit and say what to change, for example: `{PROMPT_EXAMPLE}`. "
    "In an edit thread, a reply without an image refines the latest version."
)


def version_gone(version: int) -> str:
    """Said when a version's image was pruned (past retention)."""
    return (
        f"The image of v{version} is no longer stored (older than the retention period). "
        "Attach the image again to keep editing it."
    )


@dataclass(frozen=True)
class Inputs:
    """What an edit starts from: raw files to normalize, or stored (normalized) images."""

    files: tuple[InputFile, ...] = ()
    images: tuple[NormalizedImage, ...] = ()
    base_version: int | None = None


async def resolve_inputs(
    *,
    chat: ChatPort,
    blobs: BlobStore,
    sessions: Sessions,
    place: Place,
    attachments: tuple[Attachment, ...],
    thread: EditThread | None,
    from_version: int | None,
) -> Inputs:
    """Pick the input images; raise UserInputError (shown) when there is none to use.

    Args:
        place: where the request came from; its platform thread's images are the fallback.
        thread: the edit thread of the place, when editbot has one there.
        from_version: `v2 ...` asked to start from this version (None: the current one).
    """
    if attachments:
        return Inputs(files=await fetch_all(attachments))
    if thread is not None and thread.id is not None:
        stored = await _version_input(
            sessions, blobs, thread=thread, thread_id=thread.id, from_version=from_version
        )
        if stored is not None:
            return stored
    if place.thread is not None:
        in_thread = await chat.thread_images(place)
        if in_thread:
            # Newest first: the image the person most likely means.
            return Inputs(files=await fetch_all(in_thread[:1]))
    raise UserInputError(ATTACH_AN_IMAGE)


async def fetch_all(attachments: Sequence[Attachment]) -> tuple[InputFile, ...]:
    """Download attachments concurrently; a UserError from the adapter's fetch propagates."""
    data = await asyncio.gather(*(a.fetch() for a in attachments))
    return tuple(InputFile(name=a.name, data=d) for a, d in zip(attachments, data, strict=True))


async def _version_input(
    sessions: Sessions,
    blobs: BlobStore,
    *,
    thread: EditThread,
    thread_id: int,
    from_version: int | None,
) -> Inputs | None:
    row: ThreadVersion | None
    async with sessions() as session:
        if from_version is not None:
            row = await get_version(session, thread_id=thread_id, version=from_version)
            if row is None:
                raise UserInputError(version_missing(from_version, thread.last_version))
        else:
            row = await current_version(session, thread_id=thread_id)
    if row is None:
        return None
    try:
        data = await blobs.get(row.sha256)
    except FileNotFoundError:
        if from_version is not None:
            raise UserInputError(version_gone(row.version)) from None
        # The current version was pruned: fall back to the images in the thread.
        return None
    image = NormalizedImage(
        data=data,
        mime=row.mime,
        width=row.width,
        height=row.height,
        sha256=row.sha256,
        name=f"v{row.version}",
    )
    return Inputs(images=(image,), base_version=row.version)
