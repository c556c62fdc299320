"""`editbot run` as an operator runs it: a real process in Slack HTTP mode, end to end.

Signed events go into the real process; Slack is the local fake Web API, the provider the
emulator over HTTP. What is checked is what a person in Slack would see in the thread.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator.server import EmulatorServer
from tests.kit.images import split
from tests.kit.paths import REPO as REPO_ROOT
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import (
    CHANNEL,
    SECRET,
    TOKEN,
    event_callback,
    file_object,
    mention,
    signed_headers,
)

OPENAI_KEY = "sk-run-test-0001"
REPO = REPO_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bot:
    """One `editbot run` process and how to reach it."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@asynccontextmanager
async def editbot_run(env: dict[str, str], tmp_path: Path, name: str) -> AsyncIterator[Bot]:
    port = _free_port()
    log = tmp_path / f"{name}.log"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EDITBOT_", "SLACK_"))}
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.app.cli",
            "run",
            env={**base, "PYTHONPATH": str(REPO), "EDITBOT_HTTP_PORT": str(port), **env},
            cwd=tmp_path,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
        )
    bot = Bot(proc, port, log)
    try:
        async with httpx.AsyncClient() as http:
            async with asyncio.timeout(60):
                while True:
                    assert proc.returncode is None, bot.output()
                    try:
                        if (await http.get(bot.url + "/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.2)
        yield bot
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def _env(api: FakeSlackApi, emulator_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api.api_url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": f"{emulator_url}/v1",
        "EDITBOT_DATA_DIR": str(tmp_path / "data"),
        "EDITBOT_CONFIRM_ABOVE_USD": "5",
        "EDITBOT_LEASE_S": "2",
    }


async def _send_mention(bot: Bot, api: FakeSlackApi, *, ts: str, text: str) -> None:
    body = event_callback(
        mention(text, ts=ts, files=[file_object(api, "photo.jpg")]), event_id=f"Ev{ts}"
    )
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            bot.url + "/slack/events", content=body, headers=signed_headers(body)
        )
    assert resp.status_code == 200


def _results(api: FakeSlackApi, thread: str) -> list:
    return [u for u in api.uploads if u.thread_ts == thread and u.channel == CHANNEL]


async def test_a_mention_with_a_photo_gets_its_edit_in_the_thread(tmp_path):
    emu = ProviderEmulator(openai_key=OPENAI_KEY)
    async with EmulatorServer(emu) as emulator_url, FakeSlackApi(token=TOKEN) as api:
        api.files["photo.jpg"] = split((320, 240), fmt="JPEG")
        async with editbot_run(_env(api, emulator_url, tmp_path), tmp_path, "run") as bot:
            ts = "1700000001.000100"
            await _send_mention(bot, api, ts=ts, text="make it blue quality=low")
            await api.wait_for(lambda: bool(_results(api, ts)), timeout=60)

            (upload,) = _results(api, ts)
            image = Image.open(io.BytesIO(upload.data))
            # 320x240 is 4:3; at 1k editbot asks for 1360x1024.
            assert image.size == (1360, 1024)
            left, right = image.getpixel((200, 512)), image.getpixel((1160, 512))
            assert left[0] > left[2] and right[2] > right[0]  # the input's halves survive
            posted = " ".join(str(a.get("text", "")) for a in api.named("chat.postMessage"))
            posted += " " + str(upload.initial_comment or "") + " " + str(upload.blocks or "")
            assert "v1" in posted and "$" in posted
            assert upload.alt_txt and "make it blue" in upload.alt_txt

            bot.proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(bot.proc.wait(), 30) == 0, bot.output()
        # The process said nothing secret on its way.
        assert OPENAI_KEY not in bot.output() and TOKEN not in bot.output()


@pytest.mark.slow
async def test_a_restart_mid_job_still_answers_in_the_right_thread_once(tmp_path):
    emu = ProviderEmulator(openai_key=OPENAI_KEY, latency_s=3.0)
    async with EmulatorServer(emu) as emulator_url, FakeSlackApi(token=TOKEN) as api:
        api.files["photo.jpg"] = split((320, 240), fmt="JPEG")
        env = _env(api, emulator_url, tmp_path)
        ts = "1700000002.000100"
        async with editbot_run(env, tmp_path, "first") as first:
            await _send_mention(first, api, ts=ts, text="add a hat quality=low")
            async with asyncio.timeout(30):
                while not emu.routes("openai_edit"):
                    await asyncio.sleep(0.05)
            first.proc.kill()  # mid-job: the provider is still working on it
            await first.proc.wait()
        assert not _results(api, ts)

        async with editbot_run(env, tmp_path, "second") as second:
            await api.wait_for(lambda: bool(_results(api, ts)), timeout=60)
            await asyncio.sleep(1.0)  # room for a wrong second delivery to show up
            assert len(_results(api, ts)) == 1, second.output()
            second.proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.proc.wait(), 30) == 0
