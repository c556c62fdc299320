"""End to end: a Slack mention through the real EditService and Worker, the emulator as provider."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from PIL import Image
from sqlmodel import select

from bot.core.config import Settings
from bot.core.domain import ProviderName
from bot.core.pricing import PriceTable
from bot.jobs.worker import Worker
from bot.service.edit_service import EditService
from storage.blobs import FileBlobStore
from storage.db import create_engine, session_factory
from storage.models import Job, LedgerEntry
from tests.kit.emulator import ProviderEmulator
from tests.kit.slack.harness import (
    CHANNEL,
    event_callback,
    file_object,
    mention,
    png_bytes,
    slack_harness,
)
from tests.kit.workers import openai_provider

TS = "1699999999.000100"


async def test_mention_is_edited_by_the_real_core_and_lands_in_the_thread(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    blobs = FileBlobStore(tmp_path / "blobs")
    chats = {}

    def make_service(chat, settings: Settings) -> EditService:
        chats["slack"] = chat
        return EditService(
            sessions=sessions,
            blobs=blobs,
            chats=chats,
            settings=settings,
            table=PriceTable(),
            provider=ProviderName.OPENAI,
        )

    emu = ProviderEmulator()
    try:
        async with (
            httpx.AsyncClient(transport=httpx.MockTransport(emu.handler)) as provider_http,
            slack_harness(
                make_service=make_service, update_interval=0.01, EDITBOT_DATA_DIR=str(tmp_path)
            ) as h,
        ):
            h.api.files["photo.png"] = png_bytes((320, 256))
            body = event_callback(
                mention("make it blue quality=low", files=[file_object(h.api, "photo.png")])
            )
            assert (await h.post(body)).status_code == 200
            assert (await h.post(body, headers={"x-slack-retry-num": "1"})).status_code == 200
            await h.api.wait_calls("chat.postMessage")
            worker = Worker(
                sessions=sessions,
                blobs=blobs,
                chats=chats,
                provider=openai_provider(provider_http, "http://emulator"),
                table=PriceTable(),
                settings=h.settings,
                owner="w-e2e",
                concurrency=1,
            )
            await h.api.wait_for(lambda: h.api.download_requests != [])
            await worker.drain()
            await h.api.wait_for(lambda: len(h.api.uploads) >= 1)
            [up] = h.api.uploads
            assert (up.channel, up.thread_ts) == (CHANNEL, TS)
            assert up.alt_txt and "make it blue" in up.alt_txt
            assert Image.open(io.BytesIO(up.data)).size[0] > 0
            assert up.initial_comment and "quality=low" in up.initial_comment
            assert len(emu.routes("openai_edit")) == 1
    finally:
        await engine.dispose()


async def test_a_mention_past_the_budget_is_refused_in_the_thread_and_charges_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    engine = create_engine(sqlite_url)
    sessions = session_factory(engine)
    chats = {}

    def make_service(chat, settings: Settings) -> EditService:
        chats["slack"] = chat
        return EditService(
            sessions=sessions,
            blobs=FileBlobStore(tmp_path / "blobs"),
            chats=chats,
            settings=settings,
            table=PriceTable(),
            provider=ProviderName.OPENAI,
        )

    try:
        async with slack_harness(
            make_service=make_service,
            EDITBOT_DATA_DIR=str(tmp_path),
            EDITBOT_DEFAULT_BUDGET_USD="0.001",  # less than any edit's estimate
        ) as h:
            h.api.files["photo.png"] = png_bytes((320, 256))
            body = event_callback(mention("make it blue", files=[file_object(h.api, "photo.png")]))
            assert (await h.post(body)).status_code == 200
            await h.api.wait_calls("chat.postMessage")
            [said] = h.api.named("chat.postMessage")
            assert (said["channel"], said["thread_ts"]) == (CHANNEL, TS)
            text = str(said["text"])
            assert "$0.0010" in text and "Nothing was charged" in text
            assert "/edit-budget set" in text  # who can raise it, and how
            assert h.api.uploads == []
        async with sessions() as session:
            jobs = (await session.exec(select(Job))).all()
            ledger = (await session.exec(select(LedgerEntry))).all()
        assert jobs == [] and ledger == []
    finally:
        await engine.dispose()
