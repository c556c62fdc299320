"""Build editbot's Slack AsyncApp: register listeners that ack, translate, and call the core."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import translate
from adapters.slack.chat import SlackChatPort
from adapters.slack.downloads import SlackDownloader
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
from bot.core.errors import ConfigError
from bot.core.metrics import Registry
from bot.core.ports import BudgetReply, EditServicePort

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 3
EVENTS = ("app_mention", "message")
"""Event types the app listens for (the manifest subscribes message.channels/.groups)."""
EDIT_COMMAND = "/edit"
BUDGET_COMMAND = "/edit-budget"


def build_slack_client(settings: Settings, *, session: Any = None) -> AsyncWebClient:
    """The Web API client: SLACK_API_URL as base, 429s waited out per Retry-After."""
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        session=session,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
    )


def build_slack_app(
    *,
    settings: Settings,
    client: AsyncWebClient,
    service: EditServicePort,
    downloader: SlackDownloader,
    metrics: Registry | None = None,
) -> AsyncApp:
    """An AsyncApp on the injected client whose listeners ack first and then call `service`."""
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        raise ConfigError("set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)")
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else None,
        # Socket Mode has no signatures to check; HTTP mode always verifies.
        request_verification_enabled=secret is not None,
        name="editbot",
    )
    registry = metrics or Registry()
    events = registry.counter("slack_events_total", "Slack payloads handed to the core, by kind")
    attach = downloader.attachment

    async def platform_admin(user: str) -> bool:
        """What Slack says: a workspace admin or owner (the core adds EDITBOT_ADMINS)."""
        resp = await client.users_info(user=user)
        info: Mapping[str, Any] = resp.get("user") or {}
        return bool(info.get("is_admin") or info.get("is_owner"))

    @app.event("app_mention")
    async def on_mention(event: dict, context: AsyncBoltContext) -> None:
        edit = translate.mention_edit(
            event, team=_team_of(event, context), bot_user_id=context.bot_user_id, attach=attach
        )
        events.inc(kind="app_mention")
        await service.submit(edit)

    @app.event("message")
    async def on_message(event: dict, context: AsyncBoltContext) -> None:
        edit = translate.file_share_edit(
            event, team=_team_of(event, context), bot_user_id=context.bot_user_id, attach=attach
        )
        if edit is not None:
            events.inc(kind="file_share")
            await service.submit(edit)

    @app.shortcut(SHORTCUT_CALLBACK)
    async def on_shortcut(ack: AsyncAck, body: dict) -> None:
        await ack()
        message = body.get("message") or {}
        view = shortcut_modal(
            channel=str(body["channel"]["id"]),
            thread=str(message.get("thread_ts") or message["ts"]),
            message=str(message["ts"]),
            files=message.get("files") or [],
            max_n=settings.max_n,
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(SHORTCUT_VIEW)
    async def on_shortcut_submit(ack: AsyncAck, body: dict) -> None:
        await ack()
        events.inc(kind="shortcut")
        await service.submit(translate.shortcut_submission_edit(body, attach=attach))

    @app.command(EDIT_COMMAND)
    async def on_edit_command(ack: AsyncAck, body: dict) -> None:
        await ack()
        view = command_modal(
            channel=str(body["channel_id"]),
            prompt=str(body.get("text") or ""),
            max_n=settings.max_n,
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(COMMAND_VIEW)
    async def on_edit_submit(ack: AsyncAck, body: dict) -> None:
        await ack()
        view = body["view"]
        values = view_values(view)
        user = body["user"]["id"]
        # The request is posted in the channel; its thread becomes the edit thread.
        posted = await client.chat_postMessage(
            channel=str(view_metadata(view)["channel"]),
            text=f"<@{user}> asked for an edit: {values.get('prompt') or ''}".strip(),
        )
        events.inc(kind="command")
        edit = translate.command_submission_edit(body, request_ts=str(posted["ts"]), attach=attach)
        await service.submit(edit)

    @app.command(BUDGET_COMMAND)
    async def on_budget(ack: AsyncAck, body: dict) -> None:
        await ack()
        place = translate.command_place(body)
        admin = await platform_admin(place.user)
        reply = await service.budget(
            place, str(body.get("text") or "").strip(), platform_admin=admin
        )
        await _answer_budget(client, place.channel, place.user, reply)

    @app.action(re.compile("^" + re.escape(ACTION_PREFIX)))
    async def on_button(ack: AsyncAck, body: dict) -> None:
        await ack()
        admin = await platform_admin(str(body["user"]["id"]))
        press = translate.action_press(body, platform_admin=admin)
        if press is not None:
            events.inc(kind="action")
            await service.press(press)

    return app


async def _answer_budget(
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


def _team_of(event: Mapping[str, Any], context: AsyncBoltContext) -> str:
    return str(context.team_id or event.get("team") or "")


def make_chat_port(*, client: AsyncWebClient, downloader: SlackDownloader) -> SlackChatPort:
    """The ChatPort the core (and its workers) deliver Slack results through."""
    return SlackChatPort(client=client, downloader=downloader)
