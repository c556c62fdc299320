"""SlackChatPort against the fake Web API: threads, throttled updates, 429s, restarts."""

from __future__ import annotations

import asyncio
import io

import httpx
from PIL import Image

from adapters.slack.app import build_slack_client
from adapters.slack.chat import SlackChatPort
from adapters.slack.downloads import SlackDownloader, allowed_hosts
from bot.core.domain import Place
from bot.core.ports import Action, ActionButton, MessageRef, ResultImage
from tests.kit.images import invert, split
from tests.kit.settings import make_settings
from tests.kit.slack.api import FakeSlackApi
from tests.kit.slack.harness import (
    CHANNEL,
    TOKEN,
    event_callback,
    file_object,
    mention,
    slack_env,
    slack_harness,
)


class FakeClock:
    """Time that moves only when something sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def port(api: FakeSlackApi, http: httpx.AsyncClient, **kw: object) -> SlackChatPort:
    settings = make_settings(**slack_env(api))
    downloader = SlackDownloader(
        http=http, token=TOKEN, max_bytes=10**6, hosts=allowed_hosts(api.api_url)
    )
    return SlackChatPort(client=build_slack_client(settings), downloader=downloader, **kw)  # type: ignore[arg-type]


PLACE = Place(platform="slack", workspace="T0001", channel=CHANNEL, user="U1", thread="111.222")


async def test_updates_are_coalesced_to_one_per_five_seconds_and_the_last_lands() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        clock = FakeClock()
        chat = port(api, http, clock=clock, sleep=clock.sleep, update_interval=5.0)
        ref = await chat.post_text(PLACE, "queued")

        await chat.update_text(ref, "editing... 1s")  # sent: nothing sent for this message yet
        clock.now += 1
        await chat.update_text(ref, "editing... 2s")  # within 5 s: held
        await chat.update_text(ref, "editing... 3s")  # replaces the held text
        assert [u["text"] for u in api.named("chat.update")] == ["editing... 1s"]

        await chat.flush()
        assert [u["text"] for u in api.named("chat.update")] == ["editing... 1s", "editing... 3s"]
        assert clock.now == 1005.0
        clock.now += 10
        await chat.update_text(ref, "done", actions=[ActionButton(Action.RETRY, "j1", "Retry")])
        updates = api.named("chat.update")
        assert [u["text"] for u in updates][-1] == "done"
        assert all(u["ts"] == ref.message_id and u["channel"] == CHANNEL for u in updates)
        assert "editbot:retry" in str(updates[-1]["blocks"])


async def test_429_on_post_message_is_waited_out_and_the_message_arrives() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        api.faults["chat.postMessage"] = [(429, 0)]
        ref = await port(api, http).post_text(PLACE, "hello")
        assert [c.method for c in api.calls] == ["chat.postMessage:fault", "chat.postMessage"]
        assert api.named("chat.postMessage")[0]["text"] == "hello"
        assert ref.message_id.startswith("1700000000.")


async def test_open_thread_uses_the_anchor_or_posts_a_root() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        chat = port(api, http)
        bare = Place(platform="slack", workspace="T0001", channel=CHANNEL, user="U1")
        assert (await chat.open_thread(bare, title="t", anchor="5.5")).thread == "5.5"
        assert api.calls == []
        opened = await chat.open_thread(bare, title="Edit: a cat")
        [root] = api.named("chat.postMessage")
        assert root["text"] == "Edit: a cat" and "thread_ts" not in root
        assert opened.thread is not None and opened.thread.startswith("1700000000.")


async def test_post_images_uploads_into_the_thread_with_alt_text_and_buttons() -> None:
    async with FakeSlackApi(token=TOKEN) as api, httpx.AsyncClient() as http:
        png, w, h = invert(split((30, 20)))
        ref = await port(api, http).post_images(
            PLACE,
            images=[ResultImage(png, "image/png", "v2.png", w, h)],
            caption="v2 · quality=high · $0.21",
            alt_text="a red boat",
            actions=[ActionButton(Action.UNDO, "job-9", "Undo")],
        )
        [up] = api.uploads
        assert (up.channel, up.thread_ts, up.initial_comment, up.alt_txt) == (
            CHANNEL,
            "111.222",
            "v2 · quality=high · $0.21",
            "a red boat",
        )
        assert Image.open(io.BytesIO(up.data)).size == (30, 20)
        [buttons] = api.named("chat.postMessage")
        assert buttons["thread_ts"] == "111.222" and "job-9" in str(buttons["blocks"])
        assert isinstance(ref, MessageRef) and ref.place == PLACE


async def test_restart_mid_job_still_delivers_into_the_original_thread() -> None:
    async with slack_harness(hold=True) as h:
        h.api.files["photo.png"] = split((24, 24))
        thread_root = "1699999998.000001"
        event = mention(
            "warmer",
            ts="1699999998.000009",
            thread_ts=thread_root,
            files=[file_object(h.api, "photo.png")],
        )
        await h.post(event_callback(event))
        await h.api.wait_for(lambda: len(h.service.accepted) == 1)
        saved = h.service.accepted[0]  # what the job row keeps: the Place and the inputs
        saved_place, saved_input = saved.place, await saved.attachments[0].fetch()

    # A new process: a new fake Slack connection, a new client, a new ChatPort; only the Place.
    async with slack_harness() as after:
        png, w, hgt = invert(saved_input)
        result = ResultImage(png, "image/png", "edit-v1.png", w, hgt)
        await after.service.deliver(saved_place, prompt=saved.text, result=result, job_id="job-1")
        [up] = after.api.uploads
        assert (up.channel, up.thread_ts) == (CHANNEL, thread_root)
        assert up.initial_comment == "v1 · warmer"
