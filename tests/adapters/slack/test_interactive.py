"""Message shortcut, /edit modal, buttons and /edit-budget through the real AsyncApp."""

from __future__ import annotations

import asyncio
import json

from adapters.slack.views import COMMAND_VIEW, SHORTCUT_VIEW
from bot.core.domain import EditOptions, Quality
from bot.core.options import parse_options
from bot.core.ports import Action
from tests.kit.images import split
from tests.kit.slack.api import TEAM_ID
from tests.kit.slack.harness import (
    CHANNEL,
    USER,
    Harness,
    button_press,
    event_callback,
    file_object,
    mention,
    slack_harness,
    view_state,
)

MSG_TS = "1699990000.000500"


def shortcut_payload(h: Harness) -> dict:
    return {
        "type": "message_action",
        "callback_id": "edit_image",
        "trigger_id": "trig.2",
        "team": {"id": TEAM_ID},
        "channel": {"id": CHANNEL},
        "user": {"id": USER},
        "message_ts": MSG_TS,
        "response_url": "http://unused/",
        "message": {
            "type": "message",
            "ts": MSG_TS,
            "user": "U9",
            "files": [file_object(h.api, "shot.png")],
        },
    }


def submission(view: dict, *, view_id: str, state: dict) -> dict:
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": USER},
        "view": {**view, "id": view_id, "state": state},
    }


async def opened_view(h: Harness) -> dict:
    await h.api.wait_calls("views.open")
    view = h.api.named("views.open")[-1]["view"]
    return json.loads(view) if isinstance(view, str) else view


async def test_message_shortcut_opens_a_modal_and_edits_in_the_message_thread() -> None:
    async with slack_harness() as h:
        h.api.files["shot.png"] = split((50, 30))
        resp = await h.interact(shortcut_payload(h))
        assert resp.status_code == 200
        view = await opened_view(h)
        assert view["callback_id"] == SHORTCUT_VIEW
        assert h.api.named("views.open")[0]["trigger_id"] == "trig.2"
        block_ids = [b["block_id"] for b in view["blocks"]]
        assert block_ids == ["prompt", "quality", "aspect", "resolution", "n"]

        resp = await h.interact(
            submission(view, view_id="V-sc", state=view_state("add a hat", quality="high"))
        )
        assert resp.status_code == 200
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        [edit] = h.service.accepted
        # The selects reach the core as data, merged with what was typed.
        assert parse_options(edit.text, picks=edit.picks) == (
            "add a hat",
            EditOptions(quality=Quality.HIGH, aspect="4:5"),
        )
        assert edit.place.thread == MSG_TS and edit.place.channel == CHANNEL
        [up] = h.api.uploads
        assert up.thread_ts == MSG_TS and up.initial_comment == "v1 · add a hat"


async def test_edit_command_opens_a_prefilled_modal_and_posts_the_request_as_thread_root() -> None:
    async with slack_harness() as h:
        # No image in the channel: the modal (adapters.slack.edit_command).
        resp = await h.command("/edit", "a beige studio wall")
        assert resp.status_code == 200
        view = await opened_view(h)
        assert view["callback_id"] == COMMAND_VIEW
        prompt = next(b for b in view["blocks"] if b["block_id"] == "prompt")
        assert prompt["element"]["initial_value"] == "a beige studio wall"
        images = next(b for b in view["blocks"] if b["block_id"] == "images")
        assert images["element"]["type"] == "file_input"
        assert images["element"]["filetypes"] == ["png", "jpg", "jpeg", "webp", "gif"]

        h.api.files["up.png"] = split((20, 40))
        state = view_state(
            "a beige studio wall", aspect="auto", files=[file_object(h.api, "up.png")]
        )
        await h.interact(submission(view, view_id="V-cmd", state=state))

        await h.api.wait_for(lambda: len(h.service.finished) == 1)
        request = h.api.named("chat.postMessage")[0]
        assert request["channel"] == CHANNEL and "thread_ts" not in request
        assert "a beige studio wall" in request["text"]
        [edit] = h.service.accepted
        assert edit.place.thread == edit.message_id  # the request message's thread
        root = h.api.threads[(CHANNEL, edit.message_id)][0]["ts"]
        [up] = h.api.uploads
        assert up.thread_ts == edit.message_id == root
        assert parse_options(edit.text, picks=edit.picks) == (
            "a beige studio wall",
            EditOptions(quality=Quality.HIGH),
        )


