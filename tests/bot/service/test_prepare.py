import io

import pytest
from PIL import Image

from bot.core.domain import Mode, ProviderName, Quality
from bot.core.errors import ImageRejected, OptionError, UserInputError
from bot.core.options import parse_options
from bot.core.pricing import PriceTable, estimate
from bot.images.intake import ImageLimits
from bot.service.prepare import MAX_INPUTS, InputFile, prepare_edit, prepare_from_images
from tests.kit.images import mask, solid
from tests.kit.settings import make_settings


def stems(images) -> list[str]:
    # Normalizing may re-encode (photo.png -> photo.jpg): compare names without extensions.
    return [im.name.rsplit(".", 1)[0] for im in images]


SETTINGS = make_settings()
TABLE = PriceTable()


async def prepare(text, files, *, provider=ProviderName.OPENAI, settings=SETTINGS):
    # As the service and `editbot edit` do it: parse once, then prepare.
    prompt, options = parse_options(text, max_n=settings.max_n)
    return await prepare_edit(
        prompt=prompt,
        options=options,
        files=files,
        limits=ImageLimits.from_settings(settings),
        provider=provider,
        table=TABLE,
    )


async def test_compose_makes_one_request_sized_from_the_first_image():
    files = [
        InputFile("wide.png", solid((200, 30, 30), (300, 200))),
        InputFile("tall.png", solid((200, 30, 30), (200, 300))),
    ]
    prepared = await prepare("put them side by side quality=low n=2", files)
    assert prepared.prompt == "put them side by side"
    assert prepared.options.quality is Quality.LOW and prepared.options.n == 2
    (req,) = prepared.requests
    assert [(im.width, im.height) for im in req.images] == [(300, 200), (200, 300)]
    assert stems(req.images) == ["wide", "tall"]
    # 300x200 is 3:2, which at 1k is OpenAI's 1536x1024.
    assert req.aspect == "3:2" and req.size == (1536, 1024)
    assert req.mask is None
    assert prepared.estimate == estimate(provider=ProviderName.OPENAI, request=req, table=TABLE)


async def test_the_aspect_follows_the_first_image_not_the_others():
    files = [
        InputFile("tall.png", solid((200, 30, 30), (200, 300))),
        InputFile("wide.png", solid((200, 30, 30), (300, 200))),
    ]
    (req,) = (await prepare("blend", files)).requests
    assert req.aspect == "2:3" and req.size == (1024, 1536)


async def test_explicit_aspect_and_size_win_over_the_input():
    files = [InputFile("a.png", solid((200, 30, 30), (300, 200)))]
    (req,) = (await prepare("x aspect=16:9 res=2k", files)).requests
    assert req.aspect == "16:9" and req.size[0] * 9 // 16 - req.size[1] in range(-16, 17)
    (req,) = (await prepare("x size=1024x1536", files)).requests
    assert req.size == (1024, 1536) and req.aspect == "2:3"


async def test_mode_each_makes_a_request_per_image_and_sums_the_estimate():
    files = [
        InputFile("wide.png", solid((200, 30, 30), (300, 200))),
        InputFile("tall.png", solid((200, 30, 30), (200, 300))),
    ]
    prepared = await prepare("make it night mode=each", files, provider=ProviderName.WAVESPEED)
    assert prepared.options.mode is Mode.EACH
    assert [len(r.images) for r in prepared.requests] == [1, 1]
    # Each request follows its own image's aspect.
    assert [r.aspect for r in prepared.requests] == ["3:2", "2:3"]
    singles = [
        estimate(provider=ProviderName.WAVESPEED, request=r, table=TABLE).micros
        for r in prepared.requests
    ]
    assert prepared.estimate.micros == sum(singles) == 2 * 60_000


async def test_a_png_named_mask_is_taken_as_the_mask_and_resized_to_the_first_image():
    files = [
        InputFile("photo.png", solid((200, 30, 30), (400, 300))),
        InputFile("my-mask.png", mask((200, 150))),
    ]
    prepared = await prepare("replace the left half with sea", files)
    (req,) = prepared.requests
    assert stems(req.images) == ["photo"]
    assert req.mask is not None
    assert (req.mask.width, req.mask.height) == (400, 300)
    with Image.open(io.BytesIO(req.mask.data)) as m:
        assert m.size == (400, 300)
        alpha = m.convert("RGBA").getchannel("A")
        assert alpha.getpixel((10, 150)) == 0 and alpha.getpixel((390, 150)) == 255
    # The mask is an input too: the estimate is higher than without it.
    without = await prepare("replace the left half with sea", files[:1])
    assert prepared.estimate.micros > without.estimate.micros


async def test_mask_by_index():
    files = [
        InputFile("m.png", mask((64, 64))),
        InputFile("photo.png", solid((200, 30, 30), (128, 128))),
    ]
    (req,) = (await prepare("edit mask=1", files)).requests
    assert stems(req.images) == ["photo"]
    assert req.mask is not None and (req.mask.width, req.mask.height) == (128, 128)


async def test_mask_index_out_of_range_is_an_option_error():
    files = [
        InputFile("a.png", solid((200, 30, 30), (64, 64))),
        InputFile("b.png", solid((200, 30, 30), (64, 64))),
    ]
    with pytest.raises(OptionError, match="mask=3.*2 files"):
        await prepare("edit mask=3", files)


async def test_mask_with_mode_each_is_a_conflict():
    files = [InputFile("a.png", solid((200, 30, 30), (64, 64))), InputFile("m.png", mask((64, 64)))]
    with pytest.raises(OptionError, match="mode=each"):
        await prepare("edit mask=2 mode=each", files)


async def test_no_images_says_to_attach_one():
    with pytest.raises(UserInputError, match="[Aa]ttach"):
        await prepare("edit", [])


async def test_only_a_mask_says_to_attach_the_image_too():
    with pytest.raises(UserInputError, match="mask"):
        await prepare("edit mask=1", [InputFile("m.png", mask((64, 64)))])


async def test_more_than_16_inputs_are_refused_before_any_decoding():
    # Not images at all: the count check must come first, or this would be an ImageRejected.
    files = [InputFile(f"{i}.png", b"junk") for i in range(MAX_INPUTS + 1)]
    with pytest.raises(UserInputError, match="at most 16") as info:
        await prepare("edit", files)
    assert not isinstance(info.value, ImageRejected)


async def test_a_non_image_file_is_rejected_by_name():
    files = [InputFile("notes.txt", b"hello, this is text and not an image at all\n" * 4)]
    with pytest.raises(ImageRejected, match="notes.txt"):
        await prepare("edit", files)


async def test_bad_options_surface_as_user_input_errors():
    with pytest.raises(UserInputError):
        await prepare("edit qualty=high", [InputFile("a.png", solid((200, 30, 30), (64, 64)))])


async def test_n_is_capped_by_settings():
    files = [InputFile("a.png", solid((200, 30, 30), (64, 64)))]
    with pytest.raises(OptionError):
        await prepare("edit n=3", files, settings=make_settings(EDITBOT_MAX_N=2))


async def test_prepare_from_images_reuses_normalized_versions():
    first = await prepare("x", [InputFile("a.png", solid((200, 30, 30), (300, 200)))])
    again = prepare_from_images(
        prompt="now add snow",
        options=first.options,
        images=first.inputs,
        mask=None,
        provider=ProviderName.OPENAI,
        table=TABLE,
    )
    (req,) = again.requests
    assert req.prompt == "now add snow"
    assert req.images == first.inputs
    assert req.size == (1536, 1024)
