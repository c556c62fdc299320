"""Slack's payloads as editbot reads them: TypedDicts for mypy (bolt hands over plain dicts).

Only the keys editbot reads are listed. Keys Slack may leave out are optional (total=False);
`Required` marks the ones it always sends. Shapes: api.slack.com/events/app_mention,
/interactivity/slash-commands, /reference/interaction-payloads.
"""

from __future__ import annotations

from typing import Required, TypedDict


class SlackFile(TypedDict, total=False):
    """A file object: in a message's `files`, a file_input's value, or a modal's metadata."""

    id: str
    name: str
    title: str
    mimetype: str
    size: int
    url_private: str
    url_private_download: str


class MessageEvent(TypedDict, total=False):
    """An `app_mention` or `message` event (the `event` of an event_callback)."""

    channel: Required[str]
    ts: Required[str]
    subtype: str  # "file_share" for a post with files; absent for a plain message
    thread_ts: str  # only for a post inside a thread
    user: str
    team: str
    text: str
    files: list[SlackFile]


class CommandBody(TypedDict, total=False):
    """A slash command, as Slack posts its form fields."""

    channel_id: Required[str]
    user_id: Required[str]
    trigger_id: Required[str]
    team_id: str
    text: str


class Team(TypedDict, total=False):
    """An interaction's workspace."""

    id: str


class User(TypedDict, total=False):
    """The person who interacted."""

    id: Required[str]
    team_id: str


class Channel(TypedDict, total=False):
    """The channel an interaction happened in."""

    id: str


class Message(TypedDict, total=False):
    """The message a shortcut or a button was used on.

    Total=False throughout: a button in a modal has no message, and the translators read an
    absent one as `{}`.
    """

    ts: str
    thread_ts: str
    files: list[SlackFile]


class ShortcutBody(TypedDict, total=False):
    """A message shortcut (`message_action`)."""

    trigger_id: Required[str]
    channel: Required[Channel]
    message: Message


class BlockAction(TypedDict, total=False):
    """One entry of block_actions' `actions`: the element that was used."""

    action_id: str
    value: str
    action_ts: str


class Container(TypedDict, total=False):
    """Where the used element lives: a message (with its channel and thread) or a view."""

    channel_id: str
    thread_ts: str


class BlockActionsBody(TypedDict, total=False):
    """A `block_actions` interaction: a button pressed on a message."""

    user: Required[User]
    actions: list[BlockAction]
    trigger_id: str  # to open a modal from the button
    message: Message
    container: Container
    channel: Channel
    team: Team | None  # null for an org-wide install


class SelectedOption(TypedDict, total=False):
    """The option a static_select was left on."""

    value: str


class ElementState(TypedDict, total=False):
    """One input's submitted state, by `type`: `value`, `selected_option` or `files`."""

    type: str
    value: str | None
    selected_option: SelectedOption | None
    files: list[SlackFile]


class ViewState(TypedDict, total=False):
    """A submitted view's inputs: state values by block id, then by action id."""

    values: dict[str, dict[str, ElementState]]


class View(TypedDict, total=False):
    """A modal as Slack sends it back on submission."""

    id: Required[str]
    private_metadata: str  # JSON of ModalMetadata, as editbot opened the modal with it
    state: ViewState


class ViewSubmissionBody(TypedDict, total=False):
    """A `view_submission` interaction: a modal's Submit."""

    user: Required[User]
    view: Required[View]
    team: Team | None  # null for an org-wide install


class RecentImage(TypedDict, total=False):
    """A channel image the /edit modal offers to pick: its message ts and image files."""

    ts: str
    files: list[SlackFile]


class ModalMetadata(TypedDict, total=False):
    """What editbot keeps in a modal's private_metadata (views.shortcut_modal, edit_modal).

    Total=False: the /edit modal carries `channel` and `recent` only, and unreadable metadata
    reads as `{}`.
    """

    channel: str
    thread: str
    message: str
    files: list[SlackFile]
    recent: list[RecentImage]  # the /edit modal: the channel images offered to pick from
