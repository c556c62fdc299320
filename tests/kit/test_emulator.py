"""The provider emulator itself: validation like the real APIs, formulas, faults, server modes."""

from __future__ import annotations

import subprocess
import sys
import tempfile

import httpx
import pytest

from bot.core.domain import Quality
from bot.core.pricing import openai_output_tokens
from tests.kit.emulator import EmulatorServer, ProviderEmulator
from tests.kit.emulator.fixtures import solid_png
from tests.kit.emulator.images import output_tokens

URL = "http://emulator/v1/images/edits"


def openai_post(emu: ProviderEmulator, **fields: str) -> httpx.Request:
    return httpx.Request(
        "POST",
        URL,
        data={"model": "gpt-image-2", "prompt": "p", **fields},
        files=[("image[]", ("a.png", solid_png("red").data, "image/png"))],
        headers={"Authorization": f"Bearer {emu.openai_key}"},
    )


async def call(emu: ProviderEmulator, request: httpx.Request) -> httpx.Response:
    return await emu.handler(request)


def test_output_tokens_follow_reference_and_pricing():
    assert output_tokens("high", 1024, 1024) == 7024
    for q in ("low", "medium", "high"):
        for size in ((1536, 1024), (1024, 3072), (3824, 2144), (1111, 777)):
            assert output_tokens(q, *size) == openai_output_tokens(Quality(q), *size)


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"response_format": "b64_json"}, 400, "unknown_parameter"),
        ({"input_fidelity": ""}, 400, "invalid_input_fidelity_model"),
        ({"moderation": "low"}, 400, "unknown_parameter"),
        ({"size": "1000x1000"}, 400, "invalid_value"),
        ({"size": "4096x1024"}, 400, "invalid_value"),
        ({"background": "transparent", "output_format": "jpeg"}, 400, "invalid"),
        ({"size": "1024x1536"}, 200, None),
    ],
)
async def test_openai_validation_matches_the_real_api(fields, status, code):
    emu = ProviderEmulator()
    response = await call(emu, openai_post(emu, **fields))
    assert response.status_code == status
    if code:
        assert response.json()["error"]["code"] == code
    else:
        assert response.json()["size"] == "1024x1536"


async def test_auth_is_checked():
    emu = ProviderEmulator()
    request = openai_post(emu)
    request.headers["Authorization"] = "Bearer nope"
    assert (await call(emu, request)).status_code == 401
    poll = httpx.Request("GET", "http://emulator/api/v3/predictions/x/result")
    assert (await call(emu, poll)).status_code == 401
    assert [r.authorized for r in emu.requests] == [False, False]


async def test_fail_rate_is_seeded_and_repeatable():
    results = []
    for _ in range(2):
        emu = ProviderEmulator(fail_rate={"503": 0.5}, seed=7)
        results.append([(await call(emu, openai_post(emu))).status_code for _ in range(8)])
    assert results[0] == results[1]
    assert set(results[0]) == {200, 503}


async def test_fault_queue_targets_a_route_and_counts_down():
    emu = ProviderEmulator()
    emu.fail_next("500", times=2, on="poll")
    assert (await call(emu, openai_post(emu))).status_code == 200  # not a poll: untouched
    emu.fail_next("429", retry_after_s=1.25, header="both")
    first = await call(emu, openai_post(emu))
    assert first.status_code == 429
    assert first.headers["retry-after-ms"] == "1250" and first.headers["retry-after"] == "1"
    assert len(emu.faults) == 1 and emu.faults[0].times == 2


async def test_real_server_hangs_past_the_client_timeout():
    emu = ProviderEmulator()
    async with EmulatorServer(emu) as base, httpx.AsyncClient() as client:
        emu.fail_next("timeout")
        request = openai_post(emu)
        with pytest.raises(httpx.ReadTimeout):
            await client.post(
                base + "/v1/images/edits",
                content=request.read(),
                headers=dict(request.headers),
                timeout=0.3,
            )


def test_threaded_server_serves_a_subprocess():
    emu = ProviderEmulator()
    code = (
        "import sys, httpx; r = httpx.post(sys.argv[1] + '/api/v3/media/upload/binary', "
        "files={'file': ('a.png', open(sys.argv[2], 'rb'), 'image/png')}, "
        "headers={'Authorization': 'Bearer ' + sys.argv[3]}); "
        "u = r.json()['data']['download_url']; print(len(httpx.get(u).content))"
    )
    image = solid_png("red").data
    with EmulatorServer(emu).in_thread() as base:
        with tempfile.NamedTemporaryFile(suffix=".png") as f:
            f.write(image)
            f.flush()
            out = subprocess.run(
                [sys.executable, "-c", code, base, f.name, emu.wavespeed_key],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
    assert int(out.stdout) == len(image)
    assert [r.route for r in emu.requests] == ["upload", "media"]
