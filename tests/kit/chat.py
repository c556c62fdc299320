"""An in-memory ChatPort: records what a person in the chat would see, thread by thread."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.domain import Attachment, Place
from bot.core.ports import ActionButton, MessageRef, ResultImage


@dataclass
class Posted:
    """One message as it looks now: its text (after updates), buttons and images."""

    ref: MessageRef
    text: str
    actions: tuple[ActionButton, ...] = ()
    images: tuple[ResultImage, ...] = ()
    alt_text: str | None = None
    history: list[str] = field(default_factory=list)

    @property
    def thread(self) -> str | None:
        return self.ref.place.thread


class FakeChat:
    """ChatPort for one platform. `messages` in posting order; threads by their id."""

    def __init__(self, platform: str = "slack") -> None:
        self.platform = platform
        self.messages: list[Posted] = []
        self.threads_opened: list[tuple[str | None, str]] = []
        self.thread_files: dict[str | None, list[Attachment]] = {}
        self._ids = itertools.count(1)

    def _new_id(self) -> str:
        return f"m{next(self._ids)}"

    async def open_thread(self, place: Place, *, title: str, anchor: str | None = None) -> Place:
        if place.thread:
            return place
        thread = anchor or self._new_id()
        self.threads_opened.append((anchor, title))
        return Place(
            platform=place.platform,
            workspace=place.workspace,
            channel=place.channel,
            user=place.user,
            thread=thread,
        )

    async def post_text(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> MessageRef:
        ref = MessageRef(place=place, message_id=self._new_id())
        self.messages.append(Posted(ref=ref, text=text, actions=tuple(actions), history=[text]))
        return ref

    async def update_text(
        self, ref: MessageRef, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> None:
        for message in self.messages:
            if message.ref.message_id == ref.message_id:
                message.text = text
                message.actions = tuple(actions)
                message.history.append(text)
                return
        raise KeyError(f"no message {ref.message_id}")

    async def post_images(
        self,
        place: Place,
        *,
        images: Sequence[ResultImage],
        caption: str,
        alt_text: str,
        actions: Sequence[ActionButton] = (),
    ) -> MessageRef:
        ref = MessageRef(place=place, message_id=self._new_id())
        self.messages.append(
            Posted(
                ref=ref,
                text=caption,
                actions=tuple(actions),
                images=tuple(images),
                alt_text=alt_text,
                history=[caption],
            )
        )
        return ref

    async def thread_images(self, place: Place) -> Sequence[Attachment]:
        return list(self.thread_files.get(place.thread, []))

    # Views for assertions.
    def in_thread(self, thread: str | None) -> list[Posted]:
        return [m for m in self.messages if m.thread == thread]

    def results(self, thread: str | None = None) -> list[Posted]:
        return [m for m in self.messages if m.images and (thread is None or m.thread == thread)]

    def texts(self) -> list[str]:
        return [m.text for m in self.messages]


def attachment(name: str, data: bytes, *, mime: str | None = None) -> Attachment:
    """An Attachment whose fetch returns `data` (counting fetches on the returned object)."""

    async def fetch() -> bytes:
        return data

    return Attachment(name=name, fetch=fetch, size=len(data), mime=mime)
