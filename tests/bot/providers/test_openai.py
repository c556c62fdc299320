"""OpenAIProvider against the provider emulator (MockTransport and a real 127.0.0.1 server)."""

from __future__ import annotations

import logging
import random
import time

import httpx
import pytest

from bot.core.domain import ProviderName
from bot.core.errors import (
    ConfigError,
    ContentRejected,
    DeadlineExceeded,
    ProviderError,
    ProviderRejected,
    ProviderRetryable,
)
from bot.providers.factory import build_provider
from bot.providers.openai import OpenAIProvider
from bot.providers.retry import Deadline, RetryPolicy, with_retries
from bot.providers.wavespeed import WaveSpeedProvider
from tests.kit.emulator import EmulatorServer, ProviderEmulator
from tests.kit.emulator.fixtures import (
    FakeSleep,
    ProgressLog,
    decode,
    half_mask,
    mean_rgb,
    request,
    solid_png,
)
from tests.kit.settings import make_settings


def provider(
    emu: ProviderEmulator,
    client: httpx.AsyncClient,
    *,
    base_url: str = "http://emulator/v1",
    sleep: FakeSleep | None = None,
    max_retries: int = 3,
    deadline_s: float = 10.0,
    key: str | None = None,
) -> OpenAIProvider:
    return OpenAIProvider(
        client=client,
        base_url=base_url,
        api_key=key or emu.openai_key,
        retry=RetryPolicy(max_retries=max_retries, base_delay_s=0.01, max_delay_s=0.05),
        deadline_s=deadline_s,
        sleep=sleep or FakeSleep(),
        rng=random.Random(1),
    )


def reddish(rgb: tuple[int, ...]) -> bool:
    return rgb[0] > rgb[1] + 60 and rgb[0] > rgb[2] + 60


def bluish(rgb: tuple[int, ...]) -> bool:
    return rgb[2] > rgb[0] + 60 and rgb[2] > rgb[1] + 60


async def test_output_is_the_requested_size_with_pixels_from_the_input(emu, client):
    for colour, looks_right in (("red", reddish), ("blue", bluish)):
        result = await provider(emu, client).edit(
            request(solid_png(colour), size=(1536, 1024), quality="high")
        )
        im = decode(result.images[0].data)
        assert im.size == (1536, 1024) == result.size
        assert looks_right(mean_rgb(im)), (colour, mean_rgb(im))
        assert result.images[0].mime == "image/png"
        assert result.request_id and result.request_id.startswith("req_")


async def test_multipart_fields_and_compose_of_several_images(emu, client):
    red, blue = solid_png("red", name="shoe.png"), solid_png("blue", (64, 64), name="bg.webp")
    result = await provider(emu, client).edit(request(red, blue, format="jpeg", n=1))
    sent = emu.routes("openai_edit")[0]
    assert [(f.name, f.filename, f.content_type) for f in sent.files] == [
        ("image[]", "shoe.png", "image/png"),
        ("image[]", "bg.png", "image/png"),  # extension follows the bytes, not the old name
    ]
    assert sent.fields == {
        "model": "gpt-image-2",
        "prompt": "make it pop",
        "n": "1",
        "quality": "medium",
        "size": "1024x1024",
        "output_format": "jpeg",
    }
    im = decode(result.images[0].data)
    assert result.images[0].mime == "image/jpeg"
    assert reddish(mean_rgb(im, (0, 0, 1024, 600)))  # the first image fills the frame
    assert bluish(mean_rgb(im, (0, 1024 - 100, 1024, 1024)))  # the second is composed in


async def test_mask_is_sent_and_marks_the_edited_area(emu, client):
    red = solid_png("red", (96, 64))
    result = await provider(emu, client).edit(request(red, mask=half_mask((96, 64))))
    assert [f.name for f in emu.routes("openai_edit")[0].files] == ["image[]", "mask"]
    im = decode(result.images[0].data)
    left, right = mean_rgb(im, (0, 0, 400, 1024)), mean_rgb(im, (624, 0, 1024, 1024))
    assert reddish(right) and left != right


async def test_n2_gives_two_different_images_and_usage(emu, client):
    result = await provider(emu, client).edit(
        request(solid_png("green"), prompt="x" * 40, n=2, quality="high")
    )
    assert len(result.images) == 2
    assert result.images[0].data != result.images[1].data
    assert result.usage is not None
    assert result.usage.output_tokens == 2 * 7024  # REFERENCE.md: 1024x1024 high = 7,024
    assert result.usage.input_text_tokens == 11
    assert result.usage.input_image_tokens > 0


async def test_429_retry_after_is_honoured(emu, client):
    sleep = FakeSleep()
    emu.fail_next("429", retry_after_s=2.5, header="ms")
    emu.fail_next("429", retry_after_s=3.0, header="s")
    log = ProgressLog()
    result = await provider(emu, client, sleep=sleep).edit(request(), on_progress=log)
    assert result.images
    assert sleep.delays == [2.5, 3.0]
    assert len(emu.routes("openai_edit")) == 3
    assert log.stages == ["uploading", "running", "retrying"] * 2 + ["uploading", "running"]


async def test_5xx_and_timeout_are_retried_then_succeed(emu, client):
    sleep = FakeSleep()
    emu.fail_next("500")
    emu.fail_next("timeout")
    emu.fail_next("503")
    result = await provider(emu, client, sleep=sleep).edit(request())
    assert result.images
    assert len(emu.routes("openai_edit")) == 4
    assert len(sleep.delays) == 3
    assert all(0 <= d <= 0.05 for d in sleep.delays)  # jittered, capped by max_delay_s


