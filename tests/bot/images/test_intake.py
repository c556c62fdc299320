"""Image intake (issue 2, section 3): formats, caps, corrupt files, orientation, modes, masks."""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import time
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, JpegImagePlugin

from bot.core.config import Settings
from bot.core.domain import NormalizedImage
from bot.core.errors import ImageRejected, OptionError
from bot.images.intake import (
    ImageLimits,
    describe_unknown,
    normalize_image,
    normalize_image_sync,
    normalize_mask,
    normalize_mask_sync,
    pick_mask,
    sniff,
)
from bot.images.modes import to_rgb_or_rgba
from tests.kit.images import (
    colour_at,
    corner_marked,
    encode,
    jpeg,
    photo_like,
    png,
    png_header_only,
    psnr,
)

LIMITS = ImageLimits()


def decoded(result: NormalizedImage) -> Image.Image:
    im = Image.open(io.BytesIO(result.data))
    im.load()
    return im


def small_scene() -> Image.Image:
    return photo_like((96, 64), seed=3, noise=0)


HTML_LOGIN = b"<!DOCTYPE html>\n<html lang='en'><head><title>Slack</title></head><body>Sign in"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


# --- formats, by magic bytes only ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "expected"), [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp"), ("GIF", "gif")]
)
def test_accepted_formats_are_sniffed_and_normalized_whatever_the_name(fmt, expected):
    data = encode(small_scene(), fmt)
    assert sniff(data) == expected
    # The name claims another format; the bytes decide.
    result = normalize_image_sync(data, name="upload.heic", limits=LIMITS)
    assert (result.width, result.height) == (96, 64)
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    assert result.name == f"upload.{result.extension}"
    assert decoded(result).format == {"image/jpeg": "JPEG", "image/png": "PNG"}[result.mime]


@pytest.mark.parametrize(
    ("data", "looks_like"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
        (HTML_LOGIN, "an HTML page"),
        (b"  \n<html><body>login</body></html>", "an HTML page"),
        (HEIC, "a HEIC photo"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 30, "a ZIP archive"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2", "a video"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", "an AVIF image"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "an SVG drawing"),
        (b'{"ok": false, "error": "not_authed"}', "JSON text"),
        (b"hello, this is a text file\n", "plain text"),
        (b"", "an empty file"),
        (bytes(range(256)) * 4, "a file of unknown type"),
    ],
)
def test_describe_unknown_says_what_a_file_looks_like(data, looks_like):
    assert sniff(data) is None
    assert describe_unknown(data).startswith(looks_like)


@pytest.mark.parametrize(("fmt", "looks_like"), [("BMP", "BMP"), ("TIFF", "TIFF")])
def test_images_pillow_could_decode_are_still_refused_outside_the_four_formats(fmt, looks_like):
    data = encode(small_scene(), fmt)
    with pytest.raises(ImageRejected) as err:
        normalize_image_sync(data, name="scan.png", limits=LIMITS)
    assert "'scan.png'" in str(err.value)
    assert looks_like in str(err.value)
    assert "PNG, JPEG, WebP or GIF" in str(err.value)


def test_an_html_page_says_the_slack_app_lacks_files_read():
    with pytest.raises(ImageRejected) as err:
        normalize_image_sync(HTML_LOGIN, name="product.png", limits=LIMITS)
    message = str(err.value)
    assert "'product.png'" in message
    assert "HTML page" in message
    assert "files:read" in message


def test_a_heic_photo_is_named_and_an_export_suggested():
    with pytest.raises(ImageRejected) as err:
        normalize_image_sync(HEIC, name="IMG_0042.HEIC", limits=LIMITS)
    message = str(err.value)
    assert "'IMG_0042.HEIC'" in message
    assert "HEIC" in message
    assert "JPEG or PNG" in message


def test_a_pdf_named_like_a_photo_is_refused_as_a_pdf():
    with pytest.raises(ImageRejected) as err:
        normalize_image_sync(b"%PDF-1.4\n" + b"x" * 100, name="photo.jpg", limits=LIMITS)
    assert "'photo.jpg' is a PDF document" in str(err.value)


# --- byte and pixel caps ------------------------------------------------------------------------


