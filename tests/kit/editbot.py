"""Real editbot processes for tests: `editbot run` (Slack HTTP mode) and `editbot worker`.

Each runs as `python -m bot.app.cli ...` with a clean environment (no EDITBOT_ / SLACK_ from
the test runner), its output in a log file. The fake Slack Web API and the emulator usually
serve from the test's event loop, so waiting for a process to end happens in a thread.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.kit.paths import REPO
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import (
    SECRET,
    TOKEN,
    event_callback,
    file_object,
    mention,
    signed_headers,
)

OPENAI_KEY = "sk-durable-test-0001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Editbot:
    """One editbot process: its pid, its log, and (for `run`) its HTTP address."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path, port: int | None) -> None:
        self.proc = proc
        self.log = log
        self.url = f"http://127.0.0.1:{port}" if port else ""

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self, *, timeout: float = 60) -> int:
        """SIGTERM, then its exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def mention(
        self, api: FakeSlackApi, *, ts: str, text: str, file: str = "photo.jpg"
    ) -> httpx.Response:
        """A signed app_mention with one file, as Slack sends it; the response (the ack)."""
        event = mention(text, ts=ts, files=[file_object(api, file, mimetype="image/jpeg")])
        body = event_callback(event, event_id=f"Ev{ts}")
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(
                self.url + "/slack/events", content=body, headers=signed_headers(body)
            )


def editbot_env(api: FakeSlackApi, emulator_url: str, data: Path, **extra: str) -> dict[str, str]:
    """Slack HTTP mode against the fake Web API, OpenAI against the emulator, SQLite in `data`."""
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api.api_url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": f"{emulator_url}/v1",
        "EDITBOT_DATA_DIR": str(data),
        "EDITBOT_CONFIRM_ABOVE_USD": "5",
        **extra,
    }


@asynccontextmanager
async def editbot(
    command: list[str], env: Mapping[str, str], tmp_path: Path, name: str, *, http: bool
) -> AsyncIterator[Editbot]:
    """Start `editbot COMMAND...`; with `http`, wait until /healthz answers. Killed on exit."""
    port = free_port() if http else None
    log = tmp_path / f"{name}.log"
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EDITBOT_", "SLACK_", "DISCORD_", "OPENAI_"))
    }
    full = {**base, "PYTHONPATH": str(REPO), **env}
    if port is not None:
        full["EDITBOT_HTTP_PORT"] = str(port)
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.app.cli",
            *command,
            env=full,
            cwd=tmp_path,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
        )
    bot = Editbot(proc, log, port)
    try:
        if port is not None:
            await _healthy(bot)
        yield bot
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _healthy(bot: Editbot) -> None:
    async with httpx.AsyncClient() as http, asyncio.timeout(60):
        while True:
            assert bot.proc.returncode is None, bot.output()
            try:
                if (await http.get(bot.url + "/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def wait_until(predicate: object, *, timeout: float, what: str = "") -> None:
    """Poll `predicate()` (state in another process) until it holds."""
    assert callable(predicate)
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what or predicate}") from None
