"""End to end on Discord: a batch (n=2) is one message with both images named from the prompt,
Use N / Vary N buttons whose custom ids carry the image, and Use 2 makes image 2 the one the
thread continues from. The real EditBot, EditService and Worker; the emulator as provider."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlmodel import select

from storage.models import ThreadVersion
from tests.adapters.discord.test_e2e import (
    button_press,
    job_rows,
    mention_with_image,
    provider_inputs,
    sent_components,
)
from tests.kit.discord.backend import (
    RecordingWebhookAdapter,
    dispatch_interaction,
    post_message,
    settle,
)
from tests.kit.discord.e2e import CHEAP, Core, drain_sent, file_bytes, start_instance


async def chosen(rig: Core) -> list[tuple[int, int, bool]]:
    async with rig.sessions() as session:
        rows = await session.exec(
            select(ThreadVersion).order_by(ThreadVersion.version, ThreadVersion.position)
        )
        return [(v.version, v.position, v.chosen) for v in rows.all()]


async def test_a_batch_posts_one_message_and_use_2_continues_from_image_2(
    core: Core,  # noqa: F811
    tmp_path: Path,
) -> None:
    bot = await start_instance(core)
    await mention_with_image(bot, tmp_path, f"sunset glow over the bay n=2 {CHEAP}")
    await bot.worker.drain()
    [result] = [m for m in await drain_sent() if m.attachments]
    assert [a.filename for a in result.attachments] == [
        "sunset-glow-bay-v1-1.png",
        "sunset-glow-bay-v1-2.png",
    ]
    assert result.content.startswith('v1 · "sunset glow over the bay" for <@')
    assert "2 images to choose from · 1024x640 low" in result.content
    [job] = await job_rows(core)
    ids = bot.http.custom_ids()
    assert ids[:2] == [f"editbot:use:{job.id}:1", f"editbot:use:{job.id}:2"]
    assert ids[2:] == [f"editbot:vary:{job.id}:1", f"editbot:vary:{job.id}:2"]
    assert await chosen(core) == [(1, 0, True), (1, 1, False)]

    use_2 = f"editbot:use:{job.id}:2"
    # Use N on one row, Vary N on the next.
    rows = sent_components(bot, use_2)
    assert [[c["custom_id"] for c in row["components"]] for row in rows] == [ids[:2], ids[2:]]
    press = button_press(
        bot,
        custom_id=use_2,
        message=result,
        components=sent_components(bot, use_2),
        member=bot.alice,
    )
    await dispatch_interaction(press, RecordingWebhookAdapter(bot.channel))
    await settle()
    assert await chosen(core) == [(1, 0, False), (1, 1, True)]

    # The next refinement in the thread starts from image 2.
    second_bytes = file_bytes(result, index=1)
    post_message(bot.mention(f"add a small boat {CHEAP}"), channel=result.channel, author=bot.alice)
    await settle()
    await bot.worker.drain()
    refine_call = core.emu.routes("openai_edit")[-1]
    [given] = provider_inputs(refine_call)
    assert hashlib.sha256(given).digest() == hashlib.sha256(second_bytes).digest()
