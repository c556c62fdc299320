"""WaveSpeedProvider against the provider emulator: upload, submit once, poll, download."""

from __future__ import annotations

import random

import httpx
import pytest

from bot.core.domain import Resolution
from bot.core.errors import ContentRejected, OptionError, ProviderError, ProviderRejected
from bot.core.sizes import size_for
from bot.providers.retry import RetryPolicy
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


def provider(
    emu: ProviderEmulator,
    client: httpx.AsyncClient,
    *,
    base_url: str = "http://emulator",
    sleep: FakeSleep | None = None,
    poll_interval_s: float = 0.5,
    key: str | None = None,
) -> WaveSpeedProvider:
    return WaveSpeedProvider(
        client=client,
        base_url=base_url,
        api_key=key or emu.wavespeed_key,
        retry=RetryPolicy(max_retries=3, base_delay_s=0.01, max_delay_s=0.05),
        deadline_s=10.0,
        poll_interval_s=poll_interval_s,
        sleep=sleep or FakeSleep(),
        rng=random.Random(1),
    )


async def test_upload_submit_poll_download_sequence(emu, client):
    log = ProgressLog()
    req = request(solid_png("red"), solid_png("blue"), aspect="16:9", quality="auto")
    result = await provider(emu, client).edit(req, on_progress=log)
    assert [r.route for r in emu.requests] == [
        "upload", "upload", "submit", "poll", "poll", "poll", "output",
    ]  # fmt: skip
    submitted = emu.routes("submit")[0].json
    assert submitted is not None
    assert submitted["images"] == [
        f"http://emulator/media/{mid}" for mid in emu.media
    ]  # the URLs the uploads returned, in order
    assert {k: v for k, v in submitted.items() if k != "images"} == {
        "prompt": "make it pop",
        "aspect_ratio": "16:9",
        "resolution": "1k",
        "quality": "high",  # auto is sent as high
        "enable_base64_output": False,
        "enable_sync_mode": False,
    }
    assert log.stages == ["uploading", "queued", "running", "downloading"]
    assert result.task_id == emu.task_ids[0]
    im = decode(result.images[0].data)
    assert im.size == result.size == size_for("16:9", Resolution.R1K)
    assert mean_rgb(im, (0, 0, 200, 200))[0] > 180  # derived from the red first input


async def test_task_id_is_handed_over_before_the_first_poll(emu, client):
    seen: list[tuple[str, list[str]]] = []

    async def on_task_id(task_id: str) -> None:
        seen.append((task_id, [r.route for r in emu.requests]))

    result = await provider(emu, client).edit(request(n=2), on_task_id=on_task_id)
    assert seen[-1][0] == ",".join(emu.task_ids) == result.task_id
    assert len(emu.task_ids) == 2
    assert all("poll" not in routes for _, routes in seen)
    assert len(result.images) == 2 and result.images[0].data != result.images[1].data


class Crash(Exception):
    """The process died right after recording the task id."""


async def test_resume_finishes_without_a_second_submit(emu, client):
    recorded: list[str] = []

    async def on_task_id(task_id: str) -> None:
        recorded.append(task_id)
        raise Crash

    with pytest.raises(Crash):
        await provider(emu, client).edit(request(solid_png("blue")), on_task_id=on_task_id)
    restarted = provider(emu, client)
    result = await restarted.resume(recorded[-1], request(solid_png("blue")))
    assert len(emu.routes("submit")) == 1
    assert result.task_id == recorded[-1]
    assert mean_rgb(decode(result.images[0].data))[2] > 150


@pytest.mark.parametrize(
    ("fault", "prompt", "error", "code"),
    [
        ("refuse", "make it pop", ContentRejected, None),
        (None, "something forbidden", ContentRejected, None),
        ("task_failed", "make it pop", ProviderError, "5000"),
    ],
)
async def test_failed_tasks_are_mapped(emu, client, fault, prompt, error, code):
    if fault:
        emu.fail_next(fault)
    with pytest.raises(error) as caught:
        await provider(emu, client).edit(request(prompt=prompt))
    assert type(caught.value) is error
    if code:
        assert caught.value.code == code
    assert len(emu.routes("submit")) == 1


