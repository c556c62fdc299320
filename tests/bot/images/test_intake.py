"""Image intake: what is an image (formats by magic bytes), byte and pixel caps, damaged files."""

from __future__ import annotations

import hashlib
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.errors import ImageRejected
from bot.images.intake import (
    ImageLimits,
    describe_unknown,
    normalize_image_sync,
    sniff,
)
from tests.kit.images import (
    decoded,
    encode,
    photo_like,
    png,
    png_header_only,
    small_scene,
)

LIMITS = ImageLimits()


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
