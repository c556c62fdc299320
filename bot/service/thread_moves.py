"""The free commands besides versions and compare: `help`, "did you mean ...?", `use vN`,
`redo` and `cancel`. None of them reserves money; help and mistakes answer the person only."""

from __future__ import annotations

from bot.core.domain import Place
from bot.core.messages import no_versions_yet, version_missing
from bot.core.thread_commands import ThreadCommand, ThreadCommandKind
from bot.service.context import Conversation, ServiceContext
from storage.budgets import refund
from storage.db import write_session
from storage.models import EditThread
from storage.queue import cancel
from storage.thread_moves import redo, set_current, waiting_jobs

HELP_TEXT = (
    "editbot edits images. Mention me with an image and say what to change, "
    "e.g. `@editbot swap the background for a beige wall quality=high`.\n"
    "Options: `quality=low|medium|high`, `aspect=4:5`, `resolution=1k|2k|4k`, `n=2` "
    "(variants), `format=png|jpeg|webp`, `background=transparent`, `mask=2`, `mode=each`.\n"
    "In an edit thread, reply to refine the current version, or (free): `versions`, "
    "`undo`, `redo`, `use v2`, `v2 <change>` (edit from v2), `compare v1 v3`, `cancel`, `help`.\n"
    "Budget: `/edit-budget show` (only you see it)."
)


def did_you_mean(suggestion: str) -> str:
    """Said instead of running a short message that looks like a mistyped command."""
    return (
        f"Did you mean `{suggestion}`? Nothing was run or charged. To edit the image with "
        "these words, say a little more (e.g. `make it ...`); `help` lists the commands."
    )


async def answer_privately(ctx: ServiceContext, place: Place, text: str) -> None:
    """Help and mistakes go to the person only (Slack: ephemeral in the thread)."""
    await ctx.chat(place.platform).post_private(place, text)


async def run_move(
    ctx: ServiceContext, convo: Conversation, *, thread: EditThread, command: ThreadCommand
) -> None:
    """`use vN`, `redo`, `cancel` or `help` in an edit thread."""
    assert thread.id is not None
    place = await convo.place()
    if command.kind is ThreadCommandKind.HELP:
        await answer_privately(ctx, place, HELP_TEXT)
    elif command.kind is ThreadCommandKind.USE:
        assert command.version is not None
        async with write_session(ctx.sessions) as session:
            done = await set_current(session, thread_id=thread.id, version=command.version)
        if done:
            await convo.say(
                f"v{command.version} is the current version now. Reply to keep editing from it."
            )
        else:
            await convo.say(version_missing(command.version, thread.last_version))
    elif command.kind is ThreadCommandKind.REDO:
        async with write_session(ctx.sessions) as session:
            version = await redo(session, thread_id=thread.id)
        if version is not None:
            await convo.say(f"Redone: v{version} is the current version again.")
        elif thread.current_version == 0:
            await convo.say(no_versions_yet())
        else:
            await convo.say(f"Nothing to redo: v{thread.current_version} is the latest here.")
    elif command.kind is ThreadCommandKind.CANCEL:
        await convo.say(await _cancel_waiting(ctx, thread_id=thread.id, user=place.user))
    else:
        raise ValueError(f"not a thread move: {command.kind}")


async def _cancel_waiting(ctx: ServiceContext, *, thread_id: int, user: str) -> str:
    now = ctx.clock()
    async with write_session(ctx.sessions) as session:
        dropped = 0
        for job_id in await waiting_jobs(session, thread_id=thread_id, user=user):
            if await cancel(session, job_id=job_id, error="cancelled", now=now):
                await refund(session, job_id=job_id, now=now)
                dropped += 1
    if dropped == 0:
        return "Nothing of yours is waiting to run in this thread; running edits finish."
    edits = "1 edit" if dropped == 1 else f"{dropped} edits"
    return f"Cancelled {edits} that had not started. Nothing was charged for them."
