"""The free thread commands: `undo`, `versions` (a contact sheet) and `compare` (side by side).

None of them reserves money or writes the ledger. Pillow work runs in a thread.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Mapping

from PIL import Image

from bot.core.messages import no_versions_yet, undo_done, undo_nothing, version_missing
from bot.core.ports import ResultImage
from bot.core.thread_commands import ThreadCommand, ThreadCommandKind
from bot.images.render import SheetVersion, compare, contact_sheet
from bot.service.context import Conversation, ServiceContext
from bot.service.thread_moves import run_move
from storage.db import write_session
from storage.models import EditThread, ThreadVersion
from storage.threads import get_version, list_versions, undo

log = logging.getLogger(__name__)


def nothing_to_compare(version: int) -> str:
    """Said for `compare` when the current version has none before it."""
    return f"Nothing to compare yet: v{version} is the first version. Say `compare 1 2` later."


async def run_thread_command(
    ctx: ServiceContext, convo: Conversation, *, thread: EditThread, command: ThreadCommand
) -> None:
    """Answer `undo`, `versions` or `compare` in the thread."""
    assert thread.id is not None
    if command.kind is ThreadCommandKind.UNDO:
        await convo.say(await undo_thread(ctx, thread_id=thread.id))
    elif command.kind is ThreadCommandKind.VERSIONS:
        await _versions(ctx, convo, thread_id=thread.id)
    elif command.kind is ThreadCommandKind.COMPARE:
        await _compare(ctx, convo, thread=thread, command=command)
    else:
        await run_move(ctx, convo, thread=thread, command=command)


async def undo_thread(ctx: ServiceContext, *, thread_id: int) -> str:
    """Step the thread's current version back one; the text that says what is current now."""
    async with write_session(ctx.sessions) as session:
        previous = await undo(session, thread_id=thread_id)
        if previous is not None:
            return undo_done(previous.version)
        thread = await session.get(EditThread, thread_id, populate_existing=True)
    if thread is None or thread.current_version == 0:
        return no_versions_yet()
    return undo_nothing()


async def _versions(ctx: ServiceContext, convo: Conversation, *, thread_id: int) -> None:
    async with ctx.sessions() as session:
        rows = await list_versions(session, thread_id=thread_id)
        thread = await session.get(EditThread, thread_id, populate_existing=True)
    if not rows or thread is None:
        await convo.say(no_versions_yet())
        return
    kept, missing = await _load(ctx, rows)
    if not kept:
        await convo.say("The images of this thread's versions are no longer stored.")
        return
    names = await _names(convo, [row for row, _ in kept])
    sheet = _sheet_versions(kept, names)
    png = await asyncio.to_thread(contact_sheet, sheet, current=thread.current_version)
    count = len({row.version for row in rows})
    plural = "version" if count == 1 else "versions"
    caption = f"{count} {plural}; v{thread.current_version} is current."
    if missing:
        caption += f" Not stored any more: {', '.join(f'v{n}' for n in missing)}."
    caption += " Reply `v2 <instruction>` to edit from an earlier one."
    image = await _png_image(png, "versions.png")
    await convo.show(image, caption=caption, alt_text=f"Thumbnails of versions 1 to {count}")


def _sheet_versions(
    kept: list[tuple[ThreadVersion, bytes]], names: Mapping[str, str]
) -> list[SheetVersion]:
    """One entry per version: a batch's images together, in position order."""
    by_version: dict[int, list[tuple[ThreadVersion, bytes]]] = {}
    for row, data in kept:
        by_version.setdefault(row.version, []).append((row, data))
    sheet = []
    for number, members in by_version.items():
        first = members[0][0]
        chosen = next((i for i, (row, _) in enumerate(members) if row.chosen), 0)
        sheet.append(
            SheetVersion(
                number=number,
                images=tuple(data for _, data in members),
                prompt=first.prompt,
                author=names.get(first.author or "", ""),
                chosen=chosen,
            )
        )
    return sheet


async def _names(convo: Conversation, rows: list[ThreadVersion]) -> Mapping[str, str]:
    """Display names of the versions' authors (never mentions); ids when the platform fails."""
    authors = sorted({row.author for row in rows if row.author})
    if not authors:
        return {}
    try:
        return await convo.chat.display_names(await convo.place(), authors)
    except Exception:  # a name is a nicety: the sheet still shows the versions
        log.warning("could not look up display names", exc_info=True)
        return {author: author for author in authors}


async def _compare(
    ctx: ServiceContext, convo: Conversation, *, thread: EditThread, command: ThreadCommand
) -> None:
    assert thread.id is not None
    if thread.current_version == 0:
        await convo.say(no_versions_yet())
        return
    if command.versions is not None:
        before_n, after_n = command.versions
    elif command.version is not None:
        before_n, after_n = command.version, thread.current_version
    else:
        after_n = thread.current_version
        async with ctx.sessions() as session:
            rows = await list_versions(session, thread_id=thread.id)
        earlier = [r.version for r in rows if r.version < after_n]
        if not earlier:
            await convo.say(nothing_to_compare(after_n))
            return
        before_n = earlier[-1]
    async with ctx.sessions() as session:
        pair = [
            await get_version(session, thread_id=thread.id, version=n) for n in (before_n, after_n)
        ]
    for n, row in zip((before_n, after_n), pair, strict=True):
        if row is None:
            await convo.say(version_missing(n, thread.last_version))
            return
    before, after = (row for row in pair if row is not None)
    kept, missing = await _load(ctx, [before, after])
    if missing:
        await convo.say(f"The image of v{missing[0]} is no longer stored.")
        return
    names = await _names(convo, [before, after])
    labels = tuple(_label(row, names) for row in (before, after))
    png = await asyncio.to_thread(
        compare,
        kept[0][1],
        kept[1][1],
        labels=(labels[0], labels[1]),
        captions=(before.prompt, after.prompt),
    )
    image = await _png_image(png, f"compare-v{before_n}-v{after_n}.png")
    await convo.show(
        image,
        caption=f"v{before_n} (left) and v{after_n} (right).",
        alt_text=f"Version {before_n} and version {after_n} side by side",
    )


def _label(row: ThreadVersion, names: Mapping[str, str]) -> str:
    name = names.get(row.author or "", "")
    return f"v{row.version} · {name}" if name else f"v{row.version}"


async def _load(
    ctx: ServiceContext, rows: list[ThreadVersion]
) -> tuple[list[tuple[ThreadVersion, bytes]], list[int]]:
    """(row, bytes) of the stored ones, and the numbers of versions whose blob is gone."""
    results = await asyncio.gather(
        *(ctx.blobs.get(row.sha256) for row in rows), return_exceptions=True
    )
    kept: list[tuple[ThreadVersion, bytes]] = []
    missing: list[int] = []
    for row, result in zip(rows, results, strict=True):
        if isinstance(result, FileNotFoundError):
            if row.version not in missing:
                missing.append(row.version)
        elif isinstance(result, BaseException):
            raise result
        else:
            kept.append((row, result))
    return kept, missing


async def _png_image(png: bytes, filename: str) -> ResultImage:
    width, height = await asyncio.to_thread(_size_of, png)
    return ResultImage(data=png, mime="image/png", filename=filename, width=width, height=height)


def _size_of(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as im:
        return im.size
