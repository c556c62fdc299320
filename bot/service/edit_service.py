"""EditService: the platform-neutral heart of editbot (implements bot.core.ports.EditServicePort).

submit: the inbox (bot.service.intake: durable, deduplicated) -> route (a free thread
command, or an edit) -> options, parsed once -> inputs -> prepare (intake, priced once) ->
confirm or reserve -> enqueue -> the "queued" status message. The workers (bot.jobs) take
it from there. press: the buttons. budget: `/edit-budget`. Every answer goes through the
ChatPort of the place's platform; only UserError texts are shown verbatim.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from bot.core.access import is_admin
from bot.core.config import Settings
from bot.core.domain import EditOptions, IncomingEdit, Place, ProviderName
from bot.core.errors import OptionError, UserError
from bot.core.home import HomeView
from bot.core.jobs import short_ref
from bot.core.messages import failure_for_user, no_versions_yet, thread_title
from bot.core.options import parse_options
from bot.core.ports import ActionPress, BlobStore, BudgetReply, ChatPort
from bot.core.pricing import PriceTable
from bot.images.intake import ImageLimits
from bot.service.budget import budget_command
from bot.service.buttons import handle_press
from bot.service.confirm import sweep_expired
from bot.service.context import Conversation, ServiceContext
from bot.service.enqueue import JobOrigin, queue_edit
from bot.service.home import home_view
from bot.service.inputs import Inputs, resolve_inputs
from bot.service.intake import Intake
from bot.service.prepare import (
    PreparedEdit,
    mask_of_region,
    prepare_edit,
    prepare_from_images,
)
from bot.service.routing import DidYouMean, FreeCommand, Help, NoVersionsYet, route
from bot.service.thread_moves import HELP_TEXT, answer_privately, did_you_mean
from bot.service.versions import run_thread_command
from storage.columns import utcnow
from storage.db import Sessions, write_session
from storage.events import claim_event
from storage.models import EditThread
from storage.threads import find_thread

log = logging.getLogger(__name__)


class EditService:
    """Takes edit requests, button presses and budget commands from every adapter."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        blobs: BlobStore,
        chats: Mapping[str, ChatPort],
        settings: Settings,
        table: PriceTable,
        provider: ProviderName,
        on_enqueued: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        owner: str = "editbot",
    ) -> None:
        self.intake = Intake(sessions=sessions, owner=owner, clock=clock)
        """The inbox of acknowledged requests (owner: this process's lease owner name)."""
        self._replays: set[asyncio.Task[None]] = set()
        self._ctx = ServiceContext(
            sessions=sessions,
            blobs=blobs,
            chats=chats,
            settings=settings,
            table=table,
            provider=provider,
            clock=clock,
            on_enqueued=on_enqueued,
        )

    async def accept(self, edit: IncomingEdit) -> bool:
        """Record a request durably before the platform is acknowledged; False: seen before."""
        return await self.intake.accept(edit)

    async def submit(self, edit: IncomingEdit) -> None:
        """Take an edit request; returns once it is queued or the person was told why not."""
        if not await self.intake.take(edit):
            return
        chat = self._ctx.chat(edit.place.platform)
        convo = Conversation(
            chat, edit.place, title=thread_title(edit.text), anchor=edit.message_id
        )
        queued = False
        try:
            queued = await self._submit(edit, convo)
        except UserError as exc:
            # A mistake is the person's business: told to them only, no thread opened for it.
            await _tell_privately(chat, edit.place, str(exc), ref=edit.event_key)
        except Exception:
            ref = short_ref(edit.event_key)
            log.exception("edit request %s failed (ref=%s)", edit.event_key, ref)
            await _tell(convo, failure_for_user("internal", edit.event_key), ref=edit.event_key)
        # Answered (refused, told why not, a free command): out of the inbox. A queued edit
        # left it in the transaction that queued its jobs; a crash before here replays it.
        if not queued:
            await self.intake.done(edit.event_key)

    async def adopt_intake(self, owners: Sequence[str]) -> int:
        """Take over the inbox entries of dead processes and handle them as if just sent;
        how many were taken (their handling goes on in the background)."""
        edits = await self.intake.adopt(owners, platforms=list(self._ctx.chats))
        for edit in edits:
            task = asyncio.create_task(self.submit(edit), name=f"replay-{edit.event_key}")
            self._replays.add(task)
            task.add_done_callback(self._replays.discard)
        return len(edits)

    async def press(self, press: ActionPress) -> None:
        """Handle a button: retry, undo, high quality, confirm, cancel."""
        if not await self._claim(press.event_key):
            return
        try:
            await handle_press(self._ctx, press)
        except UserError as exc:
            chat = self._ctx.chat(press.place.platform)
            await _tell_privately(chat, press.place, str(exc), ref=press.event_key)
        except Exception:
            log.exception("button %s on job %s failed", press.action, press.job_id)
            await self._tell_at(
                press.place, failure_for_user("internal", press.job_id), ref=press.event_key
            )

    async def budget(self, place: Place, args: str, *, platform_admin: bool) -> BudgetReply:
        """`/edit-budget ARGS` for the channel of `place`."""
        return await budget_command(
            self._ctx.sessions,
            place=place,
            args=args,
            is_admin=is_admin(
                user=place.user,
                platform_admin=platform_admin,
                admin_ids=self._ctx.settings.admin_ids,
            ),
            defaults=self._ctx.defaults,
            now=self._ctx.clock(),
            chat=self._ctx.chats.get(place.platform),
            admin_ids=self._ctx.settings.admin_ids,
        )

    async def home(self, place: Place, *, platform_admin: bool) -> HomeView:
        """The person's Home view: recent edits, their channels' budgets (bot.service.home)."""
        return await home_view(
            self._ctx.sessions,
            self._ctx.settings,
            place,
            platform_admin=platform_admin,
            now=self._ctx.clock(),
        )

    async def sweep_expired(self) -> int:
        """Drop edits left unconfirmed for 10 minutes; returns how many jobs were dropped."""
        return await sweep_expired(self._ctx)

    async def _claim(self, key: str) -> bool:
        # Button presses: its own short transaction, so concurrent duplicates stop here.
        async with write_session(self._ctx.sessions) as session:
            return await claim_event(session, key, now=self._ctx.clock())

    async def _submit(self, edit: IncomingEdit, convo: Conversation) -> bool:
        """Handle the request; True when jobs were made (their transaction cleared the inbox)."""
        place = edit.place
        thread = await self._edit_thread(place)
        where = route(
            text=edit.text,
            in_thread=place.thread is not None,
            edit_thread=thread is not None,
            attachments=bool(edit.attachments),
        )
        if isinstance(where, Help):
            await answer_privately(self._ctx, place, HELP_TEXT)
            return False
        if isinstance(where, DidYouMean):
            await answer_privately(self._ctx, place, did_you_mean(where.suggestion))
            return False
        if isinstance(where, NoVersionsYet):
            await convo.say(no_versions_yet())
            return False
        if isinstance(where, FreeCommand):
            assert thread is not None
            await run_thread_command(self._ctx, convo, thread=thread, command=where.command)
            return False
        # Options first, and only once: a typo costs no download.
        prompt, options = parse_options(
            where.text, max_n=self._ctx.settings.max_n, picks=edit.picks
        )
        inputs = await resolve_inputs(
            chat=convo.chat,
            blobs=self._ctx.blobs,
            sessions=self._ctx.sessions,
            place=place,
            attachments=edit.attachments,
            thread=thread,
            from_version=where.from_version,
        )
        prepared = await self._prepare(prompt, options, inputs)
        origin = JobOrigin(
            user=place.user,
            edit_thread_id=thread.id if thread is not None else None,
            base_version=inputs.base_version,
            event_key=edit.event_key,
        )
        made = await queue_edit(self._ctx, convo, prepared=prepared, origin=origin)
        return bool(made.job_ids)

    async def _prepare(self, prompt: str, options: EditOptions, inputs: Inputs) -> PreparedEdit:
        if inputs.files:
            return await prepare_edit(
                prompt=prompt,
                options=options,
                files=inputs.files,
                limits=ImageLimits.from_settings(self._ctx.settings),
                provider=self._ctx.provider,
                table=self._ctx.table,
            )
        if options.mask is not None:
            raise OptionError(
                "mask= names an attachment, and this message has none: attach the image "
                "and the mask together."
            )
        return prepare_from_images(
            prompt=prompt,
            options=options,
            images=inputs.images,
            mask=await mask_of_region(options, inputs.images),
            provider=self._ctx.provider,
            table=self._ctx.table,
        )

    async def _edit_thread(self, place: Place) -> EditThread | None:
        if place.thread is None:
            return None
        async with self._ctx.sessions() as session:
            return await find_thread(
                session,
                platform=place.platform,
                workspace=place.workspace,
                channel=place.channel,
                thread=place.thread,
            )

    async def _tell_at(self, place: Place, text: str, *, ref: str) -> None:
        try:
            await self._ctx.chat(place.platform).post_text(place, text)
        except Exception:
            log.exception("could not tell the user about %s", ref)


async def _tell(convo: Conversation, text: str, *, ref: str) -> None:
    """Say `text`; a chat failure here is logged, never raised over the original problem."""
    try:
        await convo.say(text)
    except Exception:
        log.exception("could not tell the user about %s", ref)


async def _tell_privately(chat: ChatPort, place: Place, text: str, *, ref: str) -> None:
    """Tell `place.user` only; a chat failure here is logged, never raised."""
    try:
        await chat.post_private(place, text)
    except Exception:
        log.exception("could not tell the user about %s", ref)
