"""SlackChatPort's live status and one-message results against the fake Web API."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from adapters.slack.chat import CHANNEL_GAP_S, WORKSPACE_GAP_S
from bot.core.domain import Place
from bot.core.ports import Action, ActionButton, ResultImage
from tests.adapters.slack.test_chat import FakeClock, port
from tests.kit.images import split
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import CHANNEL, TOKEN

PLACE = Place(platform="slack", workspace="T0001", channel=CHANNEL, user="U0001", thread="111.222")


def preview(data: bytes) -> ResultImage:
    return ResultImage(data=data, mime="image/jpeg", filename="p.jpg", width=320, height=256)


async def test_status_updates_share_the_channels_pace() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        clock = FakeClock()
        chat = port(api, http, clock=clock, sleep=clock.sleep)
        one = await chat.post_text(PLACE, "Queued - yours is next.")
        two = await chat.post_text(PLACE, "Queued - 1 edit ahead of yours.")
        await chat.update_status(one, "Editing... 0s")
        await chat.update_status(two, "Editing... 0s")  # the same channel: a second later
        assert len(api.named("chat.update")) == 1
        await chat.flush()
        assert [u["ts"] for u in api.named("chat.update")] == [one.message_id, two.message_id]
        assert clock.now == 1000.0 + max(CHANNEL_GAP_S, WORKSPACE_GAP_S)
        # Another channel of the same workspace waits for the workspace's pace too.
        other = await chat.post_text(replace(PLACE, channel="C0002"), "Queued")
        start = clock.now
        await chat.update_status(other, "Editing... 0s")
        await chat.flush()
        assert api.named("chat.update")[-1]["ts"] == other.message_id
        assert clock.now == start + WORKSPACE_GAP_S


async def test_a_preview_is_uploaded_once_privately_and_shown_as_an_image_block() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        chat = port(api, http, update_interval=0.0)
        status = await chat.post_text(PLACE, "Queued - yours is next.")
        first = preview(split((320, 256), fmt="JPEG"))
        await chat.update_status(status, "Editing... 1s (preview 1)", preview=first)
        await chat.flush()
        await chat.update_status(status, "Editing... 5s (preview 1)", preview=first)
        await chat.flush()
        [upload] = api.uploads  # the same preview is not uploaded again
        assert upload.channel is None and upload.data == first.data  # private: no share
        for update in api.named("chat.update"):
            image = update["blocks"][-1]
            assert image["type"] == "image" and image["slack_file"] == {"id": upload.file_id}
        assert api.bot_messages(CHANNEL, "111.222")[0]["text"] == "Editing... 5s (preview 1)"
        # A newer preview replaces the file; the status's removal deletes the last one too.
        second = preview(split((256, 320), fmt="JPEG"))
        await chat.update_status(status, "Editing... 6s (preview 2)", preview=second)
        await chat.flush()
        assert api.deleted_files == [upload.file_id]
        await chat.post_result(PLACE, text="v1", notify="U0001", replaces=status)
        assert api.deleted_files == [upload.file_id, api.uploads[-1].file_id]


async def test_a_result_is_one_file_share_with_blocks_and_the_status_is_deleted() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        never = asyncio.Event()

        async def held(seconds: float) -> None:
            await never.wait()  # the held update's time has not come when the result lands

        chat = port(api, http, clock=FakeClock(), sleep=held)
        status = await chat.post_text(PLACE, "Queued - yours is next.")
        await chat.update_status(status, "Editing... 0s")
        await chat.update_status(status, "Editing... 3s")  # held back: pending when replaced
        image = ResultImage(
            data=split(), mime="image/png", filename="pop-v1.png", width=320, height=256
        )
        await chat.post_result(
            PLACE,
            text="v1 · make it <b> pop",
            images=[image],
            alt_text="make it pop",
            actions=[ActionButton(Action.RETRY, "j1", "Retry")],
            notify="U0001",
            replaces=status,
        )
        await chat.flush()
        [message] = api.bot_messages(CHANNEL, "111.222")
        [shared] = api.uploads
        assert message["files"][0]["id"] == shared.file_id and shared.data == image.data
        section, actions = message["blocks"]
        # The requester is mentioned (notified); other text stays escaped.
        assert section["text"]["text"] == "<@U0001> v1 · make it &lt;b&gt; pop"
        assert actions["elements"][0]["value"] == "j1"
        assert [d["ts"] for d in api.named("chat.delete")] == [status.message_id]
        assert [u["text"] for u in api.named("chat.update")] == ["Editing... 0s"]


async def test_a_failure_is_a_new_text_message_with_retry_that_mentions_the_requester() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        chat = port(api, http)
        status = await chat.post_text(PLACE, "Queued - yours is next.")
        await chat.post_result(
            PLACE,
            text="The image service failed; nothing was charged.",
            actions=[ActionButton(Action.RETRY, "j1", "Retry")],
            notify="U0001",
            replaces=status,
        )
        [message] = api.bot_messages(CHANNEL, "111.222")
        assert message["text"].startswith("<@U0001> The image service failed")
        assert message["blocks"][1]["elements"][0]["action_id"] == "editbot:retry"
        # Deleting a status message that is gone already does not fail the delivery.
        await chat.post_result(PLACE, text="again", notify="U0001", replaces=status)
