"""editbot's Slack listeners: each acks, translates its payload and calls the core.

`register` attaches them to an AsyncApp. bolt calls a listener with the arguments its
positional parameters name (`ack`, `body`, `event`, `context`: see
slack_bolt/kwargs_injection/async_utils.py); what editbot adds comes in the keyword-only `deps`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from adapters.slack.downloads import SlackDownloader
from adapters.slack.payloads import (
    BlockActionsBody,
    CommandBody,
    MessageEvent,
    ShortcutBody,
    ViewSubmissionBody,
)
from adapters.slack.views import (
    ACTION_PREFIX,
    COMMAND_VIEW,
    SHORTCUT_CALLBACK,
    SHORTCUT_VIEW,
    command_modal,
    shortcut_modal,
    view_metadata,
    view_values,
)
from bot.core.config import Settings
from bot.core.metrics import Counter, Registry
from bot.core.ports import BudgetReply, EditServicePort

EVENTS = ("app_mention", "message")
"""Event types the app listens for (the manifest subscribes message.channels/.groups)."""
EDIT_COMMAND = "/edit"
BUDGET_COMMAND = "/edit-budget"

Listener = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class ListenerDeps:
    """What the listeners call: the core, Slack's Web API and files, settings, a counter."""

    service: EditServicePort
    client: AsyncWebClient
    downloader: SlackDownloader
    settings: Settings
    events: Counter
    """Payloads handed to the core, by kind."""


def register(
    app: AsyncApp,
    *,
    service: EditServicePort,
    client: AsyncWebClient,
    downloader: SlackDownloader,
    settings: Settings,
    metrics: Registry,
) -> None:
    """Attach editbot's listeners to `app`."""
    deps = ListenerDeps(
        service=service,
        client=client,
        downloader=downloader,
        settings=settings,
        events=metrics.counter("slack_events_total", "Slack payloads handed to the core, by kind"),
    )
    app.event("app_mention")(_bind(edit_from_mention, deps))
    app.event("message")(_bind(edit_from_file_share, deps))
    app.shortcut(SHORTCUT_CALLBACK)(_bind(open_shortcut_modal, deps))
    app.view(SHORTCUT_VIEW)(_bind(edit_from_shortcut_modal, deps))
    app.command(EDIT_COMMAND)(_bind(open_edit_modal, deps))
    app.view(COMMAND_VIEW)(_bind(edit_from_edit_modal, deps))
    app.command(BUDGET_COMMAND)(_bind(answer_budget_command, deps))
    app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(_bind(press_button, deps))


def _bind(listener: Listener, deps: ListenerDeps) -> Listener:
    """`listener` with `deps` bound, keeping the name bolt logs it by.

    `deps` is keyword-only, so it is not among the positional parameters bolt fills in.
    """
    return functools.update_wrapper(functools.partial(listener, deps=deps), listener)


