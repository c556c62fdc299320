"""Image intake: orientation, colour modes, downscaling and re-encoding, off the event loop."""

from __future__ import annotations

import asyncio
import io
import struct
import time
import warnings

import pytest
from PIL import Image, ImageDraw, JpegImagePlugin

from bot.core.domain import NormalizedImage
from bot.images.intake import (
    ImageLimits,
    normalize_image,
    normalize_image_sync,
)
from bot.images.modes import to_rgb_or_rgba
from tests.kit.images import (
    colour_at,
    corner_marked,
    decoded,
    encode,
    jpeg,
    photo_like,
    png,
    psnr,
    small_scene,
)
from tests.kit.settings import make_settings

LIMITS = ImageLimits()


HTML_LOGIN = b"<!DOCTYPE html>\n<html lang='en'><head><title>Slack</title></head><body>Sign in"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


# --- orientation --------------------------------------------------------------------------------

# Where the stored top-left quarter shows up once upright, and whether the sides swap.
UPRIGHT = {
    1: ((0.25, 0.25), False),
    2: ((0.75, 0.25), False),
    3: ((0.75, 0.75), False),
    4: ((0.25, 0.75), False),
    5: ((0.25, 0.25), True),
    6: ((0.75, 0.25), True),
    7: ((0.75, 0.75), True),
    8: ((0.25, 0.75), True),
}


@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
def test_every_exif_orientation_is_applied(orientation):
    data = jpeg(corner_marked((160, 80)), orientation=orientation, quality=95)
    result = normalize_image_sync(data, name="phone.jpg", limits=LIMITS)
    red_at, swapped = UPRIGHT[orientation]
    assert (result.width, result.height) == ((80, 160) if swapped else (160, 80))
    im = decoded(result)
    assert colour_at(im, red_at) == "red"
    # The opposite quarter stays blue, so this is not a red image.
    assert colour_at(im, (1 - red_at[0], 1 - red_at[1])) == "blue"
    assert im.getexif().get(0x0112) is None


@pytest.mark.parametrize(("orientation", "red_at"), [(3, (0.75, 0.75)), (6, (0.75, 0.25))])
def test_orientation_is_right_after_a_draft_decode_and_downscale(orientation, red_at):
    # Stored 3000x1000 (draft at 1/4 -> 750x250, resized to 600x200), then turned upright.
    data = jpeg(corner_marked((3000, 1000)), orientation=orientation)
    result = normalize_image_sync(data, name="wide.jpg", limits=ImageLimits(max_side=600))
    expected = (200, 600) if orientation == 6 else (600, 200)
    assert (result.width, result.height) == expected
    im = decoded(result)
    assert colour_at(im, red_at) == "red"
    assert colour_at(im, (1 - red_at[0], 1 - red_at[1])) == "blue"


# --- colour modes -------------------------------------------------------------------------------


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour():
    data = encode(Image.new("CMYK", (64, 64), (0, 255, 255, 0)), "JPEG", quality=95)
    result = normalize_image_sync(data, name="print.jpg", limits=LIMITS)
    im = decoded(result)
    assert result.mime == "image/jpeg"
    assert im.mode == "RGB"
    assert colour_at(im, (0.5, 0.5)) == "red"


def test_16_bit_png_is_scaled_to_8_bit_not_clipped_to_white():
    values = [0, 16 * 257, 64 * 257, 128 * 257, 200 * 257, 65535]
    im16 = Image.frombytes("I;16", (len(values), 1), struct.pack(f"<{len(values)}H", *values))
    data = png(im16.resize((len(values) * 16, 16), Image.Resampling.NEAREST))
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    im = decoded(normalize_image_sync(data, name="scan16.png", limits=LIMITS))
    greys = [im.getpixel((i * 16 + 8, 8)) for i in range(len(values))]
    for grey, value in zip(greys, values, strict=True):
        assert isinstance(grey, tuple)
        assert abs(grey[0] - value / 257) <= 3


def test_float_and_32_bit_grey_are_mapped_sensibly():
    floats = Image.frombytes("F", (3, 1), struct.pack("<3f", 0.0, 0.5, 1.0))
    assert [to_rgb_or_rgba(floats).getpixel((x, 0)) for x in range(3)] == [
        (0, 0, 0),
        (127, 127, 127),
        (255, 255, 255),
    ]
    ints = Image.frombytes("I", (3, 1), struct.pack("<3i", -1000, 0, 1000))
    low, mid, high = (to_rgb_or_rgba(ints).getpixel((x, 0)) for x in range(3))
    assert low == (0, 0, 0)
    assert isinstance(mid, tuple) and 125 <= mid[0] <= 129
    assert isinstance(high, tuple) and high[0] >= 254


def test_palette_with_transparency_keeps_it_as_rgba_png():
    im = Image.new("P", (64, 32), 0)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * (254 * 3))
    ImageDraw.Draw(im).rectangle((32, 0, 63, 31), fill=1)
    data = png(im, transparency=0)
    result = normalize_image_sync(data, name="sticker.png", limits=LIMITS)
    out = decoded(result)
    assert result.mime == "image/png"
    assert out.mode == "RGBA"
    assert out.getpixel((8, 8)) == (0, 0, 0, 0)
    assert out.getpixel((48, 8)) == (255, 0, 0, 255)


