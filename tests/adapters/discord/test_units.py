"""Pure pieces of the Discord adapter: option picks, titles, re-encoding, download guards."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from adapters.discord.buttons import custom_id
from adapters.discord.chat import THREAD_NAME_MAX
from adapters.discord.downloads import CdnDownloads
from adapters.discord.fit import fit_images, reencode_to_fit
from adapters.discord.translate import command_picks, prompt_text
from bot.core.domain import EditOptions, OptionPicks, Quality, Resolution
from bot.core.errors import ImageRejected
from bot.core.messages import thread_title
from bot.core.options import parse_options
from bot.core.ports import Action, ResultImage
from tests.kit.images import noise


def test_command_picks_reach_the_core_parser_as_data() -> None:
    picks = command_picks(quality="high", aspect="4:5", resolution="2k", n=3)
    assert picks == OptionPicks(quality=Quality.HIGH, aspect="4:5", resolution=Resolution.R2K, n=3)
    prompt, parsed = parse_options("swap the background", max_n=4, picks=picks)
    expected = EditOptions(quality=Quality.HIGH, aspect="4:5", resolution=Resolution.R2K, n=3)
    assert (prompt, parsed) == ("swap the background", expected)
    unpicked = command_picks(quality=None, aspect="auto", resolution=None, n=None)
    assert unpicked == OptionPicks()
    assert parse_options("x", picks=unpicked) == ("x", EditOptions())


def test_prompt_text_strips_both_mention_forms() -> None:
    assert prompt_text("<@42> make it <@!42>  pop <@7>", bot_user_id=42) == "make it pop <@7>"


def test_thread_title_fits_discords_100_characters() -> None:
    assert thread_title("  a   b ", limit=THREAD_NAME_MAX) == "a b"
    long = thread_title("word " * 50, limit=THREAD_NAME_MAX)
    assert len(long) <= 100 and long.endswith("...")
    assert len(thread_title("word " * 50)) <= 80


def test_custom_id_refuses_ids_the_template_cannot_route() -> None:
    assert custom_id(Action.CONFIRM, "ab12") == "editbot:confirm:ab12"
    for bad in ("AB-12", "x" * 99):
        try:
            custom_id(Action.RETRY, bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_reencode_steps_down_to_jpeg_and_shrinks_when_webp_is_not_enough() -> None:
    data = noise(256)
    image = ResultImage(data, "image/png", "r.png", 256, 256)
    fitted, label = reencode_to_fit(image, limit=len(data) // 20)
    assert len(fitted.data) <= len(data) // 20
    assert label in ("WebP", "JPEG")
    with Image.open(io.BytesIO(fitted.data)) as im:
        assert im.format == {"WebP": "WEBP", "JPEG": "JPEG"}[label]


async def test_fit_leaves_small_images_untouched() -> None:
    image = ResultImage(noise(32), "image/png", "s.png", 32, 32)
    fitted = await fit_images([image], limit=10 * 1024 * 1024)
    assert fitted.images == (image,) and fitted.note(10 * 1024 * 1024) == ""


class _FakeAttachment:
    """Shaped like discord.Attachment; counts reads so a refused download shows none happened."""

    def __init__(self, url: str, size: int, data: bytes) -> None:
        self.url, self.size, self.filename, self.content_type = url, size, "p.png", "image/png"
        self._data, self.reads = data, 0

    async def read(self) -> bytes:
        self.reads += 1
        return self._data


async def test_downloads_check_host_and_size_before_reading() -> None:
    downloads = CdnDownloads.create(max_bytes=100, extra_hosts=["files.test"])
    cases = [
        ("https://cdn.discordapp.com/a/p.png", 10, b"x" * 10, None),
        ("https://media.discordapp.net/a/p.png", 10, b"x" * 10, None),
        ("https://files.test/a/p.png", 10, b"x" * 10, None),
        ("https://evil.example/a/p.png", 10, b"x" * 10, "isn't on Discord's CDN"),
        ("https://cdn.discordapp.com.evil.example/p.png", 10, b"", "isn't on Discord's CDN"),
        ("https://cdn.discordapp.com/a/p.png", 101, b"x" * 101, "the limit is"),
        # The event said 10 bytes but more arrived: still refused.
        ("https://cdn.discordapp.com/a/p.png", 10, b"x" * 500, "the limit is"),
    ]
    for url, size, data, error in cases:
        source = _FakeAttachment(url, size, data)
        attachment = downloads.attachment(source)  # type: ignore[arg-type]
        assert source.reads == 0  # nothing is read until the core asks
        try:
            got = await attachment.fetch()
        except ImageRejected as exc:
            assert error and error in str(exc), (url, exc)
            refused_before_read = size > 100 or "CDN" in error
            assert source.reads == (0 if refused_before_read else 1)
        else:
            assert error is None and got == data


def test_reencode_runs_off_the_event_loop() -> None:
    # fit_images hands Pillow work to a thread: the loop keeps ticking meanwhile.
    async def main() -> int:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        data = noise(512)
        await fit_images([ResultImage(data, "image/png", "n.png", 512, 512)], limit=len(data) // 4)
        task.cancel()
        return ticks

    assert asyncio.run(main()) > 3
