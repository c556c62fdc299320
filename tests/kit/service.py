"""The kit's fake EditServicePort, for adapter tests on either platform.

It makes a round trip visible: it dedupes on event_key like the core, fetches the inputs through
the adapter (the edit's attachments, or ChatPort.thread_images), runs the core's real intake
(bot.images.intake.normalize_image), and posts through the adapter's ChatPort a result that is
the input inverted, captioned with the prompt: an output that depends on the input.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.core.domain import IncomingEdit, Place
from bot.core.errors import UserError
from bot.core.home import ChannelBudget, EditSummary, HomeView
from bot.core.ports import Action, ActionButton, ActionPress, BudgetReply, ChatPort, ResultImage
from bot.images.intake import ImageLimits, normalize_image
from tests.kit.images import invert, solid

CAP_MICROS = 20_000_000
"""Every channel's budget until a `set`."""
REFUSED = (
    "This channel's budget is used up: $20.00 of $20.00 spent this month; this edit would cost "
    "about $0.05. An admin can raise it with /edit-budget set."
)


def job_id_for(event_key: str) -> str:
    """The fake's job id for an edit: derived from its event key (hex, as the core's are)."""
    return hashlib.sha1(event_key.encode()).hexdigest()[:16]


@dataclass
class FakeEditService:
    """In-memory stand-in for bot.service.edit_service.EditService (see the module doc).

    `chats` may be filled after construction, as the composition root fills the real core's
    (the Discord ChatPort only exists once the bot that is handed this service does).
    """

    chats: Mapping[str, ChatPort]
    limits: ImageLimits = field(default_factory=ImageLimits)
    hold: bool = False
    """When set, submit records the edit and stops (a process that dies mid-job)."""
    gate: asyncio.Event | None = None
    """When set, submit and budget wait for it after recording the call (work after the ack)."""
    budget_left_micros: int = 10_000_000
    """0 refuses every edit, as the core would once the budget is spent."""
    charts: bool = False
    """`show` answers with a chart too (the real core always does); else only `show chart`."""
    result_scale: int = 1
    result_override: bytes | None = None
    """Post these bytes as the result instead of the inverted input (upload-limit tests)."""
    caps: dict[str, int] = field(default_factory=dict)
    accepted: list[IncomingEdit] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    """Event keys `accept` saw (adapters call it before acknowledging the platform)."""
    duplicates: list[str] = field(default_factory=list)
    presses: list[ActionPress] = field(default_factory=list)
    budget_calls: list[tuple[Place, str, bool]] = field(default_factory=list)
    finished: list[Place] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)

    def chat(self, place: Place) -> ChatPort:
        return self.chats[place.platform]

    async def accept(self, edit: IncomingEdit) -> bool:
        """Recorded in `acked` (what the adapter stored before its ack)."""
        fresh = edit.event_key not in self.acked
        self.acked.append(edit.event_key)
        return fresh

    async def submit(self, edit: IncomingEdit) -> None:
        if edit.event_key in {e.event_key for e in self.accepted}:
            self.duplicates.append(edit.event_key)
            return
        self.accepted.append(edit)
        if self.gate is not None:
            await self.gate.wait()
        if self.hold:
            return
        chat = self.chat(edit.place)
        place = await chat.open_thread(edit.place, title=edit.text, anchor=edit.message_id)
        status = await chat.post_text(place, "queued (0 ahead)")
        try:
            result, name = await self._result(edit, place)
        except UserError as exc:
            await chat.update_text(status, str(exc))
            self.finished.append(place)
            return
        job = job_id_for(edit.event_key)
        self.job_ids.append(job)
        await self.deliver(place, prompt=edit.text, result=result, job_id=job)
        await chat.update_text(status, f"done: v1 of {name}")

    async def _result(self, edit: IncomingEdit, place: Place) -> tuple[ResultImage, str]:
        if self.budget_left_micros <= 0:
            raise UserError(REFUSED)
        inputs = edit.attachments or tuple(await self.chat(place).thread_images(place))
        if not inputs:
            raise UserError("Attach an image, or mention me in a thread that has one.")
        first = inputs[0]
        raw = await first.fetch()
        # The core's real intake decides what is an image; the result inverts what was sent.
        await normalize_image(raw, name=first.name, limits=self.limits)
        if self.result_override is not None:
            data, width, height = self.result_override, 1, 1
        else:
            data, width, height = await asyncio.to_thread(invert, raw, scale=self.result_scale)
        return ResultImage(data, "image/png", "edit-v1.png", width, height), first.name

    async def deliver(self, place: Place, *, prompt: str, result: ResultImage, job_id: str) -> None:
        """Post a result the way the core's worker does, from nothing but the Place."""
        await self.chat(place).post_images(
            place,
            images=[result],
            caption=f"v1 · {prompt}",
            alt_text=prompt,
            actions=[
                ActionButton(Action.RETRY, job_id, "Retry"),
                ActionButton(Action.UNDO, job_id, "Undo"),
                ActionButton(Action.HIGH_QUALITY, job_id, "High quality"),
            ],
        )
        self.finished.append(place)

    async def press(self, press: ActionPress) -> None:
        self.presses.append(press)
        await self.chat(press.place).post_text(press.place, f"{press.action.value} {press.job_id}")

    async def home(self, place: Place, *, platform_admin: bool) -> HomeView:
        """The person's accepted edits (newest first) and their channels at the fake's cap."""
        mine = [
            e
            for e in reversed(self.accepted)
            if (e.place.workspace, e.place.user) == (place.workspace, place.user)
        ]
        edits = tuple(
            EditSummary(
                job_id=job_id_for(e.event_key),
                place=e.place,
                prompt=e.text,
                status="succeeded" if e.place in self.finished else "queued",
                cost_micros=CAP_MICROS - self.budget_left_micros,
                created_at=datetime.now(UTC),
            )
            for e in mine
        )
        channels = dict.fromkeys(e.place.scope for e in mine)
        budgets = tuple(
            ChannelBudget(
                scope, scope.rsplit(":", 1)[-1], "month", 0, 0, self.caps.get(scope, CAP_MICROS)
            )
            for scope in channels
        )
        return HomeView(
            edits=edits,
            budgets=budgets,
            help_text="help",
            admin=platform_admin,
            all_channels=budgets if platform_admin else (),
        )

    async def budget(self, place: Place, args: str, *, platform_admin: bool) -> BudgetReply:
        self.budget_calls.append((place, args, platform_admin))
        if self.gate is not None:
            await self.gate.wait()
        words = args.split()
        verb = words[0] if words else "show"
        cap = self.caps.get(place.scope, CAP_MICROS)
        if verb == "set":
            if not platform_admin:
                return BudgetReply("Only an admin can change the budget.")
            self.caps[place.scope] = cap = int(float(words[1]) * 1_000_000)
            return BudgetReply(f"Budget set: {args[4:]} ({cap} micro-dollars) for {place.scope}.")
        if verb == "usage":
            return BudgetReply("Usage attached.", csv=f"scope,cap\n{place.scope},{cap}\n".encode())
        if verb == "chart":
            # As the core answers: a short note to the asker, the chart for the channel.
            chart = solid((10, 20, 30), (4, 2))
            return BudgetReply("Posted the chart.", chart_png=chart, chart_text=f"cap {cap}")
        return BudgetReply(f"cap {cap}")
