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
from adapters.slack.edit_command import (
    choose_another_image,
    client_of,
    edit_from_command_modal,
    edit_latest_or_choose,
)
from adapters.slack.edit_modal import CHOOSE_ACTION
from adapters.slack.escape import outgoing, private
from adapters.slack.home import open_budget_settings, publish_home, save_budget_settings
from adapters.slack.home_view import SETTINGS_ACTION, SETTINGS_VIEW
from adapters.slack.payloads import (
    BlockActionsBody,
    CommandBody,
    MessageEvent,
    ShortcutBody,
    ViewSubmissionBody,
)
from adapters.slack.teams import Downloaders, attach_for
from adapters.slack.views import (
    ACTION_PREFIX,
    COMMAND_VIEW,
    SHORTCUT_CALLBACK,
    SHORTCUT_VIEW,
    shortcut_modal,
)
from bot.core.config import Settings
from bot.core.domain import IncomingEdit
from bot.core.metrics import Counter, Registry
from bot.core.ports import BudgetReply, EditServicePort

EVENTS = ("app_mention", "message", "app_home_opened")
"""Event types the app listens for (the manifest subscribes message.channels/.groups)."""
EDIT_COMMAND = "/edit"
HELP_WORDS = ("help", "?", "commands")
BUDGET_COMMAND = "/edit-budget"

Listener = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class ListenerDeps:
    """What the listeners call: the core, Slack's Web API and files, settings, a counter."""

    service: EditServicePort
    client: AsyncWebClient
    downloader: SlackDownloader | Downloaders
    """One bot token's downloader, or one per workspace token (OAuth installs)."""
    settings: Settings
    events: Counter
    """Payloads handed to the core, by kind."""


