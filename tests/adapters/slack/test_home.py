"""The Home tab through the real AsyncApp: app_home_opened -> views.publish of the person's
edits (from the real core's database), their channels' budgets, help; the admins' settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from adapters.slack.home_view import SETTINGS_ACTION, SETTINGS_VIEW
from tests.kit.images import split
from tests.kit.slack.api import TEAM_ID
from tests.kit.slack.e2e import PHOTO, real_slack
from tests.kit.slack.harness import (
    CHANNEL,
    USER,
    Harness,
    event_callback,
    file_object,
    mention,
    slack_harness,
)

TS = "1699999999.000100"


def home_opened(user: str = USER) -> dict[str, Any]:
    return {
        "type": "app_home_opened",
        "user": user,
        "channel": "D0001",
        "tab": "home",
        "event_ts": "1700000001.000100",
    }


def texts(view: dict[str, Any]) -> str:
    """Every text of the view's blocks, one per line (what a person reads)."""
    out = []
    for b in view["blocks"]:
        text = b.get("text")
        if isinstance(text, dict):
            out.append(str(text["text"]))
        for e in b.get("elements") or []:
            if isinstance(e, dict) and "text" in e and isinstance(e["text"], str):
                out.append(e["text"])
    return "\n".join(out)


async def published(h: Harness, user: str = USER, count: int = 1) -> dict[str, Any]:
    await h.api.wait_calls("views.publish", count)
    return h.api.published[user]


async def test_home_lists_the_persons_edits_with_thumbnail_cost_and_thread_link(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with real_slack(sqlite_url, tmp_path) as w:
        h = w.h
        body = event_callback(
            mention("make it warmer quality=low", files=[file_object(h.api, PHOTO)])
        )
        assert (await h.post(body)).status_code == 200
        await h.api.wait_for(lambda: h.api.download_requests != [])
        await h.api.wait_calls("chat.postMessage")
        await w.drain()
        await h.api.wait_for(lambda: len(h.api.uploads) >= 1)

        opened = event_callback(home_opened(), event_id="Ev-home")
        assert (await h.post(opened)).status_code == 200
        view = await published(h)
        [up] = h.api.uploads
    assert view["type"] == "home"
    shown = texts(view)
    assert "make it warmer" in shown and f"<#{CHANNEL}>" in shown
    assert " · done · $0.0" in shown  # a low-quality edit costs cents
    assert f"/archives/{CHANNEL}/p{TS.replace('.', '')}|Open the thread>" in shown
    thumbs = [
        b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("type") == "image"
    ]
    assert [t["slack_file"]["id"] for t in thumbs] == [up.file_id]  # the result, not the input
    assert "spent" in shown and "left of $20.00 this month" in shown
    assert "Mention me with an image" in shown  # the help text
    assert "Every channel" not in shown  # not an admin


async def test_admins_see_every_channel_and_change_a_budget_from_the_home_tab() -> None:
    async with slack_harness() as h:
        h.api.users[USER] = {"is_admin": True}
        h.api.files["p.png"] = split((40, 30))
        await h.post(event_callback(mention("x", files=[file_object(h.api, "p.png")])))
        await h.api.wait_for(lambda: len(h.service.finished) == 1)

        await h.post(event_callback(home_opened(), event_id="Ev-h1"))
        view = await published(h)
        assert "Every channel this period (admin)" in texts(view)
        [button] = [
            b["accessory"] for b in view["blocks"] if b.get("accessory", {}).get("type") == "button"
        ]
        assert (button["action_id"], button["value"]) == (SETTINGS_ACTION, CHANNEL)

        press = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": USER},
            "trigger_id": "trig.home",
            "container": {"type": "view", "view_id": "VHOME"},
            "actions": [{"action_id": SETTINGS_ACTION, "value": CHANNEL, "type": "button"}],
        }
        assert (await h.interact(press)).status_code == 200
        await h.api.wait_calls("views.open")
        modal = h.api.named("views.open")[0]["view"]
        modal = json.loads(modal) if isinstance(modal, str) else modal
        assert modal["callback_id"] == SETTINGS_VIEW
        cap = next(b for b in modal["blocks"] if b.get("block_id") == "cap")
        assert cap["element"]["initial_value"] == "20.00"

        state = {
            "values": {
                "cap": {"cap": {"type": "plain_text_input", "value": "50"}},
                "period": {
                    "period": {"type": "static_select", "selected_option": {"value": "week"}}
                },
                "user_cap": {"user_cap": {"type": "plain_text_input", "value": "10"}},
            }
        }
        save = {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": USER},
            "view": {**modal, "id": "V-set", "state": state},
        }
        assert (await h.interact(save)).status_code == 200
        await published(h, count=2)
        [(place, args, admin)] = h.service.budget_calls
        assert (place.channel, args, admin) == (CHANNEL, "set 50 week user=10", True)
        shown = texts(h.api.published[USER])
        assert "Budget set" in shown and "$50.00" in shown  # the note, and the new cap


async def test_the_messages_tab_publishes_nothing() -> None:
    async with slack_harness() as h:
        event = {**home_opened(), "tab": "messages"}
        assert (await h.post(event_callback(event, event_id="Ev-msg"))).status_code == 200
        await h.post(event_callback(home_opened(), event_id="Ev-home"))
        await h.api.wait_calls("views.publish")
        assert len(h.api.named("views.publish")) == 1
        assert "No edits yet" in texts(h.api.published[USER])