def test_a_60_mb_input_is_refused_by_size_before_any_decoding():
    # A real, decodable PNG padded past the cap: only the byte count can reject it.
    data = png(small_scene()) + b"\x00" * (60 * 1024 * 1024)
    with pytest.raises(ImageRejected) as err:
        normalize_image_sync(data, name="huge.png", limits=LIMITS)
    assert "'huge.png' is 60.0 MB" in str(err.value)
    assert "at most 50.0 MB" in str(err.value)
    roomy = ImageLimits(max_bytes=100 * 1024 * 1024)
    assert normalize_image_sync(data, name="huge.png", limits=roomy).width == 96


def test_the_pixel_cap_is_checked_before_the_pixels_are_decoded():
    # The header claims 9000x9000 but no pixel data follows: decoding would fail as "damaged",
    # so a "pixels" refusal shows the cap was applied first.
    data = png_header_only(9000, 9000)
    with pytest.raises(ImageRejected) as err:
        normalize_image_sync(data, name="tall.png", limits=ImageLimits(max_pixels=1_000_000))
    assert "9000x9000 = 81,000,000 pixels" in str(err.value)
    with pytest.raises(ImageRejected) as err:
        normalize_image_sync(data, name="tall.png", limits=ImageLimits(max_pixels=10**9))
    assert "damaged" in str(err.value)


def test_a_real_image_over_a_configured_pixel_cap_is_refused():
    data = png(photo_like((300, 300), seed=1, noise=0))
    with pytest.raises(ImageRejected, match="pixels"):
        normalize_image_sync(data, name="a.png", limits=ImageLimits(max_pixels=50_000))
    assert normalize_image_sync(data, name="a.png", limits=ImageLimits(max_pixels=90_000)).width


def test_pillows_bomb_warning_is_an_error_even_when_warnings_are_ignored():
    # 100 MP is above Pillow's warning threshold (89.5 MP) but below its hard error (179 MP);
    # editbot's own cap is set out of the way so only the warning can stop it.
    data = png_header_only(10_000, 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ImageRejected) as err:
            normalize_image_sync(data, name="bomb.png", limits=ImageLimits(max_pixels=10**9))
    assert "too many pixels" in str(err.value)


def test_pillows_bomb_error_becomes_image_rejected():
    data = png_header_only(20_000, 20_000)
    with pytest.raises(ImageRejected, match="too many pixels"):
        normalize_image_sync(data, name="bomb.png", limits=ImageLimits(max_pixels=10**9))


# --- corrupt and truncated files ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_truncated_files_are_a_clear_user_error(fmt):
    data = encode(photo_like((200, 150), seed=2), fmt)
    with pytest.raises(ImageRejected) as err:
        normalize_image_sync(data[: len(data) // 2], name="cut.img", limits=LIMITS)
    assert "'cut.img'" in str(err.value)
    assert "damaged or cut short" in str(err.value)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_a_right_magic_with_garbage_after_it_is_a_clear_user_error(fmt):
    data = encode(small_scene(), fmt)
    junk = data[:12] + bytes((i * 37) % 256 for i in range(400))
    with pytest.raises(ImageRejected, match="damaged or cut short"):
        normalize_image_sync(junk, name="junk", limits=LIMITS)


_SEEDS = {fmt: encode(photo_like((40, 30), seed=4), fmt) for fmt in ("PNG", "JPEG", "WEBP", "GIF")}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(sorted(_SEEDS)),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 10_000),
)
def test_damaged_images_never_raise_anything_but_image_rejected(fmt, edits, cut):
    data = bytearray(_SEEDS[fmt])
    for position, value in edits:
        data[position % len(data)] = value
    data = data[: max(1, len(data) - cut % len(data))]
    try:
        result = normalize_image_sync(bytes(data), name="fuzz", limits=LIMITS)
    except ImageRejected:
        return
    assert decoded(result).size == (result.width, result.height)


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
        Settings(
            EDITBOT_MAX_INPUT_SIDE=1024, EDITBOT_MAX_INPUT_BYTES=1000, EDITBOT_MAX_INPUT_PIXELS=7
        )
    )
    assert limits == ImageLimits(max_bytes=1000, max_side=1024, max_pixels=7)


# --- masks --------------------------------------------------------------------------------------


