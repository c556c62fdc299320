"""Mentions, file_share messages, retries and signatures through the real AsyncApp over HTTP."""

from __future__ import annotations

import io
import time

from PIL import Image

from tests.kit.images import split
from tests.kit.slack.api import BOT_USER_ID
from tests.kit.slack.harness import (
    CHANNEL,
    event_callback,
    file_object,
    file_share,
    mention,
    slack_harness,
)

TS = "1699999999.000100"


def close(a: object, b: tuple[int, ...], tol: int = 3) -> bool:
    """Pixels equal within a few levels (intake re-encodes)."""
    assert isinstance(a, tuple)
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def uploaded_image(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


async def test_mention_with_image_gets_inverted_result_in_its_thread() -> None:
    async with slack_harness() as h:
        h.api.files["photo.png"] = split((64, 48))
        body = event_callback(mention("make it moody", files=[file_object(h.api, "photo.png")]))

        resp = await h.post(body)

        assert resp.status_code == 200
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        upload = h.api.uploads[0]
        assert (upload.channel, upload.thread_ts) == (CHANNEL, TS)
        assert upload.initial_comment == "v1 · make it moody"
        assert upload.alt_txt == "make it moody"
        im = uploaded_image(upload.data)
        assert im.size == (64, 48)
        assert close(im.getpixel((0, 0)), (0, 255, 255))  # red inverted
        assert close(im.getpixel((63, 47)), (255, 255, 0))  # blue inverted
        # The download carried the bot token; the status and buttons went to the same thread.
        assert h.api.download_requests == [("photo.png", "Bearer xoxb-test-token")]
        buttons = [m for m in h.api.named("chat.postMessage") if "blocks" in m]
        assert all(m["thread_ts"] == TS for m in buttons)
        assert any(
            '"editbot:retry"' in str(m["blocks"]) or "editbot:retry" in str(m["blocks"])
            for m in buttons
        )
        assert h.metrics.counter("slack_events_total").value(kind="app_mention") == 1


async def test_app_mention_and_file_share_for_one_post_make_one_edit() -> None:
    async with slack_harness() as h:
        h.api.files["photo.png"] = split((64, 48))
        files = [file_object(h.api, "photo.png")]
        share = file_share(f"<@{BOT_USER_ID}> brighter", files=files)

        await h.post(event_callback(share, event_id="Ev-share"))
        await h.post(event_callback(mention("brighter", files=files), event_id="Ev-mention"))

        await h.api.wait_for(lambda: len(h.service.duplicates) == 1)
        [accepted] = h.service.accepted
        assert h.service.duplicates == [accepted.event_key]
        assert accepted.event_key == f"slack:T0001:{CHANNEL}:{TS}"
        await h.api.wait_for(lambda: len(h.service.finished) == 1)


async def test_file_share_without_mention_is_ignored() -> None:
    async with slack_harness() as h:
        h.api.files["photo.png"] = split((64, 48))
        share = file_share("just a photo", files=[file_object(h.api, "photo.png")])
        resp = await h.post(event_callback(share))
        assert resp.status_code == 200
        # A mention afterwards is processed, so the first event really was dropped, not queued.
        await h.post(event_callback(mention("go", ts="1699999999.000200"), event_id="Ev2"))
        await h.api.wait_for(lambda: len(h.service.accepted) == 1)
        assert h.service.accepted[0].event_key.endswith("1699999999.000200")


async def test_retry_storm_makes_one_edit() -> None:
    async with slack_harness() as h:
        h.api.files["photo.png"] = split((64, 48))
        body = event_callback(mention("again", files=[file_object(h.api, "photo.png")]))
        for n in range(3):
            headers = {"x-slack-retry-num": str(n), "x-slack-retry-reason": "http_timeout"}
            resp = await h.post(body, headers=headers if n else None)
            assert resp.status_code == 200
        await h.api.wait_for(lambda: len(h.service.duplicates) == 2)
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        assert len(h.service.accepted) == 1
        assert len(h.api.download_requests) == 1


async def test_mention_in_thread_without_files_uses_newest_thread_image() -> None:
    async with slack_harness() as h:
        root = "1699999000.000001"
        h.api.files["old.png"] = split((32, 32))
        h.api.files["new.png"] = split((40, 20))
        h.api.add_thread_message(
            CHANNEL, root, {"ts": root, "files": [file_object(h.api, "old.png")]}
        )
        h.api.add_thread_message(
            CHANNEL,
            root,
            {
                "ts": "1699999000.000002",
                "thread_ts": root,
                "files": [file_object(h.api, "new.png")],
            },
        )
        await h.post(event_callback(mention("now in blue", thread_ts=root)))

        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        [edit] = h.service.accepted
        assert edit.attachments == ()
        assert edit.place.thread == root
        assert h.api.named("conversations.replies")[0]["ts"] == root
        assert uploaded_image(h.api.uploads[0].data).size == (40, 20)
        assert h.api.uploads[0].thread_ts == root


async def test_bad_signature_is_401_and_does_nothing() -> None:
    async with slack_harness() as h:
        body = event_callback(mention("x"))
        resp = await h.post(body, secret="not-the-secret")
        assert resp.status_code == 401
        assert h.service.accepted == []


async def test_stale_timestamp_is_401() -> None:
    async with slack_harness() as h:
        body = event_callback(mention("x"))
        resp = await h.post(body, timestamp=int(time.time()) - 10 * 60)
        assert resp.status_code == 401
        assert h.service.accepted == []


async def test_pdf_gets_the_cores_message_in_the_thread() -> None:
    async with slack_harness() as h:
        h.api.files["doc.pdf"] = b"%PDF-1.7\n" + b"x" * 100
        f = file_object(h.api, "doc.pdf", mimetype="application/pdf")
        await h.post(event_callback(mention("edit", files=[f])))
        await h.api.wait_calls("chat.update")
        [update] = h.api.named("chat.update")
        assert "PDF" in update["text"]
        assert h.api.uploads == []


async def test_html_login_page_names_the_files_read_scope() -> None:
    async with slack_harness() as h:
        h.api.files["photo.png"] = split((64, 48))
        f = file_object(h.api, "photo.png")
        h.api.files_read_scope = False
        await h.post(event_callback(mention("edit", files=[f])))
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        assert h.api.download_requests == [("photo.png", "Bearer xoxb-test-token")]
        [update] = h.api.named("chat.update")
        assert "files:read" in update["text"]
        [status] = h.api.named("chat.postMessage")
        assert status["thread_ts"] == TS
        assert h.api.uploads == []
