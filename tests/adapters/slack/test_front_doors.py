"""Several `editbot run` front doors on one database: an event Slack retries to another
process (a load balancer, or another Socket Mode connection) is still handled once.

Two real Bolt apps in HTTP mode, each with its own fake Slack Web API and its own real core,
share one database (and one blob store, as S3 would be shared). The mention goes to the
first; Slack's retry of the same event goes to the second. The event key the first stored
stops the second: one job, one status message, one result.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from sqlmodel import select

from adapters.slack.chat import SlackChatPort
from bot.app.root import Core
from bot.core.config import Settings
from bot.core.ports import ChatPort, EditServicePort
from storage.blobs import FileBlobStore
from storage.db import Sessions
from storage.models import Job
from tests.kit.core import EMULATOR, emulated, openai_provider, real_core
from tests.kit.emulator import ProviderEmulator
from tests.kit.images import split
from tests.kit.slack.harness import event_callback, file_object, mention, slack_harness


async def test_a_retried_event_reaching_another_front_door_is_handled_once(
    sessions: Sessions, tmp_path: Path
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    emu = ProviderEmulator()
    cores: list[Core] = []

    def make_service(chat: SlackChatPort, settings: Settings) -> EditServicePort:
        chats: dict[str, ChatPort] = {"slack": chat}
        provider = openai_provider(emulated(emu), EMULATOR)
        core = real_core(settings, sessions=sessions, blobs=blobs, chats=chats, provider=provider)
        cores.append(core)
        return core.service

    async with contextlib.AsyncExitStack() as stack:
        first, second = [
            await stack.enter_async_context(
                slack_harness(make_service=make_service, update_interval=0.01)
            )
            for _ in range(2)
        ]
        for h in (first, second):
            h.api.files["photo.png"] = split((320, 256))
        body = event_callback(
            mention("make it blue quality=low", files=[file_object(first.api, "photo.png")])
        )
        assert (await first.post(body)).status_code == 200
        await first.api.wait_calls("chat.postMessage")
        retry = {"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
        assert (await second.post(body, headers=retry)).status_code == 200

        for core in cores:
            await core.worker.drain()
        await first.api.wait_for(lambda: len(first.api.uploads) == 1)

        async with sessions() as session:
            jobs = (await session.exec(select(Job))).all()
        assert len(jobs) == 1
        assert len(emu.routes("openai_edit")) == 1
        assert second.api.named("chat.postMessage") == []
        assert second.api.uploads == []