async def test_unreachable_media_fails_with_1402(emu, client):
    raw = await client.post(
        "http://emulator/api/v3/openai/gpt-image-2/edit",
        json={"images": ["https://elsewhere.example/x.png"], "prompt": "p"},
        headers={"Authorization": f"Bearer {emu.wavespeed_key}"},
    )
    task_id = raw.json()["data"]["id"]
    with pytest.raises(ProviderRejected) as caught:
        await provider(emu, client).resume(task_id, request())
    assert caught.value.code == "1402"


async def test_bad_parameter_is_final_with_the_message(emu, client):
    with pytest.raises(ProviderRejected) as caught:
        await provider(emu, client).edit(request(aspect="7:3"))
    assert "aspect_ratio must be one of" in str(caught.value)
    assert len(emu.routes("submit")) == 1


async def test_submit_is_not_retried_after_a_timeout(emu, client):
    emu.fail_next("timeout", on="submit")
    with pytest.raises(ProviderError) as caught:
        await provider(emu, client).edit(request())
    assert type(caught.value) is ProviderError
    assert "may exist" in str(caught.value)
    assert len(emu.routes("submit")) == 1 and len(emu.task_ids) == 1


async def test_submit_gateway_page_is_final_but_api_429_and_5xx_are_retried(emu, client):
    sleep = FakeSleep()
    emu.fail_next("429", on="submit", retry_after_s=1.5, header="s")
    emu.fail_next("503", on="submit")
    result = await provider(emu, client, sleep=sleep).edit(request())
    assert len(emu.routes("submit")) == 3 and len(emu.task_ids) == 1
    assert sleep.delays[0] == 2.0  # retry-after: 2 (1.5 rounded to whole seconds)
    assert result.images
    emu.fail_next("gateway", on="submit")
    with pytest.raises(ProviderError, match="may exist"):
        await provider(emu, client).edit(request())
    assert len(emu.routes("submit")) == 4


async def test_uploads_polls_and_downloads_are_retried(emu, client):
    emu.fail_next("503", on="upload")
    emu.fail_next("500", on="poll", times=2)
    emu.fail_next("timeout", on="poll")
    emu.fail_next("429", on="output", retry_after_s=0.2, header="ms")
    log = ProgressLog()
    result = await provider(emu, client).edit(request(), on_progress=log)
    assert result.images
    assert len(emu.routes("upload")) == 2 and len(emu.routes("submit")) == 1
    assert log.stages.count("retrying") == 5


async def test_poll_interval_grows_and_is_capped(emu, client):
    sleep = FakeSleep()
    slow = ProviderEmulator(latency_s=0.0)
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow.handler)) as c:
        await provider(slow, c, sleep=sleep, poll_interval_s=4.0).edit(request())
    assert sleep.delays == [4.0, 5.0]


async def test_mask_is_refused_before_anything_is_sent(emu, client):
    with pytest.raises(OptionError):
        await provider(emu, client).edit(request(mask=half_mask((96, 64))))
    assert emu.requests == []


async def test_preview_names_uploads(emu, client):
    preview = provider(emu, client).preview(request(solid_png("red"), n=3))
    assert preview["images"] == ["<upload of red.png>"]
    assert preview["tasks"] == 3 and "n" not in preview
    assert emu.requests == []


async def test_wrong_key_is_rejected_without_leaking_it(emu, client):
    secret = "ws-not-the-right-key-0123456789"
    with pytest.raises(ProviderRejected) as caught:
        await provider(emu, client, key=secret).edit(request())
    assert caught.value.status == 401
    assert secret not in str(caught.value) and secret[-8:] not in str(caught.value)


async def test_through_a_real_server_in_loop_and_in_thread(emu):
    async with EmulatorServer(emu) as base, httpx.AsyncClient() as c:
        emu.fail_next("500", on="poll")
        result = await provider(emu, c, base_url=base).edit(request(solid_png("blue"), n=2))
    assert len(result.images) == 2 and len(emu.task_ids) == 2
    assert all(decode(i.data).size == (1024, 1024) for i in result.images)
    with EmulatorServer(emu).in_thread() as base:
        async with httpx.AsyncClient() as c:
            again = await provider(emu, c, base_url=base).resume(result.task_id or "", request())
    assert [i.data for i in again.images] == [i.data for i in result.images]
    assert len(emu.routes("submit")) == 2
