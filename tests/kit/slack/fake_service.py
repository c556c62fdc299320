"""A fake EditServicePort that makes a round trip visible: the result is the inverted input.

It dedupes on event_key like the core, fetches inputs through the adapter (attachments, or
ChatPort.thread_images), runs the core's real intake (bot.images.normalize_image), inverts the
image in a thread and posts it through the adapter's ChatPort with the prompt in the caption.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from bot.core.domain import IncomingEdit, Place
from bot.core.errors import UserError
from bot.core.ports import Action, ActionButton, ActionPress, BudgetReply, ChatPort, ResultImage
from bot.images.intake import ImageLimits, normalize_image


def invert_png(data: bytes) -> tuple[bytes, int, int]:
    """The image with its colours inverted, as PNG (Pillow work: call in a thread)."""
    with Image.open(io.BytesIO(data)) as im:
        out = ImageOps.invert(im.convert("RGB"))
    buf = io.BytesIO()
    out.save(buf, format="PNG")
    return buf.getvalue(), out.width, out.height


@dataclass
class FakeEditService:
    """In-memory stand-in for bot.service.EditService (see module doc)."""

    chat: ChatPort
    limits: ImageLimits = field(default_factory=ImageLimits)
    budgets: dict[str, int] = field(default_factory=dict)
    hold: bool = False
    """When set, submit records the edit and stops (a process that dies mid-job)."""
    gate: asyncio.Event | None = None
    """When set, submit and budget wait for it after recording the call (work after the ack)."""
    seen: set[str] = field(default_factory=set)
    accepted: list[IncomingEdit] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    presses: list[ActionPress] = field(default_factory=list)
    budget_calls: list[tuple[Place, str, bool]] = field(default_factory=list)
    finished: list[Place] = field(default_factory=list)

    async def submit(self, edit: IncomingEdit) -> None:
        if edit.event_key in self.seen:
            self.duplicates.append(edit.event_key)
            return
        self.seen.add(edit.event_key)
        self.accepted.append(edit)
        if self.gate is not None:
            await self.gate.wait()
        if self.hold:
            return
        place = edit.place
        if place.thread is None:
            place = await self.chat.open_thread(place, title=edit.text, anchor=edit.message_id)
        status = await self.chat.post_text(place, "queued")
        try:
            inputs: Sequence = edit.attachments or await self.chat.thread_images(place)
            if not inputs:
                raise UserError("Attach an image, or mention me in a thread that has one.")
            first = inputs[0]
            data = await first.fetch()
            image = await normalize_image(data, name=first.name, limits=self.limits)
            png, width, height = await asyncio.to_thread(invert_png, image.data)
        except UserError as exc:
            await self.chat.update_text(status, str(exc))
            self.finished.append(place)
            return
        await self.chat.update_text(status, "done")
        await self.deliver(place, prompt=edit.text, png=png, size=(width, height), job_id="job-1")

    async def deliver(
        self, place: Place, *, prompt: str, png: bytes, size: tuple[int, int], job_id: str
    ) -> None:
        """Post a result the way the core's worker does, from nothing but the Place."""
        await self.chat.post_images(
            place,
            images=[ResultImage(png, "image/png", "edit-v1.png", size[0], size[1])],
            caption=f"v1 · {prompt}",
            alt_text=prompt,
            actions=[ActionButton(Action.RETRY, job_id, "Retry")],
        )
        self.finished.append(place)

    async def press(self, press: ActionPress) -> None:
        self.presses.append(press)
        await self.chat.post_text(press.place, f"{press.action.value} {press.job_id}")

    async def budget(self, place: Place, args: str, *, platform_admin: bool) -> BudgetReply:
        self.budget_calls.append((place, args, platform_admin))
        if self.gate is not None:
            await self.gate.wait()
        words = args.split()
        verb = words[0] if words else "show"
        cap = self.budgets.get(place.scope, 20_000_000)
        if verb == "set":
            if not platform_admin:
                return BudgetReply("Only workspace admins can set the budget.")
            self.budgets[place.scope] = cap = int(float(words[1]) * 1_000_000)
            return BudgetReply(f"Budget set to {cap} micro-dollars.")
        if verb == "usage":
            return BudgetReply("Usage attached.", csv=f"scope,cap\n{place.scope},{cap}\n".encode())
        if words[1:] == ["chart"]:
            return BudgetReply(f"cap {cap}", private=False, chart_png=_tiny_png())
        return BudgetReply(f"cap {cap}")


def _tiny_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 2), (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()
