"""The buttons: retry, high quality, undo, confirm, cancel, use N, vary N and the cheaper
edits of a refusal, each acting on a job id."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core.access import may_act_for
from bot.core.domain import EditOptions, Quality
from bot.core.errors import PlatformError
from bot.core.jobs import FINISHED, JobSpec, JobStatus, JobWithInputs
from bot.core.messages import thread_title
from bot.core.ports import Action, ActionPress, ChatPort, MessageRef
from bot.images.stored import load_request
from bot.service.batches import use_image, vary_image
from bot.service.budget_alerts import cheaper_options
from bot.service.confirm import NOT_WAITING, cancel_edit, confirm_edit
from bot.service.context import Conversation, ServiceContext
from bot.service.enqueue import JobOrigin, queue_edit
from bot.service.prepare import PreparedEdit, prepare_from_images
from bot.service.versions import undo_thread
from storage.db import write_session
from storage.images import job_inputs
from storage.models import EditThread
from storage.presses import claim_press
from storage.queue import batch_of, get_job
from storage.refused import RAN_CHEAPER, REFUSED

log = logging.getLogger(__name__)

UNKNOWN_JOB = "That button belongs to an edit editbot no longer knows about."
STILL_RUNNING = "That edit has not finished yet; retry it once its result is in."
INPUTS_GONE = (
    "The images of that edit are no longer stored (past retention). Attach them again to edit."
)
NO_THREAD = "That edit has no versions to undo."
CONFIRMED = "Confirmed, editing..."
ALREADY_RAN = "That edit already ran at a lower cost: see the thread. Nothing more was charged."
NOT_REFUSED = "That edit was not refused by the budget, so there is no cheaper run to start."
NO_VARIANT = "That button no longer matches a cheaper edit; send the edit again instead."


def only_requester(requester: str, verb: str) -> str:
    """Said (privately) when someone else presses Confirm or Cancel; `requester` is a name."""
    return f"Only {requester} (who asked for this edit) or an admin can {verb} it."


async def _first_press(ctx: ServiceContext, press: ActionPress) -> bool:
    """Whether to act: a repeat of this person's press of this button within seconds is not.

    In the database, so two processes receiving the two presses agree."""
    async with write_session(ctx.sessions) as session:
        return await claim_press(
            session,
            job_id=press.job_id,
            # Use 1 and Use 2 are different buttons: the image is part of what was pressed.
            action=press.action.value + (f":{press.index}" if press.index is not None else ""),
            user=press.place.user,
            now=ctx.clock(),
        )


async def mark_pressed(chat: ChatPort, press: ActionPress, note: str) -> None:
    """The pressed message says what the press does; failing to say it stops nothing."""
    if press.message_id is None:
        return
    try:
        await chat.mark_pressed(MessageRef(place=press.place, message_id=press.message_id), note)
    except (PlatformError, ConnectionError):
        log.warning("could not mark message %s as pressed", press.message_id, exc_info=True)


async def undo_result(ctx: ServiceContext, *, job: JobSpec) -> str:
    """Undo under a result acts on that result: the version before it becomes current.

    Under a result that is no longer current, nothing changes and the answer says so."""
    assert job.edit_thread_id is not None
    async with ctx.sessions() as session:
        thread = await session.get(EditThread, job.edit_thread_id, populate_existing=True)
    if thread is None:
        return NO_THREAD
    if job.version is not None and thread.current_version != job.version:
        return (
            f"v{job.version} is not the current version (v{thread.current_version} is), so "
            f"nothing changed. Say `use v{job.version}` to go back to it."
        )
    return await undo_thread(ctx, thread_id=job.edit_thread_id)


async def handle_press(ctx: ServiceContext, press: ActionPress) -> None:
    """Run one button press (already deduped by its event key)."""
    async with ctx.sessions() as session:
        job = await get_job(session, press.job_id)
    chat = ctx.chat(press.place.platform)
    if job is None or job.scope != press.place.scope:
        await chat.post_private(press.place, UNKNOWN_JOB)
        return
    if not await _first_press(ctx, press):
        return  # the same person pressed the same button seconds ago: that press is acting
    # Answers go to the job's thread, from the person who pressed.
    place = replace(job.place, user=press.place.user)
    convo = Conversation(chat, place, title=thread_title(job.prompt), anchor=None)
    if press.action in (Action.RETRY, Action.HIGH_QUALITY):
        await _rerun(ctx, convo, job=job, press=press)
    elif press.action is Action.UNDO:
        if job.edit_thread_id is None:
            await convo.say(NO_THREAD)
        else:
            await convo.say(await undo_result(ctx, job=job))
    elif press.action in (Action.CONFIRM, Action.CANCEL):
        await _answer(ctx, convo, job=job, press=press)
    elif press.action is Action.USE:
        await use_image(ctx, convo, job=job, index=press.index)
    elif press.action is Action.VARY:
        await vary_image(ctx, convo, job=job, index=press.index)
    elif press.action is Action.CHEAPER:
        await _run_cheaper(ctx, convo, job=job, press=press)
    else:
        raise ValueError(f"unknown action {press.action!r}")


async def _may_act(
    ctx: ServiceContext, chat: ChatPort, *, job: JobSpec, press: ActionPress, verb: str
) -> bool:
    """Whether the presser is the requester or an admin; a stranger is told so privately,
    with the requester's name (nobody is pinged)."""
    requester = job.place.user
    if may_act_for(
        requester=requester,
        user=press.place.user,
        platform_admin=press.platform_admin,
        admin_ids=ctx.settings.admin_ids,
    ):
        return True
    names = await chat.display_names(press.place, [requester])
    await chat.post_private(press.place, only_requester(names[requester], verb))
    return False


