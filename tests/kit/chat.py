"""The kit's fake ChatPort: records what a person in the chat would see, thread by thread.

Failure switches stand in for a platform that is down or flaky, `after_post` for another
process acting while a message is being posted, and `journal` writes every call as a JSON line
so a test can read what a worker in another process posted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.domain import Attachment, Place
from bot.core.ports import ActionButton, MessageRef, ResultImage

Call = str
"""A ChatPort method's name: open_thread, post_text, update_text, post_images."""


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
    """ChatPort for one platform. `messages` in posting order; threads by their id.

    Switches (set them any time):
        down: the calls that raise ConnectionError while listed (the platform is down).
        fail_next: how many of the next calls of each kind raise.
        after_post: awaited after each post_text has been recorded.
    `attempts` counts every call, failed or not. `remember=False` keeps only the counts (a
    benchmark's thousands of results must not weigh on its memory figures).
    """

    def __init__(
        self, platform: str = "slack", *, journal: Path | None = None, remember: bool = True
    ) -> None:
        self.platform = platform
        self.messages: list[Posted] = []
        self._by_id: dict[str, Posted] = {}
        self._remember = remember
        self.threads_opened: list[tuple[str | None, str]] = []
        self.thread_files: dict[str | None, list[Attachment]] = {}
        self.down: set[Call] = set()
        self.fail_next: Counter[Call] = Counter()
        self.attempts: Counter[Call] = Counter()
        self.after_post: Callable[[MessageRef], Awaitable[None]] | None = None
        self._journal = journal
        # Ids unique across processes when several write journals the same test reads.
        prefix = f"{os.getpid()}-" if journal is not None else ""
        self._ids = (f"{prefix}m{n}" for n in itertools.count(1))

    def _call(self, name: Call, *, new_id: bool = True, **record: Any) -> str:
        """Count the call, fail it if a switch says so, journal it; a new message id."""
        self.attempts[name] += 1
        if name in self.down or self.fail_next[name] > 0:
            self.fail_next[name] = max(0, self.fail_next[name] - 1)
            raise ConnectionError(f"the platform is unavailable ({name})")
        message_id = next(self._ids) if new_id else ""
        if self._journal is not None:
            with self._journal.open("a") as f:
                f.write(json.dumps({"call": name, "id": message_id, **record}) + "\n")
        return message_id

    async def open_thread(self, place: Place, *, title: str, anchor: str | None = None) -> Place:
        if place.thread:
            return place
        new_id = self._call("open_thread", new_id=anchor is None, title=title)
        self.threads_opened.append((anchor, title))
        return Place(
            platform=place.platform,
            workspace=place.workspace,
            channel=place.channel,
            user=place.user,
            thread=anchor or new_id,
        )

    async def post_text(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> MessageRef:
        ref = MessageRef(place=place, message_id=self._call("post_text", text=text))
        self._keep(Posted(ref=ref, text=text, actions=tuple(actions), history=[text]))
        if self.after_post is not None:
            await self.after_post(ref)
        return ref

    async def update_text(
        self, ref: MessageRef, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> None:
        self._call("update_text", new_id=False, ref=ref.message_id, text=text)
        message = self._by_id.get(ref.message_id)
        if message is not None:
            message.text = text
            message.actions = tuple(actions)
            message.history.append(text)
        elif self._remember and self._journal is None:  # journaled ids may be another's
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
        record: dict[str, Any] = {}
        if self._journal is not None:
            record = {
                "job": actions[0].job_id if actions else None,
                "caption": caption,
                "alt": alt_text,
                "sha": [hashlib.sha256(im.data).hexdigest() for im in images],
            }
        message_id = self._call("post_images", **record)
        ref = MessageRef(place=place, message_id=message_id)
        self._keep(
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

    def _keep(self, message: Posted) -> None:
        if self._remember:
            self.messages.append(message)
            self._by_id[message.ref.message_id] = message

    async def thread_images(self, place: Place) -> Sequence[Attachment]:
        return list(self.thread_files.get(place.thread, []))

    # Views for assertions.
    def in_thread(self, thread: str | None) -> list[Posted]:
        return [m for m in self.messages if m.thread == thread]

    def results(self, thread: str | None = None) -> list[Posted]:
        return [m for m in self.messages if m.images and (thread is None or m.thread == thread)]

    def texts(self) -> list[str]:
        return [m.text for m in self.messages]


def read_journal(path: Path) -> list[dict[str, Any]]:
    """The calls a FakeChat with `journal=path` made (in this process or another)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def attachment(name: str, data: bytes, *, mime: str | None = None) -> Attachment:
    """An Attachment whose fetch returns `data`."""

    async def fetch() -> bytes:
        return data

    return Attachment(name=name, fetch=fetch, size=len(data), mime=mime)
