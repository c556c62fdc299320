"""The real AsyncApp in OAuth mode (installs in many workspaces) over the fake Web API.

The installation and state stores are slack_sdk's SQLAlchemy stores on a test database that
Alembic migrated; the service is the kit's FakeEditService, answering through the
TeamChatPort (each workspace's own token) as the workers do.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from aiohttp import web
from slack_bolt.async_app import AsyncApp

from adapters.slack.app import build_slack_app, build_slack_client, make_team_chat_port
from adapters.slack.downloads import allowed_hosts
from adapters.slack.http import slack_events_handler
from adapters.slack.oauth import SlackInstalls, oauth_handler
from adapters.slack.teams import Downloaders, TeamChatPort
from bot.app.web import build_web_app
from bot.core.metrics import Registry
from storage.db import create_engine
from tests.kit.service import FakeEditService
from tests.kit.settings import make_settings
from tests.kit.slack.api import BOT_USER_ID, FakeSlackApi
from tests.kit.slack.harness import CHANNEL, SECRET, USER, signed_headers

CLIENT_ID = "111.222"
CLIENT_SECRET = "test-client-secret"


@dataclass
class OAuthHarness:
    api: FakeSlackApi
    service: FakeEditService
    app: AsyncApp
    chat: TeamChatPort
    installs: SlackInstalls
    http: httpx.AsyncClient
    url: str

    async def install(self, team: str) -> httpx.Response:
        """A person installs editbot in `team`: /slack/install, Slack's consent, the redirect."""
        start = await self.http.get(self.url + "/slack/install")
        assert start.status_code == 200, start.text
        cookie = start.headers["set-cookie"].split(";")[0]
        link = re.search(r'href="([^"]*state=[^"]*)"', start.text)
        assert link is not None, start.text
        state = parse_qs(urlsplit(html.unescape(link.group(1))).query)["state"][0]
        assert cookie == f"slack-app-oauth-state={state}"
        code = f"code-{team}"
        self.api.oauth_codes[code] = team  # what Slack hands back after the person consents
        return await self.http.get(
            self.url + "/slack/oauth_redirect",
            params={"code": code, "state": state},
            headers={"cookie": cookie},
        )

    async def command(self, team: str, name: str, text: str) -> int:
        """A slash command typed in `team`."""
        body = urlencode(
            {
                "command": name,
                "text": text,
                "team_id": team,
                "channel_id": CHANNEL,
                "user_id": USER,
                "trigger_id": f"trig.{team}",
                "response_url": "http://x/",
            }
        )
        headers = signed_headers(
            body, secret=SECRET, content_type="application/x-www-form-urlencoded"
        )
        resp = await self.http.post(self.url + "/slack/events", content=body, headers=headers)
        return resp.status_code

    async def event(self, team: str, event: Mapping[str, Any], *, event_id: str) -> int:
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": team,
                "api_app_id": "A0001",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "authorizations": [{"team_id": team, "user_id": BOT_USER_ID, "is_bot": True}],
                "event": {**event, "team": team},
            }
        )
        resp = await self.http.post(
            self.url + "/slack/events", content=body, headers=signed_headers(body, secret=SECRET)
        )
        return resp.status_code


@asynccontextmanager
async def oauth_harness(db_url: str) -> AsyncIterator[OAuthHarness]:
    """OAuth mode on `db_url` (migrated): SLACK_CLIENT_ID/SECRET, no SLACK_BOT_TOKEN."""
    engine = create_engine(db_url)
    async with (
        FakeSlackApi(token="xoxb-unused") as api,
        httpx.AsyncClient(timeout=10) as http,
    ):
        api.teams.clear()  # no workspace is installed yet: no token works
        api.client_id, api.client_secret = CLIENT_ID, CLIENT_SECRET
        settings = make_settings(
            SLACK_CLIENT_ID=CLIENT_ID,
            SLACK_CLIENT_SECRET=CLIENT_SECRET,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=api.api_url,
        )
        assert settings.slack_oauth
        client = build_slack_client(settings)
        installs = SlackInstalls(settings=settings, engine=engine, client=client)
        downloaders = Downloaders(
            http=http, max_bytes=settings.max_input_bytes, hosts=allowed_hosts(api.api_url)
        )
        chat = make_team_chat_port(settings=settings, installs=installs, downloaders=downloaders)
        service = FakeEditService(chats={"slack": chat})
        app = build_slack_app(
            settings=settings,
            client=client,
            service=service,
            downloader=downloaders,
            metrics=Registry(),
            installs=installs,
        )
        web_app = build_web_app(
            health=None,
            metrics=Registry(),
            slack_handler=slack_events_handler(app),
            slack_oauth_handler=oauth_handler(app),
        )
        runner = web.AppRunner(web_app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield OAuthHarness(api, service, app, chat, installs, http, f"http://127.0.0.1:{port}")
        finally:
            await runner.cleanup()
            await engine.dispose()
