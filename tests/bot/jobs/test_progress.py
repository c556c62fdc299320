"""The live status message: stages with an elapsed time that ticks, retries with their wait,
previews scaled down, WaveSpeed's queue and processing states, and the queue counting down."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime

import httpx
from PIL import Image

from bot.core.domain import EditOptions, Place
from bot.core.edits import Progress, Stage
from bot.core.jobs import JobSpec, JobStatus
from bot.core.ports import MessageRef, ResultImage
from bot.jobs.progress import LiveStatus
from storage.blobs import FileBlobStore
from storage.db import Sessions
from tests.kit.chat import FakeChat, Posted
from tests.kit.core import openai_provider, wavespeed_provider
from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator.fixtures import request, solid_png
from tests.kit.images import split
from tests.kit.workers import enqueue_jobs, worker_for

PLACE = Place(platform="slack", workspace="W1", channel="C1", user="U1", thread="T1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class SignallingChat(FakeChat):
    """A FakeChat that lets a test await its next status update."""

    def __init__(self) -> None:
        super().__init__()
        self.updated = asyncio.Event()

    async def update_status(
        self, ref: MessageRef, text: str, *, preview: ResultImage | None = None
    ) -> None:
        await super().update_status(ref, text, preview=preview)
        self.updated.set()


async def live(chat: FakeChat, clock: Clock, **kw: float) -> tuple[LiveStatus, Posted]:
    ref = await chat.post_text(PLACE, "Queued - yours is next.")
    job = JobSpec(
        id="j1",
        place=PLACE,
        prompt="make it pop",
        options=EditOptions(),
        size=(1024, 1024),
        aspect="1:1",
        provider="openai",
        status=JobStatus.RUNNING,
        estimate_micros=1,
        created_at=datetime.now(UTC),
        status_message_id=ref.message_id,
    )
    [posted] = chat.messages
    return LiveStatus(chat, job, ref, clock=clock, **kw), posted


async def test_stages_show_an_elapsed_time_and_retries_their_wait_and_attempt() -> None:
    chat, clock = FakeChat(), Clock()
    status, posted = await live(chat, clock)
    await status.report(Progress(Stage.UPLOADING, 0.0))
    await status.settled()
    clock.now += 3
    await status.report(Progress(Stage.RUNNING, 3.0))
    await status.settled()
    clock.now += 2
    retry = Progress(Stage.RETRYING, 5.0, retry=1, max_retries=2, wait_s=4.0)
    await status.report(retry)
    await status.settled()
    clock.now += 2
    assert posted.history[1:] == [
        "Sending the images... 0s",
        "Editing... 3s",
        "The image service is busy; trying again in 4s (attempt 2 of 3). "
        "Failed attempts cost nothing.",
    ]
    assert "trying again in 2s (attempt 2 of 3)" in status.text()  # the wait counts down
    status.stop()


async def test_a_preview_is_shown_scaled_down_and_stays_with_later_lines() -> None:
    chat, clock = FakeChat(), Clock()
    status, posted = await live(chat, clock)
    big = split((1536, 1024))
    await status.report(Progress(Stage.RUNNING, 1.0, preview=big))
    await status.settled()
    clock.now += 4
    await status.report(Progress(Stage.RUNNING, 5.0))
    await status.settled()
    assert posted.history[-2:] == ["Editing... 0s (preview 1)", "Editing... 4s (preview 1)"]
    with Image.open(io.BytesIO(posted.previews[-1])) as im:
        assert im.format == "JPEG" and im.size == (512, 341)
        rgb = im.convert("RGB")
        assert rgb.getpixel((20, 170))[0] > 200 and rgb.getpixel((490, 170))[2] > 200
    assert len(set(posted.previews)) == 1  # the same preview re-sent with the later line
    # An unreadable preview keeps the last good one and the edit goes on.
    await status.report(Progress(Stage.RUNNING, 6.0, preview=b"not an image"))
    await status.settled()
    assert posted.history[-1] == "Editing... 4s (preview 1)"
    status.stop()


async def test_the_elapsed_time_ticks_until_the_reporting_task_ends() -> None:
    chat, clock = SignallingChat(), Clock()
    status, posted = await live(chat, clock, tick_s=0.001)
    done = asyncio.Event()

    async def provider_call() -> None:
        await status.report(Progress(Stage.RUNNING, 0.0))
        await status.settled()
        for _ in range(3):
            clock.now += 1
            chat.updated.clear()
            await chat.updated.wait()  # a tick, without another event from the provider
        await done.wait()

    task = asyncio.create_task(provider_call())
    while len(posted.history) < 5:
        await asyncio.sleep(0)
    done.set()
    await task
    ticker = status._sender
    assert ticker is not None
    await asyncio.gather(ticker, return_exceptions=True)
    assert ticker.done()  # the ticker stopped with the task that ran the provider call
    elapsed = [int(m.group(1)) for t in posted.history if (m := re.search(r"(\d+)s$", t))]
    assert elapsed == sorted(elapsed) and sorted(set(elapsed)) == [0, 1, 2, 3]


async def test_wavespeed_shows_its_queue_then_processing() -> None:
    emu = ProviderEmulator(latency_s=0.05)
    chat, clock = FakeChat(), Clock()
    status, posted = await live(chat, clock)
    async with httpx.AsyncClient(transport=httpx.MockTransport(emu.handler)) as client:
        provider = wavespeed_provider(client, "http://emulator")
        await provider.edit(request(solid_png("red")), on_progress=status.report)
    await status.settled()
    status.stop()
    stages = [t.split("...")[0] for t in posted.history[1:]]
    assert "Waiting in the image service's queue" in stages
    assert stages.index("Waiting in the image service's queue") < stages.index("Editing")


async def test_queued_status_lines_count_down_as_workers_take_jobs(
    sessions: Sessions, blobs: FileBlobStore
) -> None:
    chat = FakeChat()
    queued = await enqueue_jobs(sessions, blobs, count=5, chat=chat)
    statuses = list(chat.messages)
    assert [m.text for m in statuses][-1] == "Queued - 4 edits ahead of yours."
    emu = ProviderEmulator(latency_s=0.02)
    async with httpx.AsyncClient(transport=httpx.MockTransport(emu.handler)) as client:
        worker = worker_for(
            sessions, blobs, {"slack": chat}, openai_provider(client, "http://emulator"),
            concurrency=2,
        )  # fmt: skip
        await worker.drain()
        await worker.runner.queue_board.wait()
    assert len(chat.results()) == len(queued)
    last = statuses[-1].history
    counts = [int(m.group(1)) for t in last if (m := re.match(r"Queued - (\d+) edit", t))]
    counts += [0 for t in last if t == "Queued - yours is next."]
    # It counted down as two workers took jobs. The refresh runs beside the claims, and a
    # loop claims again as soon as its call is over: the later steps may be overtaken by the
    # job's own claim, so it ends anywhere below 4 (never counting up, never repeating).
    assert counts[0] == 4 and len(counts) >= 2
    assert counts == sorted(set(counts), reverse=True)


async def test_a_retry_of_either_provider_shows_the_attempt_and_that_it_costs_nothing() -> None:
    emu = ProviderEmulator(latency_s=0.01)
    emu.fail_next("503", on="openai_edit")
    emu.fail_next("500", on="poll")
    async with httpx.AsyncClient(transport=httpx.MockTransport(emu.handler)) as client:
        for provider in (
            openai_provider(client, "http://emulator"),
            wavespeed_provider(client, "http://emulator"),
        ):
            chat, clock = FakeChat(), Clock()
            status, posted = await live(chat, clock)
            seen: list[str] = []

            async def report(
                event: Progress, status: LiveStatus = status, seen: list[str] = seen
            ) -> None:
                await status.report(event)
                seen.append(status.text())  # the line as the sender shows it now

            await provider.edit(request(solid_png("red")), on_progress=report)
            status.stop()
            retries = [t for t in seen if t.startswith("The image service is busy")]
            assert retries == [
                "The image service is busy; trying again (attempt 2 of 3). "
                "Failed attempts cost nothing."
            ], (provider.name, seen)
