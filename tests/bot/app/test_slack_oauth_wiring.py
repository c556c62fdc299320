"""`editbot run` in OAuth mode: the composition root serves /slack/install and
/slack/oauth_redirect on the App's own (migrated) database, and the workers' ChatPort finds
each installed workspace's token there."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from adapters.slack.teams import TeamChatPort
from bot.app.platforms import register_delivery_chats, wire_platforms
from bot.app.root import open_app
from tests.kit.emulator import ProviderEmulator
from tests.kit.settings import make_settings
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.installs import CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_oauth_mode_installs_into_the_apps_database_and_workers_use_the_token(
    tmp_path,
) -> None:
    port = free_port()
    async with FakeSlackApi(token="xoxb-unused") as api, httpx.AsyncClient(timeout=10) as http:
        api.teams.clear()
        api.client_id, api.client_secret = CLIENT_ID, CLIENT_SECRET
        settings = make_settings(
            SLACK_CLIENT_ID=CLIENT_ID,
            SLACK_CLIENT_SECRET=CLIENT_SECRET,
            SLACK_SIGNING_SECRET="secret",
            SLACK_API_URL=api.api_url,
            OPENAI_API_KEY=ProviderEmulator().openai_key,
            EDITBOT_DATA_DIR=str(tmp_path / "data"),
            EDITBOT_HTTP_PORT=port,
        )
        async with open_app(settings) as app:
            runners, _ = wire_platforms(app)
            assert isinstance(app.chats["slack"], TeamChatPort)
            serving = asyncio.create_task(runners[0]())
            try:
                base = f"http://127.0.0.1:{port}"
                async with asyncio.timeout(10):
                    while True:
                        try:
                            start = await http.get(base + "/slack/install")
                            break
                        except httpx.ConnectError:
                            await asyncio.sleep(0.02)
                assert start.status_code == 200
                cookie = start.headers["set-cookie"].split(";")[0]
                state = cookie.split("=", 1)[1]
                api.oauth_codes["code-9"] = "T0009"
                done = await http.get(
                    base + "/slack/oauth_redirect",
                    params={"code": "code-9", "state": state},
                    headers={"cookie": cookie},
                )
                assert done.status_code == 200, done.text
            finally:
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)

            # A worker process (`editbot worker`) reads the same install.
            app.chats.clear()
            await register_delivery_chats(app)
            chat = app.chats["slack"]
            assert isinstance(chat, TeamChatPort)
            port_t9 = await chat.port_for("T0009")
            [token] = [t for t, team in api.teams.items() if team == "T0009"]
            assert port_t9._client.token == token
