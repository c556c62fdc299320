"""End to end on Discord: the real EditBot, EditService and Worker (SQLite), the emulator as
provider. Asserts what a person in the channel sees: the thread, the posted file (its pixel size,
pixels that come from the input), the caption's version, cost and budget, and the ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import discord.ext.test as dpytest
import httpx
import pytest
from sqlmodel import select

from bot.domain import Quality, format_usd
from bot.jobs import job_options
from storage.blobs import FileBlobStore
from storage.db import create_engine, session_factory
from storage.models import Job, JobStatus
from tests.discord_e2e_rig import (
    CHEAP,
    Core,
    Instance,
    attachment_dict,
    drain_sent,
    e2e_settings,
    file_bytes,
    image_size,
    pixel_at,
    slash,
    split_png,
    start_instance,
)
from tests.fakes.discord_backend import (
    RecordingWebhookAdapter,
    dispatch_interaction,
    image_attachment,
    interaction_payload,
    post_message,
    settle,
)
from tests.fakes.emulator import ProviderEmulator
from tests.fakes.emulator_images import tint
from tests.worker_helpers import all_jobs, read_ledger


@pytest.fixture
async def core(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Core]:
    # dpytest writes every uploaded file to ./dpytest_N.dat: keep them in this test's directory.
    monkeypatch.chdir(tmp_path)
    engine = create_engine(sqlite_url)
    emu = ProviderEmulator()
    try:
        async with httpx.AsyncClient(transport=httpx.MockTransport(emu.handler)) as http:
            yield Core(
                sessions=session_factory(engine),
                blobs=FileBlobStore(tmp_path / "blobs"),
                emu=emu,
                provider_http=http,
                settings=e2e_settings(tmp_path),
            )
    finally:
        await dpytest.empty_queue()
        await engine.dispose()


def input_file(tmp_path: Path, name: str = "shoe.png") -> Path:
    path = tmp_path / name
    path.write_bytes(split_png())
    return path


def scope(bot: Instance) -> str:
    return f"discord:{bot.channel.guild.id}:{bot.channel.id}"


def blended(source: tuple[int, int, int], prompt: str) -> tuple[int, int, int]:
    """What the emulator paints where the input is `source`: 75% input, 25% the prompt's tint."""
    t = tint(prompt, 0)
    return tuple(round(0.75 * s + 0.25 * c) for s, c in zip(source, t, strict=True))  # type: ignore[return-value]


def close(a: tuple[int, int, int], b: tuple[int, int, int], tol: int = 3) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


async def job_rows(core: Core) -> list[Job]:
    return sorted(await all_jobs(core.sessions), key=lambda j: (j.created_at, j.id))


async def mention_with_image(bot: Instance, tmp_path: Path, text: str) -> discord.Message:
    msg = post_message(
        bot.mention(text),
        channel=bot.channel,
        author=bot.alice,
        attachments=[image_attachment(input_file(tmp_path))],
    )
    await settle()
    return msg


async def edit_v1(core: Core, bot: Instance, tmp_path: Path) -> tuple[discord.Message, bytes]:
    """Alice's mention, run by the worker; returns the result message and its file's bytes."""
    await mention_with_image(bot, tmp_path, f"make it pop {CHEAP}")
    await bot.worker.drain()
    [result] = [m for m in await drain_sent() if m.attachments]
    return result, file_bytes(result)


async def test_mention_runs_through_the_core_and_posts_v1_in_a_new_thread(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core)
    msg = await mention_with_image(bot, tmp_path, f"make it pop {CHEAP}")

    # Before the worker runs: the thread is opened on the request, the status says queued.
    [(anchor, name)] = bot.threads_opened
    assert anchor == msg.id and name.startswith("make it pop")
    [status] = await drain_sent()
    thread_id = status.channel.id
    assert bot.thread(thread_id).parent_id == bot.channel.id
    assert status.content == "Queued - yours is next."

    await bot.worker.drain()
    [result] = [m for m in await drain_sent() if m.attachments]
    assert result.channel.id == thread_id
    [job] = await job_rows(core)
    assert job.status is JobStatus.SUCCEEDED and job.cost_micros
    cost = format_usd(job.cost_micros)
    assert result.content == (
        f"v1 - quality=low size=1024x640 - cost {cost} - "
        f"channel budget: {cost} of $20.00 this month"
    )
    data = file_bytes(result)
    assert image_size(data) == (1024, 640)
    # The pixels come from the input: red stays left, blue stays right, under the tint.
    prompt = core.emu.routes("openai_edit")[0].fields["prompt"]
    assert close(pixel_at(data, 0.25, 0.5), blended((255, 0, 0), prompt))
    assert close(pixel_at(data, 0.75, 0.5), blended((0, 0, 255), prompt))
    # The status message was edited in place: the last edit of it says done.
    status_edits = [p for mid, p in bot.http.edits if mid == status.id]
    assert status_edits[-1]["content"] == "Done: v1 is below."
    # Buttons carry the job id; the ledger has exactly this job, settled at its cost.
    assert bot.http.custom_ids() == [f"editbot:{a}:{job.id}" for a in ("retry", "undo", "hq")]
    ledger = await read_ledger(core.sessions, scope(bot))
    assert ledger.settled == {job.id: job.cost_micros}
    assert (ledger.reserved, ledger.spent, ledger.refunded) == (0, job.cost_micros, set())


async def test_mention_in_the_edit_thread_without_image_builds_v2_from_v1(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core)
    v1, v1_bytes = await edit_v1(core, bot, tmp_path)
    thread = bot.thread(v1.channel.id)

    post_message(bot.mention(f"warmer light {CHEAP}"), channel=thread, author=bot.alice)
    await settle()
    await bot.worker.drain()

    assert len(bot.threads_opened) == 1  # refined in the same thread, no new one
    [v2] = [m for m in await drain_sent() if m.attachments]
    assert v2.channel.id == thread.id
    assert v2.content.startswith("v2 - quality=low size=1024x640 - cost ")
    # The provider got exactly the v1 the channel was shown, and v2 is drawn from it.
    first, second = core.emu.routes("openai_edit")
    assert [f.data for f in second.files if f.name in ("image", "image[]")] == [v1_bytes]
    v2_bytes = file_bytes(v2)
    assert image_size(v2_bytes) == (1024, 640) and v2_bytes != v1_bytes
    left_v1 = pixel_at(v1_bytes, 0.25, 0.5)
    assert close(pixel_at(v2_bytes, 0.25, 0.5), blended(left_v1, second.fields["prompt"]))
    jobs = await job_rows(core)
    assert [(j.base_version, j.version, j.status) for j in jobs] == [
        (None, 1, JobStatus.SUCCEEDED),
        (1, 2, JobStatus.SUCCEEDED),
    ]
    ledger = await read_ledger(core.sessions, scope(bot))
    assert ledger.settled == {j.id: j.cost_micros for j in jobs}
