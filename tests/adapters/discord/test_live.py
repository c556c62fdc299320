"""One live message per edit on Discord, through the real EditBot, EditService and Worker, with
a 10-second streaming provider (the emulator): the status message ticks and shows previews as
its attachment, then the thread holds exactly one bot message for the version, pinging the
requester.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from discord.ext.test import backend as back
from PIL import Image

from bot.providers.openai import OpenAIProvider
from bot.providers.retry import RetryPolicy
from tests.kit.core import EMULATOR, OPENAI_KEY
from tests.kit.discord.backend import image_attachment, post_message, settle
from tests.kit.discord.e2e import Core, drain_sent, start_instance
from tests.kit.emulator import ProviderEmulator
from tests.kit.images import split

LATENCY_S = 10.0

pytestmark = pytest.mark.slow


@pytest.fixture
def emulator() -> ProviderEmulator:
    return ProviderEmulator(latency_s=LATENCY_S)


def streaming_provider(core: Core) -> OpenAIProvider:
    return OpenAIProvider(
        client=core.provider_http,
        base_url=f"{EMULATOR}/v1",
        api_key=OPENAI_KEY,
        retry=RetryPolicy(max_retries=1, base_delay_s=0.01, max_delay_s=0.05),
        deadline_s=60,
        partial_images=2,
    )


def elapsed_of(text: str) -> int | None:
    m = re.search(r"\.\.\. (\d+)s", text)
    return int(m.group(1)) if m else None


async def test_one_live_status_then_one_result_message_that_pings_the_requester(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core, provider=streaming_provider(core))
    photo = tmp_path / "photo.png"
    photo.write_bytes(split())
    post_message(
        bot.mention("make it pop size=1024x640 quality=low"),
        channel=bot.channel,
        author=bot.alice,
        attachments=[image_attachment(photo)],
    )
    await settle()
    [status] = await drain_sent()
    thread_id = status.channel.id
    await bot.worker.drain()

    # The status message was updated at least twice with a growing elapsed time.
    texts = [p.get("content") or "" for mid, p in bot.http.edits if mid == status.id]
    elapsed = [e for e in map(elapsed_of, texts) if e is not None]
    assert len(elapsed) >= 2 and elapsed == sorted(elapsed) and elapsed[-1] > elapsed[0], texts
    # A preview was its attachment, scaled down and made of the input (red left, blue right).
    previews = [files for mid, files in bot.http.edit_files if mid == status.id]
    assert previews, "no preview was shown in the status message"
    [(name, data)] = previews[0]
    with Image.open(io.BytesIO(data)) as im:
        assert name.endswith(".jpg") and max(im.size) <= 512
        rgb = im.convert("RGB")
        left, right = (
            rgb.getpixel((im.width // 8, im.height // 2)),
            rgb.getpixel((im.width * 7 // 8, im.height // 2)),
        )
    assert left[0] > left[2] + 60 and right[2] > right[0] + 60  # type: ignore[index]

    # Exactly one bot message in the thread now, the version's: image, caption, buttons.
    assert bot.bot.user is not None
    mine = [
        m
        for m in back._cur_config.messages.get(thread_id, [])
        if int(m["author"]["id"]) == bot.bot.user.id
    ]
    assert len(mine) == 1, [m.get("content") for m in mine]
    [result] = mine
    assert result["attachments"] and f"<@{bot.alice.id}>" in result["content"]
    assert "v1" in result["content"]
    _, payload = bot.http.sent[-1]
    assert any(
        c["custom_id"].startswith("editbot:retry:") for c in payload["components"][0]["components"]
    )
    # The requester is pinged (a new message allowing that one mention), the status is gone,
    # and the preview came before the result.
    assert [int(u) for u in payload["allowed_mentions"]["users"]] == [bot.alice.id]
    assert bot.http.deleted == [status.id]
    order = bot.http.order
    assert order.index(("edit+files", status.id)) < order.index(("send", int(result["id"])))


async def test_a_failure_is_one_new_message_with_retry_that_pings_the_requester(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core, provider=streaming_provider(core))
    photo = tmp_path / "photo.png"
    photo.write_bytes(split())
    post_message(
        bot.mention("a forbidden picture size=1024x640 quality=low"),
        channel=bot.channel,
        author=bot.alice,
        attachments=[image_attachment(photo)],
    )
    await settle()
    [status] = await drain_sent()
    await bot.worker.drain()

    assert bot.bot.user is not None
    mine = [
        m
        for m in back._cur_config.messages.get(status.channel.id, [])
        if int(m["author"]["id"]) == bot.bot.user.id
    ]
    [failure] = mine
    assert "safety system refused" in failure["content"]
    assert f"<@{bot.alice.id}>" in failure["content"]
    _, payload = bot.http.sent[-1]
    [retry] = [c["custom_id"] for row in payload["components"] for c in row["components"]]
    assert retry.startswith("editbot:retry:")
    assert [int(u) for u in payload["allowed_mentions"]["users"]] == [bot.alice.id]
    assert bot.http.deleted == [status.id]
