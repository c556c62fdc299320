import hashlib

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.domain import ASPECTS, EditOptions, NormalizedImage, ProviderName, Quality, Resolution
from bot.core.edits import EditRequest, EditResult, OutputImage, Usage
from bot.core.errors import ConfigError
from bot.core.options import parse_options
from bot.core.pricing import (
    PriceTable,
    estimate,
    input_image_tokens_bound,
    micros_for_tokens,
    openai_output_tokens,
    settle,
    total_estimate,
)
from bot.core.sizes import size_for, size_problem
from bot.images.intake import ImageLimits
from bot.providers.factory import build_provider
from bot.service.prepare import InputFile, prepare_edit
from tests.kit.emulator import ProviderEmulator
from tests.kit.emulator import images as emulator_images
from tests.kit.images import solid
from tests.kit.settings import make_settings


def image(width: int, height: int) -> NormalizedImage:
    data = f"{width}x{height}".encode()
    return NormalizedImage(
        data=data,
        mime="image/png",
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def request(
    *, options: EditOptions, size: tuple[int, int], prompt: str = "make it blue", inputs=None
) -> EditRequest:
    return EditRequest(
        prompt=prompt,
        images=tuple(inputs or [image(1024, 1024)]),
        options=options,
        size=size,
        aspect="1:1",
    )


@pytest.mark.parametrize(
    ("quality", "w", "h", "tokens"),
    [
        (Quality.HIGH, 1024, 1024, 7_024),  # REFERENCE.md's worked figure
        (Quality.AUTO, 1024, 1024, 7_024),  # auto is priced as high
        (Quality.LOW, 1024, 1024, 196),  # 16*16*3,048,576/4e6 = 195.11
        (Quality.MEDIUM, 1024, 1024, 1_756),  # 48*48*3,048,576/4e6 = 1755.98
        (Quality.HIGH, 1536, 1024, 5_488),  # 96*64*3,572,864/4e6 = 5487.92
        (Quality.HIGH, 1024, 1536, 5_488),  # orientation does not matter
        (Quality.HIGH, 3824, 2144, 13_218),  # round(96*2144/3824)=54: 96*54*10,198,656/4e6
        (Quality.LOW, 2048, 2048, 397),  # 256*6,194,304/4e6 = 396.44
        # 16*1344/2048 = 10.5 exactly: half-up gives 11 (banker's rounding would give 10 -> 191).
        (Quality.LOW, 2048, 1344, 210),
    ],
)
def test_output_tokens_follow_the_gpt_image_2_formula(quality, w, h, tokens):
    assert openai_output_tokens(quality, w, h) == tokens


def test_micros_for_tokens_rounds_up_to_a_whole_micro_dollar():
    assert micros_for_tokens(7_024, 30_000_000) == 210_720
    assert micros_for_tokens(1, 5_000_000) == 5
    assert micros_for_tokens(1, 1) == 1  # 0.000001 micro-dollars still costs one
    assert micros_for_tokens(0, 30_000_000) == 0


def test_from_settings_applies_overrides_and_keeps_other_defaults():
    table = PriceTable.from_settings(
        make_settings(prices={"openai.output_per_mtok": 40_000_000, "wavespeed.high.2k": 500_000})
    )
    assert table.openai_output_per_mtok == 40_000_000
    assert table.openai_image_input_per_mtok == 8_000_000
    assert table.wavespeed_image_price(Quality.HIGH, Resolution.R2K) == 500_000
    assert table.wavespeed_image_price(Quality.HIGH, Resolution.R1K) == 220_000


def test_from_settings_reads_the_environment_variable(monkeypatch):
    monkeypatch.setenv("EDITBOT_PRICES", '{"openai.text_input_per_mtok": 6000000}')
    assert PriceTable.from_settings(make_settings()).openai_text_input_per_mtok == 6_000_000


@pytest.mark.parametrize("key", ["openai.output", "wavespeed.ultra.1k", "output_per_mtok"])
def test_unknown_price_key_is_a_config_error_naming_it(key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        PriceTable.from_settings(make_settings(prices={key: 1}))


def test_negative_price_is_a_config_error():
    with pytest.raises(ConfigError, match="openai.output_per_mtok"):
        PriceTable.from_settings(make_settings(prices={"openai.output_per_mtok": -1}))


def test_wavespeed_defaults_match_the_reference_table():
    table = PriceTable()
    got = {
        (q, r): table.wavespeed_image_price(q, r)
        for q in (Quality.LOW, Quality.MEDIUM, Quality.HIGH)
        for r in Resolution
    }
    assert got == {
        (Quality.LOW, Resolution.R1K): 30_000,
        (Quality.LOW, Resolution.R2K): 60_000,
        (Quality.LOW, Resolution.R4K): 90_000,
        (Quality.MEDIUM, Resolution.R1K): 60_000,
        (Quality.MEDIUM, Resolution.R2K): 120_000,
        (Quality.MEDIUM, Resolution.R4K): 180_000,
        (Quality.HIGH, Resolution.R1K): 220_000,
        (Quality.HIGH, Resolution.R2K): 440_000,
        (Quality.HIGH, Resolution.R4K): 660_000,
    }
    assert table.wavespeed_image_price(Quality.AUTO, Resolution.R4K) == 660_000


def test_wavespeed_estimate_is_n_times_the_table_price():
    req = request(
        options=EditOptions(quality=Quality.HIGH, resolution=Resolution.R2K, n=2),
        size=(2048, 2048),
    )
    est = estimate(provider=ProviderName.WAVESPEED, request=req, table=PriceTable())
    assert est.micros == 880_000
    assert est.detail == "2 x high 2k at $0.440"


@pytest.mark.parametrize(
    ("size", "resolution", "micros"),
    [
        ((1024, 1024), Resolution.R1K, 30_000),
        ((2048, 2048), Resolution.R1K, 60_000),  # the size says 2k
        ((1024, 1024), Resolution.R2K, 60_000),  # the class sent says 2k
        ((3072, 2304), Resolution.R1K, 90_000),  # short side over 2048: 4k
    ],
)
def test_wavespeed_explicit_size_is_billed_at_the_higher_class(size, resolution, micros):
    opts = EditOptions(quality=Quality.LOW, size=size, resolution=resolution)
    req = request(options=opts, size=size)
    assert estimate(provider=ProviderName.WAVESPEED, request=req, table=PriceTable()).micros == (
        micros
    )


def test_openai_estimate_adds_outputs_inputs_and_text():
    req = request(
        options=EditOptions(quality=Quality.HIGH, n=4), size=(1024, 1024), prompt="ab\u00e9"
    )
    est = estimate(provider=ProviderName.OPENAI, request=req, table=PriceTable())
    output = micros_for_tokens(4 * 7_024, 30_000_000)
    # One 1024x1024 input: 7,024 (the output formula at high) + 64 tokens of headroom.
    # "abé" is 4 UTF-8 bytes, plus 64 tokens of headroom.
    inputs = micros_for_tokens(7_088, 8_000_000) + micros_for_tokens(68, 5_000_000)
    assert est.micros == output + inputs
    assert est.detail == "4 x 7,024 output tokens at $30/M + inputs"


def test_openai_estimate_counts_the_mask_as_an_input():
    base = request(options=EditOptions(), size=(1024, 1024))
    masked = EditRequest(**{**base.__dict__, "mask": image(1024, 1024)})
    table = PriceTable()
    without = estimate(provider=ProviderName.OPENAI, request=base, table=table).micros
    with_mask = estimate(provider=ProviderName.OPENAI, request=masked, table=table).micros
    assert with_mask - without == micros_for_tokens(7_088, 8_000_000)


def test_openai_settle_prices_each_usage_line_and_rounds_up():
    req = request(options=EditOptions(quality=Quality.HIGH), size=(1024, 1024))
    result = EditResult(
        provider=ProviderName.OPENAI,
        images=(OutputImage(data=b"x", mime="image/png"),),
        size=(1024, 1024),
        usage=Usage(input_text_tokens=3, input_image_tokens=1_001, output_tokens=7_024),
    )
    cost = settle(provider=ProviderName.OPENAI, request=req, result=result, table=PriceTable())
    # 3 * 5 = 15; 1,001 * 8 = 8,008; 7,024 * 30 = 210,720.
    assert cost.micros == 15 + 8_008 + 210_720
    assert "7,024 output tokens" in cost.detail

    odd = PriceTable(openai_text_input_per_mtok=333_333)
    cost = settle(provider=ProviderName.OPENAI, request=req, result=result, table=odd)
    # 3 * 0.333333 = 0.999999 micro-dollars, rounded up to 1.
    assert cost.micros == 1 + 8_008 + 210_720


def test_openai_settle_without_usage_charges_the_bound_not_zero():
    req = request(options=EditOptions(quality=Quality.LOW), size=(1024, 1024))
    result = EditResult(
        provider=ProviderName.OPENAI,
        images=(OutputImage(data=b"x", mime="image/png"),),
        size=(1024, 1024),
    )
    table = PriceTable()
    cost = settle(provider=ProviderName.OPENAI, request=req, result=result, table=table)
    assert cost.micros == estimate(provider=ProviderName.OPENAI, request=req, table=table).micros


def test_wavespeed_settle_counts_the_images_that_came_back():
    req = request(options=EditOptions(quality=Quality.MEDIUM, n=3), size=(1024, 1024))
    result = EditResult(
        provider=ProviderName.WAVESPEED,
        images=tuple(OutputImage(data=bytes([i]), mime="image/png") for i in range(2)),
        size=(1024, 1024),
    )
    cost = settle(provider=ProviderName.WAVESPEED, request=req, result=result, table=PriceTable())
    assert cost.micros == 120_000
    assert cost.detail == "2 x medium 1k at $0.060"


def test_total_estimate_sums_and_describes():
    req = request(options=EditOptions(quality=Quality.LOW), size=(1024, 1024))
    one = estimate(provider=ProviderName.WAVESPEED, request=req, table=PriceTable())
    total = total_estimate([one, one, one])
    assert total.micros == 90_000
    assert total.detail == "3 edits of 1 x low 1k at $0.030"
    assert total_estimate([one]) == one


@pytest.mark.parametrize(
    ("w", "h", "tokens"),
    [
        (1024, 1024, 7_024 + 64),
        (300, 200, 3_165 + 64),  # 96*64*2,060,000/4e6 = 3164.16
        (4000, 1000, 3_456 + 64),  # 96*24*6,000,000/4e6 = 3456 exactly
        (64, 64, 4_618 + 64),  # 96*96*2,004,096/4e6 = 4617.44
    ],
)
def test_input_image_bound_is_the_high_output_formula_with_headroom(w, h, tokens):
    assert input_image_tokens_bound(w, h) == tokens


def _emulator_usage(request: EditRequest) -> Usage:
    """The usage the emulator reports for `request` (its own token helpers, as it counts)."""
    opts = request.options
    return Usage(
        input_text_tokens=emulator_images.text_tokens(request.prompt),
        input_image_tokens=sum(
            emulator_images.input_image_tokens(im.width, im.height) for im in request.images
        ),
        output_tokens=opts.n * emulator_images.output_tokens(opts.quality.value, *request.size),
    )


sides = st.integers(min_value=1, max_value=6000)
valid_sizes = st.tuples(
    st.integers(min_value=1, max_value=239).map(lambda k: 16 * k),
    st.integers(min_value=1, max_value=239).map(lambda k: 16 * k),
).filter(lambda wh: size_problem(*wh) is None)


@st.composite
def requests(draw) -> EditRequest:
    quality = draw(st.sampled_from(list(Quality)))
    n = draw(st.integers(min_value=1, max_value=10))
    if draw(st.booleans()):
        size = draw(valid_sizes)
        options = EditOptions(quality=quality, n=n, size=size)
    else:
        aspect = draw(st.sampled_from(ASPECTS))
        resolution = draw(st.sampled_from(list(Resolution)))
        size = size_for(aspect, resolution)
        options = EditOptions(quality=quality, n=n, aspect=aspect, resolution=resolution)
    inputs = draw(st.lists(st.tuples(sides, sides), min_size=1, max_size=16))
    mask = draw(st.booleans())
    return EditRequest(
        prompt=draw(st.text(min_size=1, max_size=300)),
        images=tuple(image(w, h) for w, h in inputs),
        options=options,
        size=size,
        aspect="1:1",
        mask=image(*inputs[0]) if mask else None,
    )


@settings(max_examples=300, deadline=None)
@given(req=requests(), provider=st.sampled_from(list(ProviderName)))
def test_estimate_bounds_what_settle_charges_for_the_emulators_answer(req, provider):
    table = PriceTable()
    n = req.options.n
    result = EditResult(
        provider=provider,
        images=tuple(OutputImage(data=bytes([i]), mime="image/png") for i in range(n)),
        size=req.size,
        usage=_emulator_usage(req) if provider is ProviderName.OPENAI else None,
    )
    cost = settle(provider=provider, request=req, result=result, table=table)
    est = estimate(provider=provider, request=req, table=table)
    assert 0 < cost.micros <= est.micros


@pytest.mark.parametrize("provider", list(ProviderName))
async def test_settle_on_a_real_round_trip_through_the_emulator(provider):
    emu = ProviderEmulator()
    settings_ = make_settings(
        OPENAI_API_KEY=emu.openai_key,
        OPENAI_BASE_URL="http://emulator.test/v1",
        WAVESPEED_API_KEY=emu.wavespeed_key,
        WAVESPEED_BASE_URL="http://emulator.test",
        EDITBOT_POLL_INTERVAL_S=0.01,
    )
    table = PriceTable()
    prompt, options = parse_options("make it teal quality=low n=2", max_n=settings_.max_n)
    prepared = await prepare_edit(
        prompt=prompt,
        options=options,
        files=[
            InputFile("a.png", solid((10, 120, 200), (300, 200))),
            InputFile("b.png", solid((10, 120, 200), (64, 64))),
        ],
        limits=ImageLimits.from_settings(settings_),
        provider=provider,
        table=table,
    )
    (req,) = prepared.requests
    async with httpx.AsyncClient(transport=httpx.MockTransport(emu.handler)) as client:
        result = await build_provider(settings_, client, name=provider).edit(req)
    cost = settle(provider=provider, request=req, result=result, table=table)
    assert 0 < cost.micros <= prepared.estimate.micros
    if provider is ProviderName.OPENAI:
        # 2 x low 1536x1024 = 2 x 158; inputs 300x200 = 3,165 and 64x64 = 4,618 (high formula).
        assert result.usage == Usage(
            input_text_tokens=len("make it teal") // 4 + 1,
            input_image_tokens=3_165 + 4_618,
            output_tokens=2 * openai_output_tokens(Quality.LOW, 1536, 1024),
        )
        assert cost.micros == (
            micros_for_tokens(2 * 158, 30_000_000)
            + micros_for_tokens(3_165 + 4_618, 8_000_000)
            + micros_for_tokens(4, 5_000_000)
        )
    else:
        assert len(emu.routes("submit")) == 2
        assert cost.micros == 2 * 30_000 and cost.detail == "2 x low 1k at $0.030"
