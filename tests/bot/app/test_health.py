"""Platform health as an operator meets it: real `editbot run` processes against the fake
Slack Web API, its Socket Mode server and the fake Discord REST and gateway.

A token the platform rejects at start is exit 2 with the platform's word; once running,
/healthz is 503 with each platform's state while one is away past EDITBOT_HEALTH_GRACE_S,
and one platform failing leaves the other serving.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.bot.app.cli.test_spine import editbot
from tests.kit.discord.rest import FakeDiscord
from tests.kit.paths import REPO
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.socket import FakeSocketMode, SocketSlackApi

TOKEN = "xoxb-health-0001"
APP_TOKEN = "xapp-health-0002"
DISCORD_TOKEN = "discord-health-0003"


def _problems(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [ln for ln in err.splitlines() if ln.startswith("editbot run:")]


async def test_tokens_the_platforms_reject_at_start_exit_2_with_their_words(tmp_path: Path):
    async with FakeSlackApi(token=TOKEN) as slack, FakeDiscord(token=DISCORD_TOKEN) as discord:
        env = {
            "SLACK_BOT_TOKEN": "xoxb-wrong",
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": slack.api_url,
            "DISCORD_TOKEN": "abc",
            "DISCORD_API_URL": discord.api_url,
            "OPENAI_API_KEY": "k",
        }
        results = [await editbot([cmd], env, tmp_path) for cmd in ("run", "worker")]
    for cmd, (code, _, err) in zip(("run", "worker"), results, strict=True):
        assert code == 2, err
        assert [ln for ln in err.splitlines() if ln.startswith("editbot ")] == [
            f"editbot {cmd}: configuration: SLACK_BOT_TOKEN: Slack rejected the token "
            "(invalid_auth)",
            f"editbot {cmd}: configuration: DISCORD_TOKEN: Discord rejected the token "
            "(401 Unauthorized)",
        ]
        assert "Traceback" not in err and "xoxb-wrong" not in err


async def test_a_rejected_socket_mode_token_exits_2_instead_of_retrying(tmp_path: Path):
    async with (
        FakeSocketMode() as sm,
        SocketSlackApi(token=TOKEN, app_token=APP_TOKEN, socket=sm) as slack,
    ):
        env = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_APP_TOKEN": "xapp-wrong",
            "SLACK_API_URL": slack.api_url,
            "OPENAI_API_KEY": "k",
        }
        code, _, err = await editbot(["run"], env, tmp_path)
    assert code == 2, err
    assert _problems(err) == [
        "editbot run: configuration: SLACK_APP_TOKEN: Slack rejected the token "
        "(not_allowed_token_type)"
    ]
    assert not sm.connections


class Running:
    def __init__(self, proc: asyncio.subprocess.Process, url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            resp = await http.get(self.url + "/healthz")
        return resp.status_code, resp.json()

    async def wait_health(self, status: int, **states: str) -> dict[str, Any]:
        """Poll /healthz until it answers `status` with these platform states."""
        async with asyncio.timeout(60):
            while True:
                assert self.proc.returncode is None, self.log.read_text()
                try:
                    code, body = await self.health()
                except httpx.TransportError:
                    code, body = 0, {}
                platforms = body.get("platforms", {})
                if code == status and all(
                    platforms.get(p, {}).get("state") == s for p, s in states.items()
                ):
                    return body
                await asyncio.sleep(0.1)


@asynccontextmanager
async def editbot_run(env: dict[str, str], tmp_path: Path) -> AsyncIterator[Running]:
    from tests.bot.app.cli.test_config_lines import _free_port

    port = _free_port()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EDITBOT_", "SLACK_", "DISCORD_", "OPENAI_"))
    }
    log = tmp_path / "run.log"
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.app.cli",
            "run",
            env={
                **base,
                "PYTHONPATH": str(REPO),
                "EDITBOT_HTTP_PORT": str(port),
                "EDITBOT_DATA_DIR": str(tmp_path / "data"),
                "EDITBOT_HEALTH_GRACE_S": "1",
                "OPENAI_API_KEY": "k",
                **env,
            },
            cwd=tmp_path,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        yield Running(proc, f"http://127.0.0.1:{port}", log)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def test_healthz_is_503_while_socket_mode_is_away_and_200_when_back(tmp_path: Path):
    async with (
        FakeSocketMode() as sm,
        SocketSlackApi(token=TOKEN, app_token=APP_TOKEN, socket=sm) as slack,
    ):
        env = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": slack.api_url,
        }
        async with editbot_run(env, tmp_path) as bot:
            await bot.wait_health(200, slack="connected")
            # Slack drops the connection and will not hand out a new one for now.
            slack.app_token = "xapp-rotated"
            live = await sm.wait_connected()
            await live.ws.close()
            body = await bot.wait_health(503, slack="disconnected")
            assert body["ok"] is False and body["platforms"]["slack"]["for_s"] >= 1
            slack.app_token = APP_TOKEN
            body = await bot.wait_health(200, slack="connected")
            assert body["ok"] is True


async def test_discord_failing_after_the_start_leaves_slack_serving(tmp_path: Path):
    from tests.bot.app.cli.test_run import _send_mention
    from tests.kit.emulator import ProviderEmulator
    from tests.kit.emulator.server import EmulatorServer
    from tests.kit.images import split
    from tests.kit.slack.harness import SECRET

    emu = ProviderEmulator(openai_key="sk-health-0004")
    async with (
        EmulatorServer(emu) as emulator_url,
        FakeSlackApi(token=TOKEN) as slack,
        FakeDiscord(token=DISCORD_TOKEN) as discord,
    ):
        slack.files["photo.jpg"] = split((320, 240), fmt="JPEG")
        discord.sync_status = 403  # the token is fine; Discord then fails while logging in
        env = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "DISCORD_API_URL": discord.api_url,
            "OPENAI_API_KEY": "sk-health-0004",
            "OPENAI_BASE_URL": f"{emulator_url}/v1",
        }
        async with editbot_run(env, tmp_path) as bot:
            body = await bot.wait_health(503, slack="connected", discord="failed")
            assert "Missing Access" in body["platforms"]["discord"]["error"]
            # Slack still takes an edit and answers it.
            ts = "1700000031.000100"
            await _send_mention(bot, slack, ts=ts, text="make it blue quality=low")
            await slack.wait_for(lambda: any(u.thread_ts == ts for u in slack.uploads), timeout=60)
            assert bot.proc.returncode is None


async def test_healthz_is_503_naming_discord_while_its_gateway_is_away_and_slack_stays_up(
    tmp_path: Path,
):
    from tests.kit.discord.live import LiveFakeDiscord

    async with (
        FakeSocketMode() as sm,
        SocketSlackApi(token=TOKEN, app_token=APP_TOKEN, socket=sm) as slack,
        LiveFakeDiscord(token=DISCORD_TOKEN) as discord,
    ):
        env = {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": slack.api_url,
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "DISCORD_API_URL": discord.api_url,
        }
        async with editbot_run(env, tmp_path) as bot:
            await bot.wait_health(200, slack="connected", discord="connected")
            # Discord drops the session, then refuses every new connection and resume.
            discord.refuse_gateway = True
            for session in discord.shards:
                await session.ws.close(code=4000)
            body = await bot.wait_health(503, slack="connected", discord="disconnected")
            assert body["ok"] is False and body["platforms"]["discord"]["for_s"] >= 1
            assert body["platforms"]["discord"]["error"] == "gateway connection lost"
            discord.refuse_gateway = False  # back: the client identifies again
            body = await bot.wait_health(200, slack="connected", discord="connected")
            assert body["ok"] is True and discord.identified >= 2
