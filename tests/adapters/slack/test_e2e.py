"""End to end: a Slack mention through the real EditService and Worker, the emulator as provider."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from sqlmodel import select

from adapters.slack.chat import SlackChatPort
from bot.app.root import Core
from bot.core.config import Settings
from bot.core.ports import ChatPort, EditServicePort
from storage.blobs import FileBlobStore
from storage.db import create_engine, session_factory
from storage.models import Job, LedgerEntry
from tests.kit.core import EMULATOR, emulated, openai_provider, real_core
from tests.kit.emulator import ProviderEmulator
from tests.kit.images import split
from tests.kit.slack.harness import CHANNEL, event_callback, file_object, mention, slack_harness

TS = "1699999999.000100"


async def test_mention_is_edited_by_the_real_core_and_lands_in_the_thread(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    blobs = FileBlobStore(tmp_path / "blobs")
    emu = ProviderEmulator()
    provider_http = emulated(emu)
    cores: list[Core] = []

    def make_service(chat: SlackChatPort, settings: Settings) -> EditServicePort:
        provider = openai_provider(provider_http, EMULATOR)
        chats: dict[str, ChatPort] = {"slack": chat}
        cores.append(
            real_core(settings, sessions=sessions, blobs=blobs, chats=chats, provider=provider)
        )
        return cores[0].service

    try:
        async with (
            provider_http,
            slack_harness(
                make_service=make_service, update_interval=0.01, EDITBOT_DATA_DIR=str(tmp_path)
            ) as h,
        ):
            h.api.files["photo.png"] = split((320, 256))
            body = event_callback(
                mention("make it blue quality=low", files=[file_object(h.api, "photo.png")])
            )
            assert (await h.post(body)).status_code == 200
            assert (await h.post(body, headers={"x-slack-retry-num": "1"})).status_code == 200
            await h.api.wait_calls("chat.postMessage")
            [core] = cores
            worker = core.worker  # the worker the composition root built beside the service
            await h.api.wait_for(lambda: h.api.download_requests != [])
            await worker.drain()
            await h.api.wait_for(lambda: len(h.api.uploads) >= 1)
            [up] = h.api.uploads
            assert (up.channel, up.thread_ts) == (CHANNEL, TS)
            assert up.alt_txt and "make it blue" in up.alt_txt
            assert Image.open(io.BytesIO(up.data)).size[0] > 0
            # The caption and buttons are the file share's blocks (one message per edit).
            assert up.blocks and "v1" in up.blocks[0]["text"]["text"]
            assert len(emu.routes("openai_edit")) == 1
    finally:
        await engine.dispose()


async def test_a_mention_past_the_budget_is_refused_in_the_thread_and_charges_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)

    def make_service(chat: SlackChatPort, settings: Settings) -> EditServicePort:
        blobs = FileBlobStore(tmp_path / "blobs")
        chats: dict[str, ChatPort] = {"slack": chat}
        return real_core(settings, sessions=sessions, blobs=blobs, chats=chats).service

    try:
        async with slack_harness(
            make_service=make_service,
            EDITBOT_DATA_DIR=str(tmp_path),
            EDITBOT_DEFAULT_BUDGET_USD="0.001",  # less than any edit's estimate
        ) as h:
            h.api.files["photo.png"] = split((320, 256))
            body = event_callback(mention("make it blue", files=[file_object(h.api, "photo.png")]))
            assert (await h.post(body)).status_code == 200
            await h.api.wait_calls("chat.postMessage")
            [said] = h.api.named("chat.postMessage")
            assert (said["channel"], said["thread_ts"]) == (CHANNEL, TS)
            text = str(said["text"])
            assert "$0.001 " in text and "Nothing was charged" in text
            assert "ask a workspace admin" in text  # who can raise it, in words
            assert "/edit-budget set" not in text
            assert h.api.uploads == []
        async with sessions() as session:
            jobs = (await session.exec(select(Job))).all()
            ledger = (await session.exec(select(LedgerEntry))).all()
        assert jobs == [] and ledger == []
    finally:
        await engine.dispose()