async def edit_from_mention(
    event: MessageEvent, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """An @editbot mention (with or without files): an edit in the message's thread."""
    edit = translate.mention_edit(
        event,
        team=_team_of(event, context),
        bot_user_id=context.bot_user_id,
        attach=deps.downloader.attachment,
    )
    deps.events.inc(kind="app_mention")
    await deps.service.submit(edit)


async def edit_from_file_share(
    event: MessageEvent, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """A message event: an edit when it shares files and mentions the bot, else nothing."""
    edit = translate.file_share_edit(
        event,
        team=_team_of(event, context),
        bot_user_id=context.bot_user_id,
        attach=deps.downloader.attachment,
    )
    if edit is not None:
        deps.events.inc(kind="file_share")
        await deps.service.submit(edit)


async def open_shortcut_modal(ack: AsyncAck, body: ShortcutBody, *, deps: ListenerDeps) -> None:
    """The "Edit image" message shortcut: a modal for the prompt and options."""
    await ack()
    message = body.get("message") or {}
    view = shortcut_modal(
        channel=str(body["channel"]["id"]),
        thread=str(message.get("thread_ts") or message["ts"]),
        message=str(message["ts"]),
        files=message.get("files") or [],
        max_n=deps.settings.max_n,
    )
    await deps.client.views_open(trigger_id=body["trigger_id"], view=view)


async def edit_from_shortcut_modal(
    ack: AsyncAck, body: ViewSubmissionBody, *, deps: ListenerDeps
) -> None:
    """The shortcut modal's submission: an edit of the message's files in its thread."""
    await ack()
    deps.events.inc(kind="shortcut")
    await deps.service.submit(
        translate.shortcut_submission_edit(body, attach=deps.downloader.attachment)
    )


async def open_edit_modal(ack: AsyncAck, body: CommandBody, *, deps: ListenerDeps) -> None:
    """`/edit [prompt]`: a modal to upload images, with the prompt pre-filled."""
    await ack()
    view = command_modal(
        channel=str(body["channel_id"]),
        prompt=str(body.get("text") or ""),
        max_n=deps.settings.max_n,
    )
    await deps.client.views_open(trigger_id=body["trigger_id"], view=view)


async def edit_from_edit_modal(
    ack: AsyncAck, body: ViewSubmissionBody, *, deps: ListenerDeps
) -> None:
    """The /edit modal's submission: the request is posted, and edited in its thread."""
    await ack()
    view = body["view"]
    values = view_values(view)
    user = body["user"]["id"]
    # The request is posted in the channel; its thread becomes the edit thread.
    posted = await deps.client.chat_postMessage(
        channel=str(view_metadata(view)["channel"]),
        text=f"<@{user}> asked for an edit: {values.get('prompt') or ''}".strip(),
    )
    deps.events.inc(kind="command")
    edit = translate.command_submission_edit(
        body, request_ts=str(posted["ts"]), attach=deps.downloader.attachment
    )
    await deps.service.submit(edit)


async def answer_budget_command(ack: AsyncAck, body: CommandBody, *, deps: ListenerDeps) -> None:
    """`/edit-budget [args]`: the core's budget reply, posted the way it asks."""
    await ack()
    place = translate.command_place(body)
    admin = await _platform_admin(deps.client, place.user)
    reply = await deps.service.budget(
        place, str(body.get("text") or "").strip(), platform_admin=admin
    )
    await _post_budget_reply(deps.client, place.channel, place.user, reply)


async def press_button(ack: AsyncAck, body: BlockActionsBody, *, deps: ListenerDeps) -> None:
    """A press on one of editbot's buttons (retry, confirm, cancel, ...)."""
    await ack()
    admin = await _platform_admin(deps.client, str(body["user"]["id"]))
    press = translate.action_press(body, platform_admin=admin)
    if press is not None:
        deps.events.inc(kind="action")
        await deps.service.press(press)


async def _platform_admin(client: AsyncWebClient, user: str) -> bool:
    """What Slack says: a workspace admin or owner (the core adds EDITBOT_ADMINS)."""
    resp = await client.users_info(user=user)
    info = resp.get("user") or {}
    return bool(info.get("is_admin") or info.get("is_owner"))


async def _post_budget_reply(
    client: AsyncWebClient, channel: str, user: str, reply: BudgetReply
) -> None:
    """Ephemeral text; a chart goes to the channel; a CSV export is uploaded as a file."""
    if reply.chart_png is not None:
        await client.files_upload_v2(
            content=reply.chart_png,
            filename="budget.png",
            title="Budget",
            channel=channel,
            initial_comment=reply.text,
        )
    elif reply.private:
        await client.chat_postEphemeral(channel=channel, user=user, text=reply.text)
    else:
        await client.chat_postMessage(channel=channel, text=reply.text)
    if reply.csv is not None:
        await client.files_upload_v2(
            content=reply.csv, filename="usage.csv", title="Usage", channel=channel
        )


def _team_of(event: MessageEvent, context: AsyncBoltContext) -> str:
    return str(context.team_id or event.get("team") or "")
