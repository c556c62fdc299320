"""Image intake: masks (size, alpha, what a mask must be) and which attachment is the mask."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from bot.core.errors import ImageRejected, OptionError
from bot.images.intake import (
    ImageLimits,
    normalize_mask,
    normalize_mask_sync,
    pick_mask,
)
from tests.kit.images import (
    decoded,
    jpeg,
    png,
    small_scene,
)

LIMITS = ImageLimits()


HTML_LOGIN = b"<!DOCTYPE html>\n<html lang='en'><head><title>Slack</title></head><body>Sign in"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


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
