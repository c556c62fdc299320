"""One live message per edit on Slack, through the real Bolt app, EditService and Worker, with
a 10-second streaming provider (the emulator): the status message ticks and shows previews,
then the thread holds exactly one bot message for the version and the requester is mentioned.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from adapters.slack.chat import UPDATE_INTERVAL_S
from bot.providers.openai import OpenAIProvider
from bot.providers.retry import RetryPolicy
from tests.kit.core import EMULATOR, OPENAI_KEY, emulated
from tests.kit.emulator import ProviderEmulator
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.e2e import PHOTO, real_slack
from tests.kit.slack.harness import (
    CHANNEL,
    USER,
    event_callback,
    file_object,
    mention,
)

TS = "1699999999.000100"
LATENCY_S = 10.0

pytestmark = pytest.mark.slow


def streaming_provider(emu: ProviderEmulator) -> OpenAIProvider:
    return OpenAIProvider(
        client=emulated(emu),
        base_url=f"{EMULATOR}/v1",
        api_key=OPENAI_KEY,
        retry=RetryPolicy(max_retries=1, base_delay_s=0.01, max_delay_s=0.05),
        deadline_s=60,
        partial_images=2,
    )


def elapsed_of(text: str) -> int:
    m = re.search(r"\.\.\. (\d+)s", text)
    assert m, text
    return int(m.group(1))


def image_file_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["slack_file"]["id"] for b in blocks if b.get("type") == "image"]


def left_right(data: bytes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
        w, h = rgb.size
        return rgb.getpixel((w // 8, h // 2)), rgb.getpixel((w - w // 8, h // 2))  # type: ignore[return-value]


def assert_status_was_live(api: FakeSlackApi, status_ts: str) -> None:
    """At least two updates of the status with a growing elapsed time, a preview among them."""
    updates = [u for u in api.named("chat.update") if u["ts"] == status_ts]
    elapsed = [elapsed_of(str(u["text"])) for u in updates if "..." in str(u["text"])]
    assert len(updates) >= 2 and len(elapsed) >= 2, updates
    assert elapsed == sorted(elapsed) and elapsed[-1] > elapsed[0]
    shown = [fid for u in updates for fid in image_file_ids(u["blocks"])]
    assert shown, "no preview was shown in the status message"
    previews = {up.file_id: up for up in api.uploads if up.channel is None}
    first = previews[shown[0]]
    # Scaled down, and made of the input: red stays left, blue stays right.
    with Image.open(io.BytesIO(first.data)) as im:
        assert max(im.size) <= 512 and im.format == "JPEG"
    left, right = left_right(first.data)
    assert left[0] > left[2] + 60 and right[2] > right[0] + 60


async def test_one_live_status_then_one_result_message_that_mentions_the_requester(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with real_slack(
        sqlite_url,
        tmp_path,
        emu=ProviderEmulator(latency_s=LATENCY_S),
        provider=streaming_provider,
        update_interval=UPDATE_INTERVAL_S,
    ) as w:
        h = w.h
        body = event_callback(mention("make it pop", files=[file_object(h.api, PHOTO)]))
        assert (await h.post(body)).status_code == 200
        await h.api.wait_calls("chat.postMessage")
        [status] = h.api.bot_messages(CHANNEL, TS)
        await w.drain()

        assert_status_was_live(h.api, status["ts"])
        # The preview was shown before the result was shared.
        methods = [c.method for c in h.api.calls]
        first_preview = next(
            i
            for i, c in enumerate(h.api.calls)
            if c.method == "chat.update" and image_file_ids(c.args.get("blocks") or [])
        )
        assert first_preview < methods.index("files.completeUploadExternal", first_preview)

        # Exactly one bot message in the thread for the version: image, caption, buttons.
        [result] = h.api.bot_messages(CHANNEL, TS)
        assert result["ts"] != status["ts"]
        [shared] = [u for u in h.api.uploads if u.channel == CHANNEL]
        assert [f["id"] for f in result["files"]] == [shared.file_id]
        assert Image.open(io.BytesIO(shared.data)).size[0] > 0
        kinds = [b["type"] for b in result["blocks"]]
        assert kinds == ["section", "actions"]
        caption = result["blocks"][0]["text"]["text"]
        assert f"<@{USER}>" in caption and "v1" in caption  # notified: mentioned
        labels = [e["text"]["text"] for e in result["blocks"][1]["elements"]]
        assert any(label.startswith("Retry") for label in labels)
        # The status message was turned into the result: deleted, not left behind.
        assert [d["ts"] for d in h.api.named("chat.delete")] == [status["ts"]]