def hole_mask(size: tuple[int, int], *, mode: str = "RGBA") -> Image.Image:
    """Opaque black with a transparent left half: edit the left half."""
    im = Image.new("RGBA", size, (0, 0, 0, 255))
    ImageDraw.Draw(im).rectangle((0, 0, size[0] // 2 - 1, size[1] - 1), fill=(0, 0, 0, 0))
    return im if mode == "RGBA" else im.convert(mode)


async def test_a_mask_is_resized_to_the_image_and_returned_as_rgba_png():
    result = await normalize_mask(
        png(hole_mask((200, 100))), name="mask.png", size=(1024, 512), limits=LIMITS
    )
    out = decoded(result)
    assert (result.mime, out.mode, out.size) == ("image/png", "RGBA", (1024, 512))
    assert (result.width, result.height) == (1024, 512)
    assert out.getpixel((100, 256))[3] == 0  # type: ignore[index]
    assert out.getpixel((900, 256))[3] == 255  # type: ignore[index]


def test_a_palette_mask_with_transparency_is_accepted():
    im = Image.new("P", (20, 20), 1)
    im.putpalette([0, 0, 0, 255, 255, 255] + [0] * (254 * 3))
    ImageDraw.Draw(im).rectangle((0, 0, 9, 19), fill=0)
    out = decoded(
        normalize_mask_sync(png(im, transparency=0), name="m.png", size=(20, 20), limits=LIMITS)
    )
    assert out.getpixel((2, 2))[3] == 0  # type: ignore[index]
    assert out.getpixel((15, 2)) == (255, 255, 255, 255)


def test_a_jpeg_mask_is_refused_with_what_a_mask_must_be():
    with pytest.raises(ImageRejected) as err:
        normalize_mask_sync(jpeg(small_scene()), name="mask.jpg", size=(96, 64), limits=LIMITS)
    message = str(err.value)
    assert "'mask.jpg' is a JPEG image" in message
    assert "PNG with an alpha channel" in message
    assert "transparent where the edit goes" in message


def test_a_png_mask_without_alpha_is_refused():
    with pytest.raises(ImageRejected) as err:
        normalize_mask_sync(png(small_scene()), name="mask.png", size=(96, 64), limits=LIMITS)
    assert "no transparency" in str(err.value)
    assert "transparent where the edit goes" in str(err.value)


def test_a_mask_opaque_everywhere_is_refused():
    opaque = Image.new("RGBA", (20, 20), (0, 0, 0, 255))
    with pytest.raises(ImageRejected, match="marks nothing to edit"):
        normalize_mask_sync(png(opaque), name="mask.png", size=(20, 20), limits=LIMITS)


def test_a_mask_that_is_not_an_image_says_what_it_is():
    with pytest.raises(ImageRejected, match="'mask.png' arrived as an HTML page.*files:read"):
        normalize_mask_sync(HTML_LOGIN, name="mask.png", size=(20, 20), limits=LIMITS)
    with pytest.raises(ImageRejected, match="'mask.png' is a PDF document"):
        normalize_mask_sync(b"%PDF-1.4\n", name="mask.png", size=(20, 20), limits=LIMITS)


# --- picking the mask ---------------------------------------------------------------------------

PHOTO = ("photo.jpg", b"\xff\xd8\xff\xe0 jpeg")
MASK_PNG = ("my-MASK.png", b"\x89PNG\r\n\x1a\n rest")


def test_pick_mask_takes_the_option_first():
    assert pick_mask([PHOTO, MASK_PNG, PHOTO], 3) == 2
    assert pick_mask([MASK_PNG, PHOTO], 2) == 1


@pytest.mark.parametrize("index", [0, 3, -1])
def test_pick_mask_refuses_an_index_out_of_range(index):
    with pytest.raises(OptionError, match=f"mask={index}"):
        pick_mask([PHOTO, MASK_PNG], index)


def test_pick_mask_refuses_the_only_image():
    with pytest.raises(OptionError, match="only attached file"):
        pick_mask([MASK_PNG], 1)


def test_pick_mask_finds_a_png_named_mask():
    assert pick_mask([PHOTO, MASK_PNG], None) == 1
    assert pick_mask([MASK_PNG, PHOTO], None) == 0


def test_pick_mask_ignores_non_png_masks_single_files_and_plain_names():
    assert pick_mask([PHOTO, ("mask.jpg", PHOTO[1])], None) is None
    assert pick_mask([MASK_PNG], None) is None
    assert pick_mask([PHOTO, ("other.png", MASK_PNG[1])], None) is None
    assert pick_mask([], None) is None


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
