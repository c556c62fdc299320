"""`/edit <prompt>` on the channel's latest image, and the /edit modal when there is none.

`/edit make it warmer` edits the newest image posted in the channel in the last 30 minutes
(the caller's own first, else anyone's: adapters.slack.latest_image), in that image's thread;
the caller gets an ephemeral note naming the image, with a button to choose another one. With
no recent image, no prompt, or that button, the modal opens (adapters.slack.edit_modal). A
result made from an uploaded file starts its thread with a root post showing the input.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from adapters.slack.edit_modal import (
    NO_IMAGE,
    command_modal,
    note_blocks,
    picked_image,
    request_post,
)
from adapters.slack.escape import escape
from adapters.slack.latest_image import (
    HISTORY_LIMIT,
    PICKABLE,
    RECENT_S,
    ImagePost,
    editing_note,
    image_posts,
    latest_image,
)
from adapters.slack.payloads import BlockActionsBody, CommandBody, ViewSubmissionBody
from adapters.slack.teams import attach_for
from adapters.slack.views import modal_picks, modal_prompt, view_metadata, view_values
from bot.core.domain import IncomingEdit, Place

if TYPE_CHECKING:
    from adapters.slack.listeners import ListenerDeps

log = logging.getLogger(__name__)


def client_of(context: AsyncBoltContext, deps: ListenerDeps) -> AsyncWebClient:
    """The Web API client for the request: editbot's own with SLACK_BOT_TOKEN, else (OAuth
    installs) bolt's per-request copy holding the token of the request's workspace."""
    if deps.client.token or context.client is None:
        return deps.client
    return context.client


async def recent_images(
    client: AsyncWebClient, channel: str, *, now: float, bot_user: str | None
) -> list[ImagePost]:
    """The channel's image posts of the last 30 minutes, newest first (conversations.history).

    A channel the bot cannot read (not a member) has none: the modal opens instead.
    """
    try:
        resp = await client.conversations_history(
            channel=channel, oldest=f"{now - RECENT_S:.6f}", limit=HISTORY_LIMIT
        )
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.info("slack: no channel history for /edit in %s: %s", channel, error)
        return []
    return image_posts(resp.get("messages") or [], now=now, bot_user=bot_user)


async def edit_latest_or_choose(
    body: CommandBody, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """`/edit [prompt]` (acked): the latest image edited in its thread, or the modal."""
    client = client_of(context, deps)
    channel, user, text = str(body["channel_id"]), str(body["user_id"]), _text(body)
    now = time.time()
    posts = await recent_images(client, channel, now=now, bot_user=context.bot_user_id)
    post = latest_image(posts, user=user) if text else None
    if post is None:
        trigger = str(body["trigger_id"])
        await open_command_modal(
            client, trigger_id=trigger, channel=channel, text=text, posts=posts, now=now, deps=deps
        )
        return
    note = editing_note(post, now=now)
    await client.chat_postEphemeral(
        channel=channel, user=user, text=escape(note), blocks=note_blocks(note, prompt=text)
    )
    deps.events.inc(kind="command_latest")
    place = translate.command_place(body)
    await deps.service.submit(
        IncomingEdit(
            place=_in_thread(place, post.ts),
            text=text,
            event_key=f"slack:command:{place.workspace}:{channel}:{body['trigger_id']}",
            attachments=translate.attachments(
                post.files, attach_for(deps.downloader, context.bot_token)
            ),
            message_id=post.ts,
        )
    )


async def open_command_modal(
    client: AsyncWebClient,
    *,
    trigger_id: str,
    channel: str,
    text: str,
    posts: Sequence[ImagePost],
    now: float,
    deps: ListenerDeps,
) -> None:
    """Open the /edit modal: the channel's last few images to pick from, or an upload."""
    view = command_modal(
        channel=channel,
        text=text,
        max_n=deps.settings.max_n,
        recent=posts[:PICKABLE],
        now=now,
    )
    await client.views_open(trigger_id=trigger_id, view=view)


async def choose_another_image(
    ack: AsyncAck, body: BlockActionsBody, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """The note's "Choose another image": the modal, on the same prompt."""
    await ack()
    client = client_of(context, deps)
    channel = str((body.get("channel") or {}).get("id") or "")
    container = body.get("container") or {}
    channel = channel or str(container.get("channel_id") or "")
    prompt = str(((body.get("actions") or [{}])[0]).get("value") or "")
    now = time.time()
    posts = await recent_images(client, channel, now=now, bot_user=context.bot_user_id)
    trigger = str(body.get("trigger_id") or "")
    await open_command_modal(
        client, trigger_id=trigger, channel=channel, text=prompt, posts=posts, now=now, deps=deps
    )


async def edit_from_command_modal(
    ack: AsyncAck, body: ViewSubmissionBody, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """The /edit modal's submission: a picked channel image edited in its thread, or uploaded
    files edited in the thread of a root post that shows them."""
    view = body["view"]
    meta, values = view_metadata(view), view_values(view)
    uploads = list(values.get("images") or [])
    picked = picked_image(meta, values)
    if not uploads and picked is None:
        await ack(response_action="errors", errors={"images": NO_IMAGE})
        return
    await ack()
    channel, user = str(meta.get("channel") or ""), str(body["user"]["id"])
    if uploads:
        files = uploads
        text, blocks = request_post(user=user, prompt=modal_prompt(values), files=uploads)
        posted = await client_of(context, deps).chat_postMessage(
            channel=channel, text=text, blocks=blocks
        )
        anchor = str(posted["ts"])
    else:
        assert picked is not None
        files, anchor = list(picked.get("files") or []), str(picked.get("ts") or "")
    deps.events.inc(kind="command")
    place = Place(
        platform=translate.PLATFORM,
        workspace=_team(body),
        channel=channel,
        user=user,
        thread=anchor,
    )
    await deps.service.submit(
        IncomingEdit(
            place=place,
            text=modal_prompt(values),
            picks=modal_picks(values),
            event_key=f"slack:view:{view['id']}",
            attachments=translate.attachments(
                files, attach_for(deps.downloader, context.bot_token)
            ),
            message_id=anchor,
        )
    )


def _text(body: CommandBody) -> str:
    return str(body.get("text") or "").strip()


def _team(body: ViewSubmissionBody) -> str:
    team = body.get("team") or {}
    return str(team.get("id") or body["user"].get("team_id") or "")


def _in_thread(place: Place, thread: str) -> Place:
    return Place(
        platform=place.platform,
        workspace=place.workspace,
        channel=place.channel,
        user=place.user,
        thread=thread,
    )
