"""Outbound ports the core talks through: the chat platform and the blob store.

Each chat adapter implements ChatPort; storage implements BlobStore. The core never imports
slack_bolt or discord.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.core.domain import Attachment, IncomingEdit, Place, ProviderName
from bot.core.edits import EditRequest, EditResult, OnProgress, OnTaskId


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


class Provider(Protocol):
    """Runs gpt-image-2 edits. Implementations take an injected httpx.AsyncClient."""

    name: ProviderName

    async def edit(
        self,
        request: EditRequest,
        *,
        on_progress: OnProgress | None = None,
        on_task_id: OnTaskId | None = None,
    ) -> EditResult:
        """Run the edit to the end (or raise a bot.core.errors error).

        `on_task_id` is awaited with the provider's task id before polling starts, where the
        provider has task ids, so a restarted process can `resume` instead of paying twice.
        """
        ...

    def preview(self, request: EditRequest) -> dict[str, object]:
        """The request as it would go on the wire, image bytes replaced by a short summary."""
        ...

    async def resume(
        self,
        task_id: str,
        request: EditRequest,
        *,
        on_progress: OnProgress | None = None,
    ) -> EditResult:
        """Finish an edit already submitted as `task_id` (without submitting again).

        Providers without task ids raise NotImplementedError; the caller submits again.
        """
        ...


@dataclass(frozen=True)
class ActionPress:
    """A person pressed one of editbot's buttons.

    `place` is where it was pressed, with `place.user` the person who pressed it;
    `platform_admin` is what the platform says of that person (Slack: users.info is_admin or
    is_owner; Discord: Manage Server). Who counts as an admin is the core's rule
    (bot.core.access), which also reads EDITBOT_ADMINS.
    """

    action: Action
    job_id: str
    place: Place
    event_key: str
    platform_admin: bool = False


@dataclass(frozen=True)
class BudgetReply:
    """The answer to a budget command: text, and optionally a chart PNG or a CSV export.

    `private` answers go only to the person who asked (Slack ephemeral, Discord ephemeral).
    """

    text: str
    private: bool = True
    chart_png: bytes | None = field(default=None, repr=False)
    csv: bytes | None = field(default=None, repr=False)


class EditServicePort(Protocol):
    """What adapters call on the core (implemented by bot.service.edit_service.EditService).

    Adapters answer the platform first (ack / defer), then call these; every message the user
    sees about an edit comes back through the ChatPort of `place.platform`.
    """

    async def submit(self, edit: IncomingEdit) -> None:
        """Take an edit request: options, inputs, estimate, confirm or reserve, enqueue.

        Returns once the job is queued (or the user was told why not). A repeated event_key
        does nothing.
        """
        ...

    async def press(self, press: ActionPress) -> None:
        """Handle a button: retry, undo, high quality, confirm, cancel."""
        ...

    async def budget(self, place: Place, args: str, *, platform_admin: bool) -> BudgetReply:
        """`/edit-budget ARGS`: `show`, `set <usd> [day|week|month|none] [user=<usd>]`,
        `usage [since YYYY-MM-DD]`. Only admins (bot.core.access) may `set`; `platform_admin`
        is what the platform says of `place.user`."""
        ...