async def test_retries_are_bounded(emu, client):
    emu.fail_next("503", times=10)
    with pytest.raises(ProviderRetryable) as caught:
        await provider(emu, client, max_retries=2).edit(request())
    assert caught.value.status == 503
    assert len(emu.routes("openai_edit")) == 3


async def test_moderation_is_content_rejected_and_never_retried(emu, client):
    emu.fail_next("refuse")
    with pytest.raises(ContentRejected) as caught:
        await provider(emu, client).edit(request())
    assert "safety" in str(caught.value)
    assert "rejected by the safety system" in str(caught.value)  # the provider's words kept
    with pytest.raises(ContentRejected):
        await provider(emu, client).edit(request(prompt="a forbidden thing"))
    assert len(emu.routes("openai_edit")) == 2


async def test_other_4xx_is_final_with_the_provider_message(emu, client):
    with pytest.raises(ProviderRejected) as caught:
        await provider(emu, client).edit(request(size=(1000, 1000)))
    assert caught.value.status == 400
    assert "Invalid size '1000x1000'" in str(caught.value)
    assert len(emu.routes("openai_edit")) == 1


async def test_api_key_never_appears_in_errors_or_logs(emu, client, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "sk-wrong-key-0123456789abcdef"
    with pytest.raises(ProviderRejected) as caught:
        await provider(emu, client, key=secret).edit(request())
    assert emu.requests[-1].authorized is False
    assert caught.value.status == 401
    assert "Incorrect API key" in str(caught.value)
    emu.openai_key = secret  # now the key is right and the server fails
    emu.fail_next("500", times=5)
    with pytest.raises(ProviderRetryable) as retried:
        await provider(emu, client, key=secret, max_retries=1).edit(request())
    for text in (str(caught.value), repr(caught.value), str(retried.value), caplog.text):
        assert secret not in text and secret[-8:] not in text


async def test_deadline_bounds_the_whole_call(client):
    slow = ProviderEmulator(latency_s=5.0)
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow.handler)) as c:
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            await provider(slow, c, deadline_s=0.3).edit(request())
    assert time.monotonic() - start < 2.0


async def test_retry_after_past_the_deadline_fails_at_once(emu, client):
    sleep = FakeSleep()
    emu.fail_next("429", retry_after_s=60)
    with pytest.raises(DeadlineExceeded) as caught:
        await provider(emu, client, sleep=sleep, deadline_s=5).edit(request())
    assert sleep.delays == []
    assert isinstance(caught.value.__cause__, ProviderRetryable)


async def test_with_retries_counts_and_backoff_grows():
    calls: list[float] = []

    async def flaky(timeout: float) -> str:
        calls.append(timeout)
        if len(calls) < 4:
            raise ProviderRetryable("flaky")
        return "done"

    sleep = FakeSleep()
    policy = RetryPolicy(max_retries=5, base_delay_s=1.0, max_delay_s=3.0)
    result = await with_retries(
        flaky, policy=policy, deadline=Deadline(100), sleep=sleep, rng=random.Random(3)
    )
    assert result == "done" and len(calls) == 4
    assert [d <= c for d, c in zip(sleep.delays, (1.0, 2.0, 3.0), strict=True)] == [True] * 3
    assert all(0 < t <= 100 for t in calls)


async def test_preview_summarises_images_and_resume_is_unsupported(emu, client):
    p = provider(emu, client)
    req = request(solid_png("red"), mask=half_mask((96, 64)), background="opaque")
    preview = p.preview(req)
    assert preview["background"] == "opaque"
    assert "response_format" not in preview and "input_fidelity" not in preview
    images = preview["image[]"]
    assert isinstance(images, list)
    assert images[0]["size"] == "96x64" and len(images[0]["sha256"]) == 12
    assert preview["mask"]["name"] == "mask.png"  # type: ignore[index]
    assert "data" not in repr(preview)
    with pytest.raises(NotImplementedError):
        await p.resume("task", req)
    assert emu.requests == []


async def test_through_a_real_server(emu):
    log = ProgressLog()
    async with EmulatorServer(emu) as base, httpx.AsyncClient() as c:
        emu.fail_next("503")
        result = await provider(emu, c, base_url=base + "/v1").edit(
            request(solid_png("blue"), size=(1024, 1536), n=2), on_progress=log
        )
    assert [decode(i.data).size for i in result.images] == [(1024, 1536)] * 2
    assert bluish(mean_rgb(decode(result.images[0].data)))
    assert log.stages == ["uploading", "running", "retrying", "uploading", "running"]


async def test_real_server_timeout_is_bounded_by_the_deadline(emu):
    async with EmulatorServer(emu) as base, httpx.AsyncClient() as c:
        emu.fail_next("timeout")
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            await provider(emu, c, base_url=base + "/v1", deadline_s=0.5).edit(request())
    assert time.monotonic() - start < 3.0


def test_factory_builds_each_provider_and_names_a_missing_key():
    client = httpx.AsyncClient()
    settings = make_settings(
        OPENAI_API_KEY="sk-a", WAVESPEED_API_KEY="ws-b", EDITBOT_PROVIDER="openai"
    )
    assert isinstance(build_provider(settings, client), OpenAIProvider)
    assert isinstance(
        build_provider(settings, client, name=ProviderName.WAVESPEED), WaveSpeedProvider
    )
    bare = make_settings(EDITBOT_PROVIDER="wavespeed")
    with pytest.raises(ConfigError, match="WAVESPEED_API_KEY"):
        build_provider(bare, client)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        build_provider(bare, client, name=ProviderName.OPENAI)
    assert not isinstance(ConfigError("x"), ProviderError)
