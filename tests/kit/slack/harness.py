"""Signed Slack requests, payload builders, and a harness running editbot's real AsyncApp."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import build_slack_app, build_slack_client
from adapters.slack.chat import SlackChatPort
from adapters.slack.downloads import SlackDownloader, allowed_hosts
from adapters.slack.http import slack_events_handler
from bot.app.web import build_web_app
from bot.core.config import Settings
from bot.core.metrics import Registry
from bot.core.ports import EditServicePort
from tests.kit.service import FakeEditService
from tests.kit.settings import make_settings
from tests.kit.slack.api import BOT_USER_ID, TEAM_ID, FakeSlackApi

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
CHANNEL = "C0001"
USER = "U0001"


def signed_headers(
    body: str,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sig = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"x-slack-signature": sig, "x-slack-request-timestamp": ts, "content-type": content_type}


def file_object(
    api: FakeSlackApi, name: str, *, mimetype: str = "image/png", size: int | None = None
) -> dict[str, Any]:
    data = api.files.get(name, b"")
    return {
        "id": "F" + name,
        "name": name,
        "mimetype": mimetype,
        "size": len(data) if size is None else size,
        "url_private": api.file_url(name),
        "url_private_download": api.file_url(name),
    }


def event_callback(event: Mapping[str, Any], *, event_id: str = "Ev0001") -> str:
    return json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM_ID,
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1700000000,
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
            "event": dict(event),
        }
    )


def button_press(
    action_id: str,
    value: str,
    *,
    user: str = USER,
    message_ts: str = "5.6",
    thread_ts: str = "1699999999.000100",
    action_ts: str = "7.7",
) -> dict[str, Any]:
    """A block_actions payload: `user` pressed the button `action_id` (with `value`, a job
    id) on the message at `message_ts` in the thread `thread_ts`."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": user},
        "channel": {"id": CHANNEL},
        "trigger_id": "t",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL},
        "message": {"ts": message_ts, "thread_ts": thread_ts, "text": "What next?"},
        "actions": [
            {
                "action_id": action_id,
                "value": value,
                "type": "button",
                "block_id": "b",
                "action_ts": action_ts,
            }
        ],
    }


def mention(
    text: str,
    *,
    ts: str = "1699999999.000100",
    files: list | None = None,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": USER,
        "channel": CHANNEL,
        "team": TEAM_ID,
        "ts": ts,
        "event_ts": ts,
        "text": f"<@{BOT_USER_ID}> {text}",
    }
    if files:
        event["files"] = files
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def file_share(text: str, *, ts: str = "1699999999.000100", files: list) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "file_share",
        "user": USER,
        "channel": CHANNEL,
        "team": TEAM_ID,
        "ts": ts,
        "event_ts": ts,
        "text": text,
        "files": files,
        "channel_type": "channel",
    }


def form(payload: Mapping[str, Any]) -> str:
    """An interactivity payload as Slack posts it: payload=<json>, form-encoded."""
    return urlencode({"payload": json.dumps(payload)})


def command(name: str, text: str, *, user: str = USER) -> str:
    return urlencode(
        {
            "command": name,
            "text": text,
            "team_id": TEAM_ID,
            "channel_id": CHANNEL,
            "user_id": user,
            "trigger_id": "trig.1",
            "response_url": "http://x/",
        }
    )


def select(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def view_state(
    prompt: str, *, quality: str = "high", aspect: str = "4:5", files: list | None = None
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "prompt": {"prompt": {"type": "plain_text_input", "value": prompt}},
        "quality": {"quality": select(quality)},
        "aspect": {"aspect": select(aspect)},
        "resolution": {"resolution": select("1k")},
        "n": {"n": select("1")},
    }
    if files is not None:
        values["images"] = {"images": {"type": "file_input", "files": files}}
    return {"values": values}


@dataclass
class Harness:
    api: FakeSlackApi
    service: FakeEditService
    app: AsyncApp
    client: AsyncWebClient
    chat: SlackChatPort
    http: httpx.AsyncClient
    url: str
    settings: Settings
    metrics: Registry

    async def post(
        self,
        body: str,
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        **sign: Any,
    ) -> httpx.Response:
        h = signed_headers(body, content_type=content_type, **sign)
        h.update(headers or {})
        return await self.http.post(self.url + "/slack/events", content=body, headers=h)

    async def interact(self, payload: Mapping[str, Any]) -> httpx.Response:
        return await self.post(form(payload), content_type="application/x-www-form-urlencoded")

    async def command(self, name: str, text: str, *, user: str = USER) -> httpx.Response:
        return await self.post(
            command(name, text, user=user), content_type="application/x-www-form-urlencoded"
        )


def slack_env(api: FakeSlackApi) -> dict[str, str]:
    """The settings that point editbot at the fake Web API (HTTP mode)."""
    return {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api.api_url}


@asynccontextmanager
async def slack_harness(
    *,
    max_bytes: int = 50 * 1024 * 1024,
    hold: bool = False,
    admins: str = "",
    make_service: Callable[[SlackChatPort, Settings], EditServicePort] | None = None,
    update_interval: float = 5.0,
    **extra: Any,
) -> AsyncIterator[Harness]:
    """The real AsyncApp in HTTP mode on 127.0.0.1, over a fake Slack and the fake service.

    `make_service` swaps the fake core for another (the real EditService); `extra` are settings.
    """
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient(timeout=10) as http:
        settings = make_settings(
            **slack_env(api), EDITBOT_MAX_INPUT_BYTES=max_bytes, EDITBOT_ADMINS=admins, **extra
        )
        client = build_slack_client(settings)
        downloader = SlackDownloader(
            http=http, token=TOKEN, max_bytes=max_bytes, hosts=allowed_hosts(settings.slack_api_url)
        )
        chat = SlackChatPort(client=client, downloader=downloader, update_interval=update_interval)
        fake = FakeEditService(chats={"slack": chat}, hold=hold)
        service = make_service(chat, settings) if make_service else fake
        metrics = Registry()
        app = build_slack_app(
            settings=settings,
            client=client,
            service=service,
            downloader=downloader,
            metrics=metrics,
        )
        web_app = build_web_app(
            health=None, metrics=metrics, slack_handler=slack_events_handler(app)
        )
        runner = web.AppRunner(web_app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield Harness(
                api, service, app, client, chat, http, f"http://127.0.0.1:{port}", settings, metrics
            )
        finally:
            await runner.cleanup()