async def test_button_press_reaches_the_core_with_the_job_id() -> None:
    async with slack_harness() as h:
        payload = button_press("editbot:hq", "job-42", thread_ts="5.0")
        assert (await h.interact(payload)).status_code == 200
        await h.api.wait_for(lambda: len(h.service.presses) == 1)
        [press] = h.service.presses
        assert (press.action, press.job_id, press.place.thread) == (
            Action.HIGH_QUALITY,
            "job-42",
            "5.0",
        )
        assert press.platform_admin is False
        await h.api.wait_calls("chat.postMessage")
        assert h.api.named("chat.postMessage")[0]["thread_ts"] == "5.0"


async def test_budget_set_by_a_non_admin_is_refused_ephemerally() -> None:
    async with slack_harness() as h:
        resp = await h.command("/edit-budget", "set 50")
        assert resp.status_code == 200
        await h.api.wait_calls("chat.postEphemeral")
        [eph] = h.api.named("chat.postEphemeral")
        assert eph["user"] == USER and "Only an admin" in eph["text"]
        assert h.api.named("users.info")[0]["user"] == USER
        assert h.service.budget_calls[0][2] is False


async def test_budget_set_by_a_workspace_admin_changes_the_cap() -> None:
    async with slack_harness() as h:
        h.api.users[USER] = {"is_admin": True}
        await h.command("/edit-budget", "set 50")
        await h.api.wait_calls("chat.postEphemeral")
        assert "50000000" in h.api.named("chat.postEphemeral")[0]["text"]
        await h.command("/edit-budget", "show")
        await h.api.wait_calls("chat.postEphemeral", 2)
        assert h.api.named("chat.postEphemeral")[1]["text"] == "cap 50000000"


async def test_budget_command_reports_only_what_slack_says_of_the_user() -> None:
    # EDITBOT_ADMINS is the core's rule (bot.core.access): the adapter asks Slack and reports
    # that, even for a listed user.
    async with slack_harness(admins=f"U7, {USER}") as h:
        await h.command("/edit-budget", "set 5")
        await h.api.wait_calls("chat.postEphemeral")
        assert h.service.budget_calls[0][2] is False
        assert [c["user"] for c in h.api.named("users.info")] == [USER]


async def test_budget_chart_goes_to_the_channel_and_usage_csv_to_a_direct_message() -> None:
    async with slack_harness() as h:
        await h.command("/edit-budget", "chart")
        await h.api.wait_for(lambda: len(h.api.uploads) == 1)
        chart = h.api.uploads[0]
        assert chart.channel == CHANNEL and chart.data.startswith(b"\x89PNG")
        assert chart.initial_comment == "cap 20000000"
        await h.api.wait_calls("chat.postEphemeral")
        assert h.api.named("chat.postEphemeral")[0]["text"] == "Posted the chart."

        await h.command("/edit-budget", "usage")
        await h.api.wait_for(lambda: len(h.api.uploads) == 2)
        csv = h.api.uploads[1]
        # Only the asker gets it: in their DM (conversations.open with them), never the channel.
        assert h.api.named("conversations.open") == [{"users": USER}]
        assert csv.channel == "D" + USER
        assert csv.filename == "editbot-usage.csv" and csv.data.startswith(b"scope,cap\nslack:")
        await h.api.wait_calls("chat.postEphemeral", 2)
        assert h.api.named("chat.postEphemeral")[1]["text"].startswith("Usage attached.")


async def test_commands_and_events_are_acked_before_the_core_finishes() -> None:
    async with slack_harness() as h:
        h.service.gate = asyncio.Event()  # the core's work cannot finish until released
        h.api.files["p.png"] = split((64, 48))

        cmd = await h.command("/edit-budget", "show")
        ev = await h.post(event_callback(mention("x", files=[file_object(h.api, "p.png")])))

        assert (cmd.status_code, ev.status_code) == (200, 200)
        await h.api.wait_for(lambda: h.service.budget_calls and h.service.accepted)
        assert h.api.named("chat.postEphemeral") == [] and h.api.download_requests == []
        h.service.gate.set()
        await h.api.wait_calls("chat.postEphemeral")
        await h.api.wait_for(lambda: len(h.service.finished) == 1)
