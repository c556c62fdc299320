"""Slack payloads -> core types. Pure functions: no network, no state."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from adapters.slack.payloads import (
    BlockActionsBody,
    CommandBody,
    MessageEvent,
    SlackFile,
    ViewSubmissionBody,
)
from adapters.slack.views import (
    action_index,
    modal_picks,
    modal_prompt,
    parse_action_id,
    view_metadata,
    view_values,
)
from bot.core.domain import Attachment, IncomingEdit, Place
from bot.core.ports import ActionPress

PLATFORM = "slack"
AttachmentFactory = Callable[[SlackFile], Attachment | None]
"""Turns a Slack file object into an Attachment (adapters.slack.downloads.SlackDownloader)."""

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


def message_event_key(team: str, channel: str, ts: str) -> str:
    """One key per Slack post, shared by its app_mention and its message/file_share events."""
    return f"slack:{team}:{channel}:{ts}"


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """The text without the bot's mention (other mentions stay: they may be part of the prompt)."""
    if not bot_user_id:
        return text.strip()
    return re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", "", text).strip()


def mentions(text: str, user_id: str | None) -> bool:
    """Whether `text` mentions `user_id`."""
    return bool(user_id) and any(m == user_id for m in _MENTION.findall(text or ""))


def attachments(files: Iterable[SlackFile], attach: AttachmentFactory) -> tuple[Attachment, ...]:
    """Attachments for the files that can be downloaded, in the order they were posted."""
    out = []
    for f in files:
        a = attach(f)
        if a is not None:
            out.append(a)
    return tuple(out)


def mention_edit(
    event: MessageEvent, *, team: str, bot_user_id: str | None, attach: AttachmentFactory
) -> IncomingEdit:
    """An `app_mention` (with or without files) as an edit in the message's thread."""
    channel = str(event["channel"])
    ts = str(event["ts"])
    place = Place(
        platform=PLATFORM,
        workspace=team,
        channel=channel,
        user=str(event.get("user") or ""),
        # None at the top of a channel: the core opens a thread on the message (message_id).
        thread=str(event["thread_ts"]) if event.get("thread_ts") else None,
    )
    return IncomingEdit(
        place=place,
        text=strip_mentions(str(event.get("text") or ""), bot_user_id),
        event_key=message_event_key(team, channel, ts),
        attachments=attachments(event.get("files") or (), attach),
        message_id=ts,
    )


def file_share_edit(
    event: MessageEvent, *, team: str, bot_user_id: str | None, attach: AttachmentFactory
) -> IncomingEdit | None:
    """A `message` event: an edit only for a file_share that mentions the bot, else None."""
    if event.get("subtype") != "file_share" or not mentions(
        str(event.get("text") or ""), bot_user_id
    ):
        return None
    return mention_edit(event, team=team, bot_user_id=bot_user_id, attach=attach)


def shortcut_submission_edit(
    body: ViewSubmissionBody, *, attach: AttachmentFactory
) -> IncomingEdit:
    """The "Edit image" modal's submission: the prompt and options on the message's files."""
    view = body["view"]
    meta = view_metadata(view)
    values = view_values(view)
    place = Place(
        platform=PLATFORM,
        workspace=_team(body),
        channel=str(meta["channel"]),
        user=str(body["user"]["id"]),
        thread=str(meta["thread"]),
    )
    return IncomingEdit(
        place=place,
        text=modal_prompt(values),
        picks=modal_picks(values),
        event_key=f"slack:view:{view['id']}",
        attachments=attachments(meta.get("files") or (), attach),
        message_id=str(meta.get("message") or meta["thread"]),
    )


def action_press(body: BlockActionsBody, *, platform_admin: bool) -> ActionPress | None:
    """A block_actions payload for one of editbot's buttons; None for anything else."""
    actions = body.get("actions") or []
    if not actions:
        return None
    first = actions[0]
    action_id = str(first.get("action_id") or "")
    action = parse_action_id(action_id)
    if action is None:
        return None
    message = body.get("message") or {}
    container = body.get("container") or {}
    channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
    thread = message.get("thread_ts") or container.get("thread_ts") or message.get("ts")
    user = str(body["user"]["id"])
    place = Place(
        platform=PLATFORM,
        workspace=_team(body),
        channel=channel,
        user=user,
        thread=str(thread) if thread else None,
    )
    return ActionPress(
        action=action,
        job_id=str(first.get("value") or ""),
        place=place,
        event_key=f"slack:action:{channel}:{first.get('action_ts')}:{user}",
        platform_admin=platform_admin,
        message_id=str(container.get("message_ts") or message.get("ts") or "") or None,
        index=action_index(action_id),
    )


def command_place(body: CommandBody) -> Place:
    """Where a slash command was typed (commands cannot be used in threads)."""
    return Place(
        platform=PLATFORM,
        workspace=str(body.get("team_id") or ""),
        channel=str(body["channel_id"]),
        user=str(body["user_id"]),
    )


def _team(body: ViewSubmissionBody | BlockActionsBody) -> str:
    team = body.get("team") or {}
    return str(
        team.get("id") or body.get("team_id") or (body.get("user") or {}).get("team_id") or ""
    )
