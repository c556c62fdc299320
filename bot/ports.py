"""Outbound ports the core talks through: the chat platform and the blob store.

Each chat adapter implements ChatPort; storage implements BlobStore. The core never imports
slack_bolt or discord.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.domain import Attachment, Place


class Action(StrEnum):
    """Buttons under a result or a question; each carries a job id."""

    RETRY = "retry"
    """Same inputs and options, a new sample."""
    UNDO = "undo"
    """Make the previous version current again (free)."""
    HIGH_QUALITY = "hq"
    """The same edit at quality=high."""
    CONFIRM = "confirm"
    """Run an edit that was waiting for confirmation (its estimate is above the threshold)."""
    CANCEL = "cancel"
    """Drop an edit that was waiting for confirmation."""


@dataclass(frozen=True)
class ActionButton:
    """A button: what it does, the job it acts on, and its label."""

    action: Action
    job_id: str
    label: str


@dataclass(frozen=True)
class ResultImage:
    """An image to post: bytes, mime type and a file name."""

    data: bytes = field(repr=False)
    mime: str
    filename: str
    width: int
    height: int


@dataclass(frozen=True)
class MessageRef:
    """A message editbot posted: where, and the platform's id for it (Slack ts, Discord id)."""

    place: Place
    message_id: str


class ChatPort(Protocol):
    """What the core asks of a chat platform. Adapters implement it over the platform's API."""

    platform: str

    async def open_thread(self, place: Place, *, title: str, anchor: str | None = None) -> Place:
        """Return `place` with its thread set, creating one on `anchor` (a message id) if needed."""
        ...

    async def post_text(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> MessageRef:
        """Post a message in the place's thread (or channel when it has none)."""
        ...

    async def update_text(
        self, ref: MessageRef, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> None:
        """Replace the text (and buttons) of a message editbot posted."""
        ...

    async def post_images(
        self,
        place: Place,
        *,
        images: Sequence[ResultImage],
        caption: str,
        alt_text: str,
        actions: Sequence[ActionButton] = (),
    ) -> MessageRef:
        """Upload result images into the place's thread with a caption and buttons."""
        ...

    async def thread_images(self, place: Place) -> Sequence[Attachment]:
        """Images already in the place's thread, newest first (for a mention with none)."""
        ...


class BlobStore(Protocol):
    """Content-addressed bytes: put returns the sha256 hex, get returns the bytes."""

    async def put(self, data: bytes) -> str: ...

    async def get(self, sha256: str) -> bytes: ...

    async def delete(self, sha256: str) -> None: ...
