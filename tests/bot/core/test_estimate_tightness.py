"""Estimates are tight upper bounds: over the emulator's normal runs, for every quality and size
class, the estimate is never below what was settled and at most 25% above it.

Run with `-s` to see the ratios (settled / estimate) it measured.
"""

from __future__ import annotations

import httpx
import pytest

from bot.core.domain import ProviderName
from bot.core.options import parse_options
from bot.core.pricing import PriceTable, settle
from bot.images.intake import ImageLimits
from bot.providers.factory import build_provider
from bot.service.prepare import InputFile, prepare_edit
from tests.kit.emulator import ProviderEmulator
from tests.kit.images import split
from tests.kit.settings import make_settings

QUALITIES = ("low", "medium", "high", "auto")
SIZES = ("resolution=1k", "resolution=2k aspect=1:1", "resolution=4k aspect=16:9", "n=2")
INPUTS = ((1536, 1024), (480, 640))
PROMPTS = ("make it blue", "swap the background for a beige studio wall with soft light " * 3)
MAX_RATIO = 1.25


async def _run(
    emu: ProviderEmulator, provider: ProviderName, text: str, size: tuple[int, int]
) -> tuple[int, int]:
    settings = make_settings(
        OPENAI_API_KEY=emu.openai_key,
        OPENAI_BASE_URL="http://emulator.test/v1",
        WAVESPEED_API_KEY=emu.wavespeed_key,
        WAVESPEED_BASE_URL="http://emulator.test",
        EDITBOT_POLL_INTERVAL_S=0.01,
    )
    table = PriceTable.from_settings(settings)
    prompt, options = parse_options(text, max_n=settings.max_n)
    prepared = await prepare_edit(
        prompt=prompt,
        options=options,
        files=[InputFile("in.png", split(size))],
        limits=ImageLimits.from_settings(settings),
        provider=provider,
        table=table,
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(emu.handler)) as client:
        client_ = build_provider(settings, client, name=provider)
        settled = 0
        for request in prepared.requests:
            result = await client_.edit(request)
            settled += settle(provider=provider, request=request, result=result, table=table).micros
    return settled, prepared.estimate.micros


@pytest.mark.parametrize("provider", list(ProviderName))
@pytest.mark.parametrize("quality", QUALITIES)
async def test_estimate_is_at_least_the_charge_and_at_most_a_quarter_above(
    provider: ProviderName, quality: str
) -> None:
    emu = ProviderEmulator()
    worst = 0.0
    for size_class in SIZES:
        for size, prompt in zip(INPUTS, PROMPTS, strict=True):
            text = f"{prompt} quality={quality} {size_class}"
            settled, estimated = await _run(emu, provider, text, size)
            ratio = estimated / settled
            worst = max(worst, ratio)
            print(
                f"{provider.value} {quality:6} {size_class:26} in {size[0]}x{size[1]} "
                f"prompt {len(prompt):3}: settled {settled} estimate {estimated} "
                f"estimate/settled {ratio:.3f}"
            )
            assert estimated >= settled, text
            assert estimated <= settled * MAX_RATIO, (text, ratio)
    print(f"{provider.value} {quality}: worst estimate/settled {worst:.3f}")
