"""A fake EditServicePort for the Discord adapter's tests, standing in until EditService lands.

It makes the round trip visible: it dedupes on event_key, downloads the inputs through the
adapter's Attachment.fetch, opens the thread and posts through the adapter's ChatPort, and the
result image is the input inverted (so the output depends on the input), captioned with the
prompt. Messages mimic the core's wording.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.core.domain import IncomingEdit, Place
from bot.core.errors import ImageRejected
from bot.core.ports import Action, ActionButton, ActionPress, BudgetReply, ChatPort, ResultImage


def _invert_png(data: bytes, *, scale: int) -> tuple[bytes, int, int]:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        rgb = ImageOps.invert(im.convert("RGB"))
    if scale > 1:
        rgb = rgb.resize((rgb.width * scale, rgb.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    rgb.save(out, format="PNG")
    return out.getvalue(), rgb.width, rgb.height


def job_id_for(event_key: str) -> str:
    return hashlib.sha1(event_key.encode()).hexdigest()[:16]


@dataclass
class FakeEditService:
    """EditServicePort fake. `budget_left_micros` 0 refuses every edit like the core would.

    `chats` is filled after construction, as the composition root fills the real core's: the
    Discord ChatPort only exists once the bot (which is handed this service) does.
    """

    chats: Mapping[str, ChatPort]
    budget_left_micros: int = 10_000_000
    result_scale: int = 1
    result_override: bytes | None = None
    submitted: list[IncomingEdit] = field(default_factory=list)
    pressed: list[ActionPress] = field(default_factory=list)
    budget_calls: list[tuple[Place, str, bool]] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)

    @property
    def chat(self) -> ChatPort:
        return self.chats["discord"]

    async def submit(self, edit: IncomingEdit) -> None:
        if edit.event_key in self._seen:
            return
        self._seen.add(edit.event_key)
        self.submitted.append(edit)
        place = await self.chat.open_thread(edit.place, title=edit.text, anchor=edit.message_id)
        status = await self.chat.post_text(place, "queued (0 ahead)")
        if self.budget_left_micros <= 0:
            await self.chat.update_text(
                status,
                "This channel's budget is used up: $20.00 of $20.00 spent this month; this edit "
                "would cost about $0.05. A server admin can raise it with /edit-budget set.",
            )
            return
        inputs = edit.attachments or tuple(await self.chat.thread_images(place))
        if not inputs:
            await self.chat.update_text(status, "Attach an image to edit (png, jpeg or webp).")
            return
        first = inputs[0]
        try:
            data = await first.fetch()
            if self.result_override is not None:
                out, width, height = self.result_override, 1, 1
            else:
                out, width, height = await asyncio.to_thread(
                    _invert_png, data, scale=self.result_scale
                )
        except ImageRejected as exc:
            await self.chat.update_text(status, str(exc))
            return
        except UnidentifiedImageError:
            await self.chat.update_text(
                status, f"{first.name} isn't an image editbot can read (png, jpeg or webp)."
            )
            return
        job = job_id_for(edit.event_key)
        self.job_ids.append(job)
        await self.chat.post_images(
            place,
            images=[ResultImage(out, "image/png", "edit-v1.png", width, height)],
            caption=f"v1 · {edit.text}",
            alt_text=edit.text,
            actions=[
                ActionButton(Action.RETRY, job, "Retry"),
                ActionButton(Action.UNDO, job, "Undo"),
                ActionButton(Action.HIGH_QUALITY, job, "High quality"),
            ],
        )
        await self.chat.update_text(status, f"done: v1 of {first.name}")

    async def press(self, press: ActionPress) -> None:
        self.pressed.append(press)

    async def budget(self, place: Place, args: str, *, platform_admin: bool) -> BudgetReply:
        self.budget_calls.append((place, args, platform_admin))
        verb = args.split(" ", 1)[0]
        if verb == "set":
            if not platform_admin:
                return BudgetReply("Only a server admin (Manage Server) can change the budget.")
            return BudgetReply(f"Budget set: {args[4:]} for {place.scope}.")
        if verb == "usage":
            return BudgetReply("Usage attached.", csv=f"scope,spent\n{place.scope},0\n".encode())
        chart = io.BytesIO()
        Image.new("RGB", (4, 2), (10, 20, 30)).save(chart, format="PNG")
        return BudgetReply(
            f"{place.scope}: $0.00 of $20.00 this month.", chart_png=chart.getvalue()
        )
