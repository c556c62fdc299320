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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.domain import Attachment, Place
from bot.core.ports import RESULT_ACTIONS, ActionButton, MessageRef, PrivateFile, ResultImage

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
    to: str | None = None
    """Who alone could see it (post_private), or None: everyone in the place."""
    previews: list[bytes] = field(default_factory=list, repr=False)
    """Preview images update_status showed in it, in order."""
    notify: str | None = None
    """Whom posting it notified (post_result's mention)."""
    pressed: str | None = None
    """What a press of one of its buttons said it does (mark_pressed), which replaced them."""

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
        self.removed: list[str] = []
        """Ids of messages post_result removed (the status messages it replaced)."""
        self.direct: list[tuple[str, str, PrivateFile | None]] = []
        """Direct messages: (user, text, file)."""
        self.names: dict[str, str] = {}
        self.outcomes: list[tuple[str | None, str]] = []
        """What tell_outcome said: (thread, outcome)."""
        self.channel_names: dict[str, str] = {}
        self.platform_admins: list[str] = []
        """Who `admins` says the platform's admins are (every workspace alike)."""
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

    async def tell_outcome(self, place: Place, outcome: str) -> None:
        self._call("tell_outcome", new_id=False, thread=place.thread, outcome=outcome)
        self.outcomes.append((place.thread, outcome))

    async def mark_pressed(self, ref: MessageRef, note: str) -> None:
        self._call("mark_pressed", new_id=False, ref=ref.message_id, note=note)
        message = self._by_id.get(ref.message_id)
        if message is not None:
            message.actions = ()
            message.pressed = note

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

    async def update_status(
        self, ref: MessageRef, text: str, *, preview: ResultImage | None = None
    ) -> None:
        self._call("update_status", new_id=False, ref=ref.message_id, text=text)
        message = self._by_id.get(ref.message_id)
        if message is not None:
            message.text = text
            message.history.append(text)
            if preview is not None:
                message.previews.append(preview.data)
        elif self._remember and self._journal is None:
            raise KeyError(f"no message {ref.message_id}")

    async def post_result(
        self,
        place: Place,
        *,
        text: str,
        images: Sequence[ResultImage] = (),
        alt_text: str = "",
        actions: Sequence[ActionButton] = (),
        notify: str | None = None,
        replaces: MessageRef | None = None,
    ) -> MessageRef:
        record: dict[str, Any] = {}
        if self._journal is not None:
            record = {
                "job": actions[0].job_id if actions else None,
                "caption": text,
                "alt": alt_text,
                "sha": [hashlib.sha256(im.data).hexdigest() for im in images],
                "notify": notify,
                "replaces": replaces.message_id if replaces else None,
            }
        ref = MessageRef(place=place, message_id=self._call("post_result", **record))
        posted = Posted(
            ref=ref,
            text=text,
            actions=tuple(actions),
            images=tuple(images),
            alt_text=alt_text or None,
            history=[text],
            notify=notify,
        )
        self._keep(posted)
        if replaces is not None:
            self.removed.append(replaces.message_id)
            gone = self._by_id.pop(replaces.message_id, None)
            if gone is not None:
                self.messages.remove(gone)
        return ref

    def _keep(self, message: Posted) -> None:
        if self._remember:
            self.messages.append(message)
            self._by_id[message.ref.message_id] = message

    async def find_posted(self, place: Place, job_id: str) -> bool:
        """From what was posted: a message in the place's thread with a result button for the
        job (or, journaled, a post_result of the job by any process sharing the journal)."""
        self._call("find_posted", new_id=False, job=job_id)
        for message in self.in_thread(place.thread):
            if any(a.job_id == job_id and a.action in RESULT_ACTIONS for a in message.actions):
                return True
        if self._journal is None:
            return False
        return any(
            e["call"] == "post_result" and e.get("job") == job_id
            for e in read_journal(self._journal)
        )

    async def thread_images(self, place: Place) -> Sequence[Attachment]:
        return list(self.thread_files.get(place.thread, []))

    async def post_private(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> None:
        ref = MessageRef(place=place, message_id=self._call("post_private", text=text))
        self._keep(
            Posted(ref=ref, text=text, actions=tuple(actions), history=[text], to=place.user)
        )

    async def send_direct(
        self, place: Place, user: str, text: str, *, file: PrivateFile | None = None
    ) -> None:
        self._call("send_direct", new_id=False, user=user, text=text)
        self.direct.append((user, text, file))

    async def display_names(self, place: Place, users: Sequence[str]) -> Mapping[str, str]:
        return {user: self.names.get(user, user) for user in users}

    async def channel_name(self, place: Place) -> str:
        return "#" + self.channel_names.get(place.channel, place.channel)

    async def thread_link(self, place: Place) -> str | None:
        return f"https://chat.example/{place.channel}/{place.thread or ''}"

    async def admins(self, place: Place) -> list[str]:
        return list(self.platform_admins)

    def public(self) -> list[Posted]:
        """What everyone in the place could see (not post_private's answers)."""
        return [m for m in self.messages if m.to is None]

    def private_to(self, user: str) -> list[Posted]:
        return [m for m in self.messages if m.to == user]

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
