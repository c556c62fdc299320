"""`/edit <prompt>` on the channel's latest image, and the /edit modal, through the real
AsyncApp."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlmodel import select

from adapters.slack.edit_modal import CHOOSE_ACTION, NO_IMAGE
from adapters.slack.views import COMMAND_VIEW
from bot.core.domain import EditOptions, Quality
from bot.core.options import parse_options
from storage.models import EditThread
from tests.kit.images import split
from tests.kit.slack.api import BOT_USER_ID, TEAM_ID
from tests.kit.slack.e2e import real_slack
from tests.kit.slack.harness import CHANNEL, USER, Harness, file_object, slack_harness, view_state

OTHER = "U0002"


def image_post(h: Harness, name: str, *, user: str, ago_s: float) -> str:
    """A person's post of `name` at the top of the channel, `ago_s` seconds ago; its ts."""
    h.api.files[name] = split((40, 30))
    ts = f"{time.time() - ago_s:.6f}"
    h.api.post_in_channel(
        CHANNEL,
        {"type": "message", "user": user, "ts": ts, "files": [file_object(h.api, name)]},
    )
    return ts


async def opened_view(h: Harness, count: int = 1) -> dict[str, Any]:
    await h.api.wait_calls("views.open", count)
    view = h.api.named("views.open")[-1]["view"]
    return json.loads(view) if isinstance(view, str) else view


def block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b["block_id"] == block_id)


def submission(view: dict[str, Any], *, view_id: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": USER},
        "view": {**view, "id": view_id, "state": state},
    }


async def test_edit_after_an_image_edits_it_in_its_thread_with_a_note_and_no_modal() -> None:
    async with slack_harness() as h:
        ts = image_post(h, "IMG_2041.png", user=USER, ago_s=70)
        resp = await h.command("/edit", "make it warmer")
        assert resp.status_code == 200

        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        assert h.api.named("views.open") == []
        [edit] = h.service.accepted
        assert (edit.place.thread, edit.message_id, edit.text) == (ts, ts, "make it warmer")
        [up] = h.api.uploads
        assert (up.channel, up.thread_ts) == (CHANNEL, ts)  # the result is in the image's thread
        # The fake core inverts what it was given: the result comes from the posted image.
        assert h.api.download_requests[0][0] == "IMG_2041.png"
        [note] = h.api.named("chat.postEphemeral")
        assert note["user"] == USER and note["text"] == "Editing IMG_2041.png, posted 1 min ago."
        blocks = json.loads(note["blocks"]) if isinstance(note["blocks"], str) else note["blocks"]
        [button] = blocks[1]["elements"]
        assert button["action_id"] == CHOOSE_ACTION and button["value"] == "make it warmer"
        history = h.api.named("conversations.history")[0]
        assert history["channel"] == CHANNEL and float(history["oldest"]) > time.time() - 1900


async def test_the_callers_own_image_comes_before_a_newer_one_of_someone_else() -> None:
    async with slack_harness() as h:
        own = image_post(h, "mine.png", user=USER, ago_s=600)
        image_post(h, "theirs.png", user=OTHER, ago_s=30)
        await h.command("/edit", "add a hat")
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        assert h.service.accepted[0].place.thread == own

    async with slack_harness() as h:
        theirs = image_post(h, "theirs.png", user=OTHER, ago_s=30)
        image_post(h, "budget.png", user=BOT_USER_ID, ago_s=5)  # editbot's own: never edited
        await h.command("/edit", "add a hat")
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        assert h.service.accepted[0].place.thread == theirs


async def test_no_recent_image_opens_the_modal_with_distinct_labels() -> None:
    async with slack_harness() as h:
        image_post(h, "old.png", user=USER, ago_s=3600)  # older than 30 minutes
        await h.command("/edit", "make it warmer")
        view = await opened_view(h)
        assert view["callback_id"] == COMMAND_VIEW and h.service.accepted == []
        ids = [b["block_id"] for b in view["blocks"]]
        assert ids == ["images", "prompt", "quality", "aspect", "resolution", "n"]
        assert block(view, "images")["optional"] is True
        labels = [b["label"]["text"] for b in view["blocks"]]
        assert len(set(labels)) == len(labels)
        assert block(view, "n")["label"]["text"] == "Number of results"


async def test_the_modals_selects_start_from_the_typed_options() -> None:
    async with slack_harness() as h:
        await h.command("/edit", "make it warmer quality=low ar=16:9 format=jpeg")
        view = await opened_view(h)
        assert block(view, "prompt")["element"]["initial_value"] == "make it warmer format=jpeg"
        assert block(view, "quality")["element"]["initial_option"]["value"] == "low"
        assert block(view, "aspect")["element"]["initial_option"]["value"] == "16:9"

        # The person turns quality up in the form: that is what they asked for, no conflict.
        h.api.files["up.png"] = split((20, 40))
        typed = block(view, "prompt")["element"]["initial_value"]
        state = view_state(
            typed, quality="high", aspect="16:9", files=[file_object(h.api, "up.png")]
        )
        await h.interact(submission(view, view_id="V-q", state=state))
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        [edit] = h.service.accepted
        prompt, options = parse_options(edit.text, picks=edit.picks)
        assert prompt == "make it warmer" and options.quality is Quality.HIGH
        assert options.aspect == "16:9"


