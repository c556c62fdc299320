"""Outbound ports the core talks through: the chat platform and the blob store.

Each chat adapter implements ChatPort; storage implements BlobStore. The core never imports
slack_bolt or discord.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.core.domain import Attachment, IncomingEdit, Place, ProviderName
from bot.core.edits import EditRequest, EditResult, OnProgress, OnTaskId
from bot.core.home import HomeView


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
    USE = "use"
    """Make image `index` of a batch the one its version stands for (free)."""
    VARY = "vary"
    """The same prompt again from image `index` of a batch (a new paid edit)."""
    CHEAPER = "cheaper"
    """Run an edit the budget refused as its cheaper variant `index` (1-based, in the order
    bot.service.budget_alerts.cheaper_edits lists them)."""


RESULT_ACTIONS = frozenset(
    {Action.RETRY, Action.UNDO, Action.HIGH_QUALITY, Action.USE, Action.VARY}
)
"""The buttons a posted result (or failure) carries: ChatPort.find_posted looks for them."""


@dataclass(frozen=True)
class ActionButton:
    """A button: what it does, the job it acts on, and its label.

    `index` is the 1-based image of a batch the button is about (Use 2, Vary 2), or the
    cheaper variant of a refused edit (Action.CHEAPER), else None.
    """

    action: Action
    job_id: str
    label: str
    index: int | None = None


@dataclass(frozen=True)
class ResultImage:
    """An image to post: bytes, mime type and a file name."""

    data: bytes = field(repr=False)
    mime: str
    filename: str
    width: int
    height: int


@dataclass(frozen=True)
class PrivateFile:
    """A file for one person only (a usage report): its name and bytes."""

    filename: str
    data: bytes = field(repr=False)


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

    async def update_status(
        self, ref: MessageRef, text: str, *, preview: ResultImage | None = None
    ) -> None:
        """Show where a running edit is in its status message: the text and, once there is
        one, the latest preview image (scaled down). Adapters keep within the platform's rate
        limits by coalescing: the latest state always lands, intermediate ones may not."""
        ...

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
        """The one message of a finished edit: images, caption and buttons together (or a
        failure's text and buttons), posted new so that `notify` (a user id, mentioned) is
        notified; `replaces`, the edit's status message, is removed once it is posted."""
        ...

    async def find_posted(self, place: Place, job_id: str) -> bool:
        """Whether the result (or failure) of job `job_id` is already in `place`'s thread: a
        message there carries a button of RESULT_ACTIONS for that job. The sweep asks before
        posting a delivery whose earlier attempt died unconfirmed."""
        ...

    async def tell_outcome(self, place: Place, outcome: str) -> None:
        """Where the request has its own reply besides the thread (Discord's `/edit` response
        "Editing: ..."), make it say how the edit in `place`'s thread ended ("Done: v1 in the
        thread"); elsewhere nothing."""
        ...

    async def mark_pressed(self, ref: MessageRef, note: str) -> None:
        """Show on a pressed message what the press does ("Retrying as v7..."): its buttons
        give way to `note`; its text and images stay."""
        ...

    async def post_private(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> None:
        """Tell `place.user` only, in the place's thread where the platform allows (Slack:
        chat.postEphemeral). Where it cannot (a Discord message), post it without pinging."""
        ...

    async def send_direct(
        self, place: Place, user: str, text: str, *, file: PrivateFile | None = None
    ) -> None:
        """A direct message to `user` of the place's workspace, optionally with a file."""
        ...

    async def display_names(self, place: Place, users: Sequence[str]) -> Mapping[str, str]:
        """People's display names (never mentions); a user the platform does not know keeps
        their id."""
        ...

    async def channel_name(self, place: Place) -> str:
        """The channel's name as people see it (`#design`), else its id."""
        ...

    async def thread_link(self, place: Place) -> str | None:
        """A link to the place's thread (or channel) where the platform has one."""
        ...

    async def admins(self, place: Place) -> list[str]:
        """The platform's admins of the place's workspace (Slack: admins and owners; Discord:
        the owner and members with Manage Server), people only, no bots: ids, each once."""
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
    message_id: str | None = None
    """The message the button is on, where the platform says (it is updated to say what the
    press does)."""
    index: int | None = None
    """The 1-based image of a batch the button was about (Use N, Vary N), or the cheaper
    variant (Action.CHEAPER), else None."""


@dataclass(frozen=True)
class BudgetReply:
    """The answer to a budget command: text, and optionally a chart PNG or a CSV report.

    `text` goes only to the person who asked (Slack ephemeral, Discord ephemeral) unless
    `private` is False. `chart_png` is for the channel (only `/edit-budget chart` makes one),
    with `chart_text` as its comment. `csv` goes only to the person who asked (Slack: a direct
    message; Discord: an ephemeral attachment), named `csv_name`.
    """

    text: str
    private: bool = True
    chart_png: bytes | None = field(default=None, repr=False)
    chart_text: str = ""
    csv: bytes | None = field(default=None, repr=False)
    csv_name: str = "editbot-usage.csv"


class EditServicePort(Protocol):
    """What adapters call on the core (implemented by bot.service.edit_service.EditService).

    Adapters `accept` a request (durably) before or while they answer the platform (Slack's
    200, Discord's defer), then call the rest; every message the user sees about an edit comes
    back through the ChatPort of `place.platform`.
    """

    async def accept(self, edit: IncomingEdit) -> bool:
        """Record a request durably, before the adapter acknowledges the platform (Slack's
        200; Discord's defer waits for it up to 1.5 s of its 3), so a crash after the ack
        still answers it; False when its event_key was seen.
        The adapter then calls `submit` with it as usual (submit accepts by itself for paths
        that cannot call this before their ack).
        """
        ...

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

    async def home(self, place: Place, *, platform_admin: bool) -> HomeView:
        """What `place.user`'s Home view shows in `place.workspace`: their recent edits, the
        budgets of their channels, the help text, and for admins every channel's spend."""
        ...
