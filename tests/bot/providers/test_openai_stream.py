"""Streamed OpenAI edits: the emulator speaks the protocol as OpenAI's schema defines it, and
OpenAIProvider turns its partial images into previews and its completed event into the result.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from dataclasses import replace as with_
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from bot.core.domain import ProviderName
from bot.core.edits import Stage
from bot.core.errors import ContentRejected, ProviderRejected, ProviderRetryable
from bot.core.pricing import PriceTable, estimate, settle
from bot.providers.openai import OpenAIProvider
from bot.providers.openai_stream import read_edit_stream, sse_events
from bot.providers.retry import RetryPolicy
from tests.kit.emulator import EmulatorServer, ProviderEmulator
from tests.kit.emulator.fixtures import FakeSleep, ProgressLog, decode, mean_rgb, request, solid_png
from tests.kit.emulator.images import output_tokens
from tests.kit.images import normalized, photo_like, png
from tests.kit.paths import DATA
from tests.kit.settings import make_settings

SPEC_PATH = DATA / "openai-images-edits.openapi.yaml"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


def streaming(emu: ProviderEmulator, client: httpx.AsyncClient, partials: int) -> OpenAIProvider:
    return OpenAIProvider(
        client=client,
        base_url="http://emulator/v1",
        api_key=emu.openai_key,
        retry=RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.05),
        deadline_s=10,
        sleep=FakeSleep(),
        rng=random.Random(1),
        partial_images=partials,
    )


def reddish(rgb: tuple[int, ...]) -> bool:
    return rgb[0] > rgb[1] + 60 and rgb[0] > rgb[2] + 60


def bluish(rgb: tuple[int, ...]) -> bool:
    return rgb[2] > rgb[0] + 60 and rgb[2] > rgb[1] + 60


async def test_partial_images_arrive_as_previews_made_of_the_input(emu, client):
    for colour, looks_right in (("red", reddish), ("blue", bluish)):
        progress = ProgressLog()
        result = await streaming(emu, client, 2).edit(
            request(solid_png(colour), size=(1024, 1024), quality="low"), on_progress=progress
        )
        previews = [e for e in progress.events if e.preview is not None]
        assert len(previews) == 2 and all(e.stage is Stage.RUNNING for e in previews)
        for event in previews:
            im = decode(event.preview or b"")
            assert im.size == (1024, 1024)
            assert looks_right(mean_rgb(im)), (colour, mean_rgb(im))
        assert looks_right(mean_rgb(decode(result.images[0].data)))
    sent = emu.routes("openai_edit")[-1].fields
    assert (sent["stream"], sent["partial_images"]) == ("true", "2")
    # Of a detailed input the previews differ from each other and from the result (coarse first).
    progress = ProgressLog()
    photo = normalized(png(photo_like((96, 64))))
    result = await streaming(emu, client, 2).edit(request(photo), on_progress=progress)
    previews = [e.preview for e in progress.events if e.preview is not None]
    assert len({*previews, result.images[0].data}) == 3


async def test_usage_of_the_completed_event_counts_the_partial_images(emu, client):
    result = await streaming(emu, client, 3).edit(request(solid_png("green"), quality="high"))
    assert result.usage is not None
    assert result.usage.output_tokens == output_tokens("high", 1024, 1024) + 3 * 100
    assert result.size == (1024, 1024) and result.images[0].mime == "image/png"
    assert result.request_id and result.request_id.startswith("req_")


async def test_several_outputs_and_zero_previews_do_not_stream(emu, client):
    await streaming(emu, client, 2).edit(request(solid_png("red"), n=2))
    await streaming(emu, client, 0).edit(request(solid_png("red")))
    for call in emu.routes("openai_edit"):
        assert "stream" not in call.fields and "partial_images" not in call.fields


async def test_streams_over_a_real_socket_too():
    emu = ProviderEmulator(latency_s=0.3)
    async with EmulatorServer(emu) as base, httpx.AsyncClient() as client:
        provider = streaming(emu, client, 2)
        provider._url = f"{base}/v1/images/edits"
        progress = ProgressLog()
        result = await provider.edit(request(solid_png("red")), on_progress=progress)
    assert sum(e.preview is not None for e in progress.events) == 2
    assert reddish(mean_rgb(decode(result.images[0].data)))
    [call] = emu.routes("openai_edit")
    # The emulator wrote each partial image before the completed event, spread over its latency.
    kinds = [kind for kind, _ in call.sent_events]
    assert kinds == ["image_edit.partial_image"] * 2 + ["image_edit.completed"]


async def test_a_refused_streamed_edit_is_a_content_rejection(emu, client):
    with pytest.raises(ContentRejected):
        await streaming(emu, client, 2).edit(request(solid_png("red"), prompt="a forbidden cat"))


async def raw_events(emu: ProviderEmulator, **fields: str) -> list[dict[str, Any]]:
    """The events the emulator streams for a hand-made request, as JSON objects."""
    data = {"model": "gpt-image-2", "prompt": "p", "stream": "true", **fields}
    files = [("image[]", ("a.png", solid_png("red").data, "image/png"))]
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(emu.handler)) as client,
        client.stream(
            "POST",
            "http://emulator/v1/images/edits",
            data=data,
            files=files,
            headers={"Authorization": f"Bearer {emu.openai_key}"},
        ) as response,
    ):
        assert response.headers["content-type"] == "text/event-stream"
        out = []
        async for name, raw in sse_events(response.aiter_lines()):
            event = json.loads(raw)
            assert event["type"] == name
            out.append(event)
        return out


@pytest.mark.parametrize("partials", ["0", "1", "3"])
async def test_emulator_events_validate_against_the_schema(spec, partials):
    # The schema's `size` enum predates gpt-image-2's free sizes: 1024x1024 is in it.
    events = await raw_events(
        ProviderEmulator(), partial_images=partials, size="1024x1024", quality="low"
    )
    assert [e["type"] for e in events] == ["image_edit.partial_image"] * int(partials) + [
        "image_edit.completed"
    ]
    assert [e["partial_image_index"] for e in events[:-1]] == list(range(int(partials)))
    root = {"$ref": "#/components/schemas/ImageEditStreamEvent", **spec}
    validator = jsonschema.Draft202012Validator(root)
    for event in events:
        assert [e.message for e in validator.iter_errors(event)] == [], event["type"]
        partial = event["type"] == "image_edit.partial_image"
        kind = "ImageEditPartialImageEvent" if partial else "ImageEditCompletedEvent"
        # Nothing beyond what the schema defines (it does not forbid extra properties itself).
        assert set(event) <= set(spec["components"]["schemas"][kind]["properties"])


async def lines(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


def failing(error: dict[str, Any]) -> Exception:
    return ProviderRejected(str(error.get("message")))


async def test_a_stream_cut_before_completed_is_retryable_and_an_error_event_is_final():
    seen: list[int] = []

    async def on_partial(index: int, data: bytes) -> None:
        seen.append(index)

    cut = lines("event: image_edit.partial_image", 'data: {"type": "image_edit.partial_image",')
    with pytest.raises(ProviderRetryable):
        await read_edit_stream(cut, on_partial=on_partial, on_error=failing, request_id=None)
    error = lines("event: error", 'data: {"error": {"message": "boom"}}', "")
    with pytest.raises(ProviderRejected, match="boom"):
        await read_edit_stream(error, on_partial=on_partial, on_error=failing, request_id=None)
    assert seen == []


async def test_the_estimate_holds_the_partial_images_and_the_settle_reads_the_usage(emu, client):
    table = PriceTable.from_settings(make_settings(EDITBOT_PREVIEWS="3"))
    assert table.previews == 3
    one = request(solid_png("red"), quality="low")
    plain = estimate(provider=ProviderName.OPENAI, request=one, table=with_(table, previews=0))
    streamed = estimate(provider=ProviderName.OPENAI, request=one, table=table)
    # 300 output tokens at $30 per million: $0.009 more, said in the detail.
    assert streamed.micros - plain.micros in (9_000, 9_001) and "3 previews" in streamed.detail
    two = request(solid_png("red"), quality="low", n=2)  # several outputs never stream
    assert estimate(provider=ProviderName.OPENAI, request=two, table=table) == estimate(
        provider=ProviderName.OPENAI, request=two, table=with_(table, previews=0)
    )
    result = await streaming(emu, client, 3).edit(one)
    cost = settle(provider=ProviderName.OPENAI, request=one, result=result, table=table)
    assert result.usage is not None and f"{result.usage.output_tokens:,} output" in cost.detail
    assert plain.micros < cost.micros <= streamed.micros
