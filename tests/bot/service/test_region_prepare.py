"""`region=` in prepare: its mask is drawn for the first image; WaveSpeed (no masks) refuses
it before anything is reserved."""

from __future__ import annotations

import pytest

from bot.core.domain import ProviderName
from bot.core.errors import OptionError
from bot.core.options import parse_options
from bot.core.pricing import PriceTable
from bot.service.prepare import mask_of_region, prepare_from_images
from tests.kit.images import normalized, solid


async def test_a_region_on_wavespeed_is_refused_before_anything_is_reserved() -> None:
    _, options = parse_options("warmer region=top")
    image = normalized(solid((200, 0, 0), (64, 48)))
    mask = await mask_of_region(options, [image])
    assert mask is not None and (mask.width, mask.height) == (64, 48)
    with pytest.raises(OptionError, match="region= works with the openai provider only"):
        prepare_from_images(
            prompt="warmer",
            options=options,
            images=[image],
            mask=mask,
            provider=ProviderName.WAVESPEED,
            table=PriceTable(),
        )


async def test_no_region_no_mask_and_openai_takes_it() -> None:
    image = normalized(solid((200, 0, 0), (64, 48)))
    assert await mask_of_region(parse_options("warmer")[1], [image]) is None
    _, options = parse_options("warmer region=10,10,50,50")
    mask = await mask_of_region(options, [image])
    prepared = prepare_from_images(
        prompt="warmer",
        options=options,
        images=[image],
        mask=mask,
        provider=ProviderName.OPENAI,
        table=PriceTable(),
    )
    assert prepared.mask == mask