def test_la_becomes_rgba_with_its_alpha():
    im = Image.new("LA", (40, 20), (200, 255))
    ImageDraw.Draw(im).rectangle((0, 0, 19, 19), fill=(90, 0))
    result = normalize_image_sync(png(im), name="grey.png", limits=LIMITS)
    out = decoded(result)
    assert (result.mime, out.mode) == ("image/png", "RGBA")
    assert out.getpixel((30, 10)) == (200, 200, 200, 255)
    assert out.getpixel((5, 10))[3] == 0  # type: ignore[index]


def test_alpha_that_is_opaque_everywhere_does_not_force_png():
    im = Image.new("RGBA", (40, 20), (10, 120, 200, 255))
    result = normalize_image_sync(png(im), name="flat.png", limits=LIMITS)
    assert result.mime == "image/jpeg"
    im.putpixel((0, 0), (10, 120, 200, 254))
    assert normalize_image_sync(png(im), name="flat.png", limits=LIMITS).mime == "image/png"


def test_an_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (40, 40), (255, 0, 0)), Image.new("RGB", (40, 40), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = normalize_image_sync(buf.getvalue(), name="anim.gif", limits=LIMITS)
    assert colour_at(decoded(result), (0.5, 0.5)) == "red"


# --- downscaling and re-encoding ----------------------------------------------------------------


def test_a_large_png_is_downscaled_to_the_long_side_cap():
    source = photo_like((3000, 1500), seed=5, noise=0)
    result = normalize_image_sync(png(source), name="wide.png", limits=LIMITS)
    assert (result.width, result.height) == (2048, 1024)
    reference = source.resize((2048, 1024), Image.Resampling.LANCZOS)
    assert psnr(decoded(result), reference) > 35


def test_a_12mp_jpeg_is_draft_decoded_and_stays_close_to_a_full_decode():
    source = photo_like((4000, 3000), seed=6)
    result = normalize_image_sync(jpeg(source), name="camera.jpg", limits=LIMITS)
    # 2000x1500 is the decoder's 1/2-scale DCT output used as is (a full decode would have
    # been resized to 2048x1536): proof the draft path ran.
    assert (result.width, result.height) == (2000, 1500)
    reference = source.resize((result.width, result.height), Image.Resampling.LANCZOS)
    assert psnr(decoded(result), reference) > 35


def test_jpeg_output_is_high_quality_4_4_4():
    result = normalize_image_sync(png(small_scene()), name="x.png", limits=LIMITS)
    out = decoded(result)
    assert isinstance(out, JpegImagePlugin.JpegImageFile)
    assert JpegImagePlugin.get_sampling(out) == 0
    # Clearly better than Pillow's default JPEG (q75, 4:2:0) of the same pixels.
    default = Image.open(io.BytesIO(encode(small_scene(), "JPEG")))
    assert psnr(out, small_scene()) > psnr(default, small_scene()) + 3


def test_small_images_are_not_upscaled():
    result = normalize_image_sync(jpeg(small_scene()), name="x.jpg", limits=LIMITS)
    assert (result.width, result.height) == (96, 64)


def test_limits_come_from_settings():
    limits = ImageLimits.from_settings(
        make_settings(
            EDITBOT_MAX_INPUT_SIDE=1024, EDITBOT_MAX_INPUT_BYTES=1000, EDITBOT_MAX_INPUT_PIXELS=7
        )
    )
    assert limits == ImageLimits(max_bytes=1000, max_side=1024, max_pixels=7)


# --- off the event loop -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jpeg_24mp() -> bytes:
    return jpeg(photo_like((6000, 4000), seed=24), orientation=6)


async def _largest_tick_gap(work) -> tuple[float, int]:
    """Run `work` while a coroutine ticks every 5 ms; the largest gap between ticks and count."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    gaps.clear()
    try:
        await work()
    finally:
        done.set()
        await task
    return max(gaps), len(gaps)


async def test_normalizing_a_24mp_jpeg_does_not_stall_the_event_loop(jpeg_24mp):
    results: list[NormalizedImage] = []

    async def in_thread() -> None:
        results.append(await normalize_image(jpeg_24mp, name="big.jpg", limits=LIMITS))

    async def on_the_loop() -> None:
        results.append(normalize_image_sync(jpeg_24mp, name="big.jpg", limits=LIMITS))

    # Control: the same work done on the loop stalls the ticker, so the probe can see stalls.
    blocked_gap, _ = await _largest_tick_gap(on_the_loop)
    assert blocked_gap > 0.05

    gap, ticks = await _largest_tick_gap(in_thread)
    assert ticks >= 10
    assert gap < 0.05
    assert [(r.width, r.height) for r in results] == [(1365, 2048), (1365, 2048)]


async def test_concurrent_intake_leaves_the_process_warning_filters_as_they_were():
    # Warning filters are process-wide: threads that each swap them in and out must not
    # interleave, or one restores another's temporary filters for good.
    filters, show = list(warnings.filters), warnings.showwarning
    images = [encode(photo_like((600, 400), seed=i, noise=0), "PNG") for i in range(6)]
    for _ in range(4):
        await asyncio.gather(
            *(
                normalize_image(data, name=f"{i}.png", limits=LIMITS)
                for i, data in enumerate(images)
            )
        )
    assert warnings.showwarning is show
    assert list(warnings.filters) == filters