async def test_an_upload_starts_its_thread_with_a_root_post_showing_the_input() -> None:
    async with slack_harness() as h:
        await h.command("/edit", "")
        view = await opened_view(h)
        h.api.files["up.png"] = split((20, 40))
        up_file = file_object(h.api, "up.png")
        state = view_state("a studio wall", aspect="auto", quality="medium", files=[up_file])
        await h.interact(submission(view, view_id="V-up", state=state))
        await h.api.wait_for(lambda: len(h.service.finished) == 1)

        [root] = h.api.named("chat.postMessage")[:1]
        blocks = json.loads(root["blocks"]) if isinstance(root["blocks"], str) else root["blocks"]
        images = [b for b in blocks if b["type"] == "image"]
        assert [b["slack_file"]["id"] for b in images] == [up_file["id"]]
        assert f"<@{USER}>" in root["text"] and "a studio wall" in root["text"]
        [edit] = h.service.accepted
        [up] = h.api.uploads
        assert up.thread_ts == edit.place.thread == edit.message_id
        assert h.api.threads[(CHANNEL, up.thread_ts)][0]["text"] == root["text"]


async def test_the_modal_offers_recent_images_and_edits_the_one_picked() -> None:
    async with slack_harness() as h:
        first = image_post(h, "first.png", user=OTHER, ago_s=300)
        image_post(h, "second.png", user=OTHER, ago_s=100)
        await h.command("/edit", "")  # no prompt: the modal, offering the channel's images
        view = await opened_view(h)
        pick = block(view, "pick")
        names = [o["text"]["text"] for o in pick["element"]["options"]]
        assert names == ["second.png · posted 1 min ago", "first.png · posted 5 min ago"]

        state = view_state("make it night", quality="medium", aspect="auto")
        state["values"]["pick"] = {
            "pick": {"type": "static_select", "selected_option": {"value": "1"}}
        }
        await h.interact(submission(view, view_id="V-pick", state=state))
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        [edit] = h.service.accepted
        assert edit.place.thread == first and edit.attachments[0].name == "first.png"
        assert h.api.named("chat.postMessage")[0]["thread_ts"] == first  # no extra root post
        assert parse_options(edit.text, picks=edit.picks) == ("make it night", EditOptions())


async def test_a_modal_with_no_image_is_refused_in_the_form() -> None:
    async with slack_harness() as h:
        await h.command("/edit", "x")
        view = await opened_view(h)
        resp = await h.interact(
            submission(
                view, view_id="V-none", state=view_state("x", quality="medium", aspect="auto")
            )
        )
        assert resp.json() == {"response_action": "errors", "errors": {"images": NO_IMAGE}}
        assert h.service.accepted == [] and h.api.named("chat.postMessage") == []


async def test_choose_another_image_opens_the_modal_on_the_same_prompt() -> None:
    async with slack_harness() as h:
        image_post(h, "IMG_1.png", user=USER, ago_s=10)
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": USER},
            "channel": {"id": CHANNEL},
            "trigger_id": "trig.choose",
            "container": {"type": "message", "channel_id": CHANNEL, "is_ephemeral": True},
            "actions": [{"action_id": CHOOSE_ACTION, "value": "make it warmer", "type": "button"}],
        }
        assert (await h.interact(payload)).status_code == 200
        view = await opened_view(h)
        assert h.api.named("views.open")[0]["trigger_id"] == "trig.choose"
        assert block(view, "prompt")["element"]["initial_value"] == "make it warmer"
        assert [o["value"] for o in block(view, "pick")["element"]["options"]] == ["0"]
        assert h.service.presses == []


async def test_the_real_core_edits_the_latest_image_in_its_thread(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with real_slack(sqlite_url, tmp_path) as w:
        h = w.h
        ts = image_post(h, "IMG_2041.png", user=USER, ago_s=70)
        assert (await h.command("/edit", "make it warmer quality=low")).status_code == 200
        await h.api.wait_for(lambda: h.api.download_requests != [])
        await h.api.wait_calls("chat.postMessage")
        await w.drain()
        await h.api.wait_for(lambda: len(h.api.uploads) >= 1)
        [up] = h.api.uploads
        assert (up.channel, up.thread_ts) == (CHANNEL, ts)
        assert all(m.get("thread_ts") == ts for m in h.api.named("chat.postMessage"))
        assert h.api.named("views.open") == []
        async with w.sessions() as session:
            [thread] = (await session.exec(select(EditThread))).all()
        assert (thread.channel, thread.thread, thread.current_version) == (CHANNEL, ts, 1)