def register(
    app: AsyncApp,
    *,
    service: EditServicePort,
    client: AsyncWebClient,
    downloader: SlackDownloader | Downloaders,
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
    # Events are acked by bolt before their listener runs; the middleware runs before that.
    app.event("app_mention", middleware=[_bind(accept_mention, deps)])(
        _bind(edit_from_mention, deps)
    )
    app.event("message", middleware=[_bind(accept_file_share, deps)])(
        _bind(edit_from_file_share, deps)
    )
    app.shortcut(SHORTCUT_CALLBACK)(_bind(open_shortcut_modal, deps))
    app.view(SHORTCUT_VIEW)(_bind(edit_from_shortcut_modal, deps))
    app.command(EDIT_COMMAND)(_bind(open_edit_modal, deps))
    app.view(COMMAND_VIEW)(_bind(edit_from_command_modal, deps))
    app.action(CHOOSE_ACTION)(_bind(choose_another_image, deps))
    app.event("app_home_opened")(_bind(publish_home, deps))
    app.action(SETTINGS_ACTION)(_bind(open_budget_settings, deps))
    app.view(SETTINGS_VIEW)(_bind(save_budget_settings, deps))
    app.command(BUDGET_COMMAND)(_bind(answer_budget_command, deps))
    app.action(re.compile("^" + re.escape(ACTION_PREFIX)))(_bind(press_button, deps))


def _bind(listener: Listener, deps: ListenerDeps) -> Listener:
    """`listener` with `deps` bound, keeping the name bolt logs it by.

    `deps` is keyword-only, so it is not among the positional parameters bolt fills in.
    """
    return functools.update_wrapper(functools.partial(listener, deps=deps), listener)


ACCEPTED = "editbot_edit"
"""Where the accepting middleware leaves the translated edit in the bolt context."""


async def accept_mention(
    event: MessageEvent,
    context: AsyncBoltContext,
    next: Callable[[], Awaitable[None]],  # noqa: A002 (bolt injects it by this name)
    *,
    deps: ListenerDeps,
) -> None:
    """Before bolt acks a mention: translate it and record it durably (a crash after the
    200 still answers it); an error here answers 500, and Slack sends the event again."""
    edit = translate.mention_edit(
        event,
        team=_team_of(event, context),
        bot_user_id=context.bot_user_id,
        attach=attach_for(deps.downloader, context.bot_token),
    )
    await deps.service.accept(edit)
    context[ACCEPTED] = edit
    await next()


async def accept_file_share(
    event: MessageEvent,
    context: AsyncBoltContext,
    next: Callable[[], Awaitable[None]],  # noqa: A002 (bolt injects it by this name)
    *,
    deps: ListenerDeps,
) -> None:
    """Before bolt acks a message event: the same for a file share that is an edit."""
    edit = translate.file_share_edit(
        event,
        team=_team_of(event, context),
        bot_user_id=context.bot_user_id,
        attach=attach_for(deps.downloader, context.bot_token),
    )
    if edit is not None:
        await deps.service.accept(edit)
        context[ACCEPTED] = edit
    await next()


async def edit_from_mention(context: AsyncBoltContext, *, deps: ListenerDeps) -> None:
    """An @editbot mention (with or without files): an edit in the message's thread."""
    deps.events.inc(kind="app_mention")
    await deps.service.submit(context[ACCEPTED])


async def edit_from_file_share(context: AsyncBoltContext, *, deps: ListenerDeps) -> None:
    """A message event: an edit when it shares files and mentions the bot, else nothing."""
    edit = context.get(ACCEPTED)
    if edit is not None:
        deps.events.inc(kind="file_share")
        await deps.service.submit(edit)


async def open_shortcut_modal(
    ack: AsyncAck, body: ShortcutBody, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
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
    await client_of(context, deps).views_open(trigger_id=body["trigger_id"], view=view)


async def edit_from_shortcut_modal(
    ack: AsyncAck, body: ViewSubmissionBody, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """The shortcut modal's submission: an edit of the message's files in its thread."""
    attach = attach_for(deps.downloader, context.bot_token)
    edit = translate.shortcut_submission_edit(body, attach=attach)
    await deps.service.accept(edit)  # durable before the ack
    await ack()
    deps.events.inc(kind="shortcut")
    await deps.service.submit(edit)


async def open_edit_modal(
    ack: AsyncAck, body: CommandBody, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """`/edit [prompt]`: the channel's latest image edited in its thread, else the modal
    (adapters.slack.edit_command). `/edit help` goes to the core, which answers the person only."""
    await ack()
    text = str(body.get("text") or "").strip()
    if text.lower() in HELP_WORDS:
        place = translate.command_place(body)
        key = f"slack:command:{place.workspace}:{place.channel}:{body.get('trigger_id')}"
        await deps.service.submit(IncomingEdit(place=place, text=text, event_key=key))
        return
    await edit_latest_or_choose(body, context, deps=deps)


async def answer_budget_command(
    ack: AsyncAck, body: CommandBody, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """`/edit-budget [args]`: the core's budget reply, posted the way it asks."""
    await ack()
    place = translate.command_place(body)
    client = client_of(context, deps)  # the workspace's token (OAuth installs: one each)
    admin = await _platform_admin(client, place.user)
    reply = await deps.service.budget(
        place, str(body.get("text") or "").strip(), platform_admin=admin
    )
    await _post_budget_reply(client, place.channel, place.user, reply)


async def press_button(
    ack: AsyncAck, body: BlockActionsBody, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """A press on one of editbot's buttons (retry, confirm, cancel, ...)."""
    await ack()
    admin = await _platform_admin(client_of(context, deps), str(body["user"]["id"]))
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
    """The text to the asker only; a chart in the channel; a CSV in a direct message."""
    if reply.chart_png is not None:
        await client.files_upload_v2(
            content=reply.chart_png,
            filename="budget.png",
            title="Budget",
            channel=channel,
            initial_comment=outgoing(reply.chart_text, requester=user) or None,
        )
    if reply.csv is not None:
        # Ephemeral messages cannot carry files: the report goes to a DM with the asker.
        opened = await client.conversations_open(users=user)
        dm = str((opened.get("channel") or {}).get("id") or "")
        await client.files_upload_v2(
            content=reply.csv,
            filename=reply.csv_name,
            title="editbot usage",
            channel=dm,
            initial_comment=private(reply.text),
        )
        text = f"{reply.text} Sent to you in a direct message from editbot."
        await client.chat_postEphemeral(channel=channel, user=user, text=private(text))
    elif reply.private:
        await client.chat_postEphemeral(channel=channel, user=user, text=private(reply.text))
    else:
        await client.chat_postMessage(channel=channel, text=outgoing(reply.text, requester=user))


def _team_of(event: MessageEvent, context: AsyncBoltContext) -> str:
    return str(context.team_id or event.get("team") or "")
