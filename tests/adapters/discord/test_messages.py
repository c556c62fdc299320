"""Mentions through the real EditBot, driven by dpytest: triggers 1-3 and the message scenarios."""

from __future__ import annotations

import io
import pathlib

import discord.ext.test as dpytest
from PIL import Image

from tests.kit.discord.backend import image_attachment, make_thread, post_message, settle
from tests.kit.discord.rig import Rig, rig_fixture, start_rig  # noqa: F401
from tests.kit.images import noise, pixel_at, solid, write
from tests.kit.settings import make_settings


def mention(rig: Rig, text: str) -> str:
    assert rig.bot.user is not None
    return f"<@{rig.bot.user.id}> {text}"


async def sent_messages() -> list:
    out = []
    while not dpytest.sent_queue.empty():
        out.append(await dpytest.sent_queue.get())
    return out


async def test_mention_with_image_posts_inverted_result_in_a_new_thread(
    rig: Rig, tmp_path: pathlib.Path
) -> None:
    path = write(tmp_path, "shoe.png", solid((10, 200, 30), (8, 6)))
    msg = post_message(
        mention(rig, "make it pop quality=high"),
        channel=rig.channel,
        author=rig.member,
        attachments=[image_attachment(path)],
    )
    await settle()

    [edit] = rig.service.accepted
    assert edit.text == "make it pop quality=high"
    assert edit.event_key == f"discord:{msg.id}"
    assert edit.message_id == str(msg.id)
    assert edit.place.platform == "discord"
    assert edit.place.workspace == str(rig.channel.guild.id)
    assert edit.place.channel == str(rig.channel.id)
    assert edit.place.user == str(rig.member.id)
    assert edit.place.thread is None
    # The thread is opened on the request message, named from the prompt.
    assert rig.threads_opened == [(msg.id, "make it pop quality=high")]

    sent = await sent_messages()
    status, result = sent[0], sent[1]
    assert status.content == "queued (0 ahead)"
    assert result.content.startswith("v1 · make it pop")
    [file] = result.attachments
    assert pixel_at(pathlib.Path(file.url.removeprefix("file://")).read_bytes()) == (245, 55, 225)
    # Buttons carry the job id in their custom_id.
    job = rig.service.job_ids[-1]
    assert rig.http.custom_ids() == [
        f"editbot:retry:{job}",
        f"editbot:undo:{job}",
        f"editbot:hq:{job}",
    ]
    # The status message was edited in place (not a new message).
    edited_ids = [mid for mid, _ in rig.http.edits]
    assert status.id in edited_ids
    assert rig.http.edits[-1][1]["content"] == "done: v1 of shoe.png"


async def test_reply_mention_uses_the_replied_messages_images(
    rig: Rig, tmp_path: pathlib.Path
) -> None:
    path = write(tmp_path, "poster.png", solid((0, 0, 0), (8, 6)))
    original = post_message(
        "here is the poster",
        channel=rig.channel,
        author=rig.member,
        attachments=[image_attachment(path)],
    )
    await settle()
    assert rig.service.accepted == []  # no mention: nothing happens

    post_message(
        mention(rig, "add snow"), channel=rig.channel, author=rig.member, reply_to=original
    )
    await settle()

    [edit] = rig.service.accepted
    assert [a.name for a in edit.attachments] == ["poster.png"]
    result = (await sent_messages())[1]
    data = pathlib.Path(result.attachments[0].url.removeprefix("file://")).read_bytes()
    assert pixel_at(data) == (255, 255, 255)


async def test_mention_in_edit_thread_refines_with_thread_place(
    rig: Rig, tmp_path: pathlib.Path
) -> None:
    assert rig.bot.user is not None
    thread = make_thread(rig.channel, owner_id=rig.bot.user.id, name="make it pop")
    path = write(tmp_path, "v1.png", solid((100, 100, 100), (8, 6)))
    # editbot's earlier result lives in the thread.
    post_message("v1", channel=thread, author=rig.bot.user, attachments=[image_attachment(path)])
    post_message(mention(rig, "warmer light"), channel=thread, author=rig.member)
    await settle()

    [edit] = rig.service.accepted
    assert edit.attachments == ()
    assert edit.place.thread == str(thread.id)
    assert edit.place.channel == str(rig.channel.id)  # budgets stay per parent channel
    assert rig.threads_opened == []  # already in a thread: no new one
    sent = await sent_messages()
    assert all(m.channel.id == thread.id for m in sent)
    result = sent[1]
    data = pathlib.Path(result.attachments[0].url.removeprefix("file://")).read_bytes()
    assert pixel_at(data) == (155, 155, 155)  # the thread's current version, inverted