async def _answer(
    ctx: ServiceContext, convo: Conversation, *, job: JobSpec, press: ActionPress
) -> None:
    """Confirm or Cancel: only the requester or an admin, only while the edit waits."""
    verb = "confirm" if press.action is Action.CONFIRM else "cancel"
    if not await _may_act(ctx, convo.chat, job=job, press=press, verb=verb):
        return
    if job.status is not JobStatus.AWAITING_CONFIRM:
        await convo.say(NOT_WAITING)
    elif press.action is Action.CONFIRM:
        if press.message_id != job.status_message_id:  # else confirming updates it anyway
            await mark_pressed(convo.chat, press, CONFIRMED)
        await confirm_edit(ctx, convo, job=job)
    else:
        await cancel_edit(ctx, convo, job=job)


async def _rerun(
    ctx: ServiceContext, convo: Conversation, *, job: JobSpec, press: ActionPress
) -> None:
    """The same inputs and options again as a new job (a new sample), or at quality=high."""
    high = press.action is Action.HIGH_QUALITY
    if job.status not in FINISHED:
        await convo.say(STILL_RUNNING)
        return
    async with ctx.sessions() as session:
        inputs, mask = await job_inputs(session, job_id=job.id)
    try:
        request = await load_request(ctx.blobs, JobWithInputs(job, inputs, mask))
    except FileNotFoundError:
        await convo.say(INPUTS_GONE)
        return
    options = replace(job.options, quality=Quality.HIGH) if high else job.options
    prepared = prepare_from_images(
        prompt=job.prompt,
        options=options,
        images=request.images,
        mask=request.mask,
        provider=ctx.provider,
        table=ctx.table,
    )
    place = await convo.place()
    origin = JobOrigin(
        user=place.user,
        edit_thread_id=job.edit_thread_id,
        base_version=job.base_version,
        parent_job_id=job.id,
    )
    queued = await queue_edit(ctx, convo, prepared=prepared, origin=origin)
    if queued.status is JobStatus.QUEUED:
        # The pressed message shows what the press did (once: a repeat never gets here).
        note = await _rerun_note(ctx, job, high=high)
        if press.message_id is None:
            await convo.chat.post_private(place, note)
        else:
            await mark_pressed(convo.chat, press, note)


async def _rerun_note(ctx: ServiceContext, job: JobSpec, *, high: bool) -> str:
    """`Retrying as v7...`: the version the new job will most likely become."""
    what = "Making a high-quality version" if high else "Retrying"
    if job.edit_thread_id is None:
        return f"{what}..."
    async with ctx.sessions() as session:
        thread = await session.get(EditThread, job.edit_thread_id, populate_existing=True)
    if thread is None:
        return f"{what}..."
    return f"{what} as v{thread.last_version + 1}..."


async def _run_cheaper(
    ctx: ServiceContext, convo: Conversation, *, job: JobSpec, press: ActionPress
) -> None:
    """A refused edit again at the cheaper variant pressed, as the requester's edit, once."""
    if not await _may_act(ctx, convo.chat, job=job, press=press, verb="run"):
        return
    if job.status is not JobStatus.CANCELLED or job.error not in (REFUSED, RAN_CHEAPER):
        await convo.chat.post_private(press.place, NOT_REFUSED)
        return
    if job.error == RAN_CHEAPER:  # the claim in queue_edit decides; this spares the work
        await convo.chat.post_private(press.place, ALREADY_RAN)
        return
    variants = cheaper_options(job.options)
    if press.index is None or not 1 <= press.index <= len(variants):
        await convo.chat.post_private(press.place, NO_VARIANT)
        return
    what, options = variants[press.index - 1]
    prepared = await _refused_edit(ctx, job, options)
    if prepared is None:
        await convo.say(INPUTS_GONE)
        return
    origin = JobOrigin(
        user=job.place.user,
        edit_thread_id=job.edit_thread_id,
        base_version=job.base_version,
        parent_job_id=job.id,
        runs_refused=job.id,
    )
    queued = await queue_edit(ctx, convo, prepared=prepared, origin=origin)
    if queued.already_ran:
        await convo.chat.post_private(press.place, ALREADY_RAN)
    elif queued.job_ids and press.message_id is None:
        await convo.chat.post_private(press.place, f"Running at {what}...")
    elif queued.job_ids:
        await mark_pressed(convo.chat, press, f"Running at {what}...")


async def _refused_edit(
    ctx: ServiceContext, job: JobSpec, options: EditOptions
) -> PreparedEdit | None:
    """The refused request (every job of its batch) prepared again with `options`, from its
    stored inputs; None when they are gone."""
    async with ctx.sessions() as session:
        batch = await batch_of(session, job)
        stored = [(member, *await job_inputs(session, job_id=member.id)) for member in batch]
    try:
        requests = [
            await load_request(ctx.blobs, JobWithInputs(member, inputs, mask))
            for member, inputs, mask in stored
        ]
    except FileNotFoundError:
        return None
    return prepare_from_images(
        prompt=job.prompt,
        options=options,
        images=[image for request in requests for image in request.images],
        mask=requests[0].mask,
        provider=ctx.provider,
        table=ctx.table,
    )