async def test_messages_from_bots_never_trigger(rig: Rig, tmp_path: pathlib.Path) -> None:
    assert rig.bot.user is not None
    path = write(tmp_path, "a.png", solid((1, 2, 3), (8, 6)))
    post_message(
        mention(rig, "edit yourself"),
        channel=rig.channel,
        author=rig.bot.user,
        attachments=[image_attachment(path)],
    )
    await settle()
    assert rig.service.accepted == []
    assert await sent_messages() == []


async def test_duplicate_event_does_nothing_twice(rig: Rig, tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "a.png", solid((1, 2, 3), (8, 6)))
    msg = post_message(
        mention(rig, "x"),
        channel=rig.channel,
        author=rig.member,
        attachments=[image_attachment(path)],
    )
    await settle()
    await rig.bot.on_message(msg)  # a gateway replay of the same MESSAGE_CREATE
    await settle()
    assert len(rig.service.accepted) == 1


async def last_status_text(rig: Rig) -> str:
    return str(rig.http.edits[-1][1]["content"])


async def test_budget_exhausted_is_told_in_the_thread(tmp_path: pathlib.Path) -> None:
    rig = await start_rig(make_settings(), budget_left_micros=0)
    try:
        path = write(tmp_path, "a.png", solid((1, 2, 3), (8, 6)))
        post_message(
            mention(rig, "x"),
            channel=rig.channel,
            author=rig.member,
            attachments=[image_attachment(path)],
        )
        await settle()
        assert "budget is used up" in await last_status_text(rig)
        assert len(await sent_messages()) == 1  # the status only: no result
    finally:
        await dpytest.empty_queue()


async def test_non_image_gets_a_message_and_no_result(rig: Rig, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a picture")
    post_message(
        mention(rig, "x"),
        channel=rig.channel,
        author=rig.member,
        attachments=[image_attachment(path, content_type="text/plain")],
    )
    await settle()
    # The core's own intake said it (the fake service runs it): plain words, nothing charged.
    assert await last_status_text(rig) == (
        "'notes.txt' is plain text, not an image editbot can use. Attach a PNG, JPEG, WebP or GIF."
    )
    assert len(await sent_messages()) == 1


async def test_too_large_upload_is_refused_before_reading(tmp_path: pathlib.Path) -> None:
    rig = await start_rig(make_settings(EDITBOT_MAX_INPUT_BYTES=1000))
    try:
        # The file does not exist: reading it would raise, so refusing shows no read happened.
        missing = tmp_path / "huge.png"
        write(tmp_path, "huge.png", solid((0, 0, 0), (8, 6)))
        attachment = image_attachment(missing, size=5_000_000)
        missing.unlink()
        post_message(
            mention(rig, "x"), channel=rig.channel, author=rig.member, attachments=[attachment]
        )
        await settle()
        assert await last_status_text(rig) == "huge.png is 4.8 MB; the limit is 0.0 MB."
    finally:
        await dpytest.empty_queue()


async def test_attachment_off_discords_cdn_is_not_downloaded(
    rig: Rig, tmp_path: pathlib.Path
) -> None:
    path = write(tmp_path, "a.png", solid((1, 2, 3), (8, 6)))
    post_message(
        mention(rig, "x"),
        channel=rig.channel,
        author=rig.member,
        attachments=[image_attachment(path, host="evil.example")],
    )
    await settle()
    assert await last_status_text(rig) == (
        "a.png isn't on Discord's CDN, so editbot won't download it. Nothing was charged. "
        "Attach the image to your message itself and try again."
    )


async def test_result_over_the_upload_limit_is_reencoded_and_said(
    tmp_path: pathlib.Path,
) -> None:
    # Noise does not compress: as PNG it is over Discord's 10 MiB, as WebP/JPEG it fits.
    big = noise(1900)
    assert len(big) > 10 * 1024 * 1024
    rig = await start_rig(make_settings(), result_override=big)
    try:
        path = write(tmp_path, "a.png", solid((1, 2, 3), (8, 6)))
        post_message(
            mention(rig, "sharpen"),
            channel=rig.channel,
            author=rig.member,
            attachments=[image_attachment(path)],
        )
        await settle()
        result = (await sent_messages())[1]
        assert result.content.endswith("(sent as WebP to fit Discord's 10 MB limit)")
        [file] = result.attachments
        assert file.filename == "edit-v1.webp"
        data = pathlib.Path(file.url.removeprefix("file://")).read_bytes()
        assert len(data) <= 10 * 1024 * 1024
        with Image.open(io.BytesIO(data)) as im:
            assert (im.format, im.size) == ("WEBP", (1900, 1900))
    finally:
        await dpytest.empty_queue()
