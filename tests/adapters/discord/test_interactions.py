"""App commands, the context menu + modal, budget commands and buttons, from raw payloads."""

from __future__ import annotations

import pathlib
from typing import Any

import discord
import discord.ext.test as dpytest
from discord.ext.test import factories as facts

from adapters.discord.buttons import EditbotButton
from bot.core.domain import EditOptions, Quality
from bot.core.metrics import Registry
from bot.core.options import parse_options
from bot.core.ports import Action
from tests.kit.discord.backend import (
    RecordingWebhookAdapter,
    attachment_dict,
    dispatch_interaction,
    interaction_payload,
    make_thread,
    next_id,
    post_message,
    settle,
    slash,
)
from tests.kit.discord.rig import Rig, rig_fixture, start_rig  # noqa: F401
from tests.kit.images import pixel_at, solid, write
from tests.kit.settings import make_settings


async def test_edit_command_defers_then_submits_with_options(
    rig: Rig, tmp_path: pathlib.Path
) -> None:
    att = attachment_dict(write(tmp_path, "bag.png", solid((0, 100, 200), (8, 6))))
    payload = interaction_payload(
        kind=2,
        channel=rig.channel,
        member=rig.member,
        data=slash(
            "edit",
            [
                {"name": "prompt", "type": 3, "value": "beige wall"},
                {"name": "image", "type": 11, "value": str(att["id"])},
                {"name": "quality", "type": 3, "value": "high"},
                {"name": "aspect", "type": 3, "value": "4:5"},
                {"name": "n", "type": 4, "value": 2},
            ],
            attachments={str(att["id"]): att},
        ),
    )
    adapter = RecordingWebhookAdapter(rig.channel)
    await dispatch_interaction(payload, adapter)

    # First call: the deferred "thinking" response (type 5), before the core was called.
    first = adapter.calls[0]
    assert first.path.endswith("/callback") and first.payload["type"] == 5
    [edit] = rig.service.accepted
    assert edit.text == "beige wall"
    assert parse_options(edit.text, picks=edit.picks) == (
        "beige wall",
        EditOptions(quality=Quality.HIGH, aspect="4:5", n=2),
    )
    assert edit.event_key == f"discord:i:{payload['id']}"
    assert edit.place.channel == str(rig.channel.id) and edit.place.user == str(rig.member.id)
    assert [a.name for a in edit.attachments] == ["bag.png"]
    # The result came through the channel (not the token), inverted from the input.
    result = [m for m in await _drain() if m.attachments][0]
    data = pathlib.Path(result.attachments[0].url.removeprefix("file://")).read_bytes()
    assert pixel_at(data) == (255, 155, 55)
    # No later call used the interaction token beyond editing the deferred response.
    assert [c.path.rsplit("/", 2)[-2:] for c in adapter.calls[1:]] == [["messages", "@original"]]


async def test_edit_command_without_image_in_edit_thread_has_no_inputs(rig: Rig) -> None:
    assert rig.bot.user is not None
    thread = make_thread(rig.channel, owner_id=rig.bot.user.id, name="t")
    payload = interaction_payload(
        kind=2,
        channel=thread,
        member=rig.member,
        data=slash("edit", [{"name": "prompt", "type": 3, "value": "darker"}]),
    )
    payload["channel"]["parent_id"] = str(rig.channel.id)
    await dispatch_interaction(payload, RecordingWebhookAdapter(thread))
    [edit] = rig.service.accepted
    assert edit.attachments == ()
    assert (edit.place.thread, edit.place.channel) == (str(thread.id), str(rig.channel.id))


def _message_menu(rig: Rig, target: discord.Message) -> dict[str, Any]:
    """The `data` of an "Edit image" message-menu interaction on `target`."""
    message = facts.dict_from_message(target) | {
        "channel_id": rig.channel.id,
        "timestamp": target.created_at.isoformat(),
        "tts": False,
    }
    return {
        "id": str(next_id()),
        "name": "Edit image",
        "type": 3,
        "target_id": str(target.id),
        "resolved": {"messages": {str(target.id): message}},
    }


async def test_context_menu_opens_modal_and_submission_edits_that_messages_images(
    rig: Rig, tmp_path: pathlib.Path
) -> None:
    path = write(tmp_path, "menu.png", solid((50, 50, 50), (8, 6)))
    from tests.kit.discord.backend import image_attachment

    target = post_message(
        "look", channel=rig.channel, author=rig.other, attachments=[image_attachment(path)]
    )
    await settle()
    menu = interaction_payload(
        kind=2, channel=rig.channel, member=rig.member, data=_message_menu(rig, target)
    )
    adapter = RecordingWebhookAdapter(rig.channel)
    await dispatch_interaction(menu, adapter)
    [modal_call] = adapter.calls
    assert modal_call.payload["type"] == 9  # MODAL
    modal = modal_call.payload["data"]
    text_input = _find_text_input(modal["components"])
    assert rig.service.accepted == []  # nothing until the prompt is submitted

    submit = interaction_payload(
        kind=5,
        channel=rig.channel,
        member=rig.member,
        data={
            "custom_id": modal["custom_id"],
            "components": [
                {
                    "type": 1,
                    "components": [
                        {"type": 4, "custom_id": text_input["custom_id"], "value": "add a hat"}
                    ],
                }
            ],
        },
    )
    await dispatch_interaction(submit, adapter)
    [edit] = rig.service.accepted
    assert edit.text == "add a hat"
    assert [a.name for a in edit.attachments] == ["menu.png"]
    assert edit.place.user == str(rig.member.id)
    assert edit.event_key == f"discord:i:{submit['id']}"


def _find_text_input(components: list[dict[str, Any]]) -> dict[str, Any]:
    for component in components:
        if component.get("type") == 4:
            return component
        inner = component.get("components") or (
            [component["component"]] if "component" in component else []
        )
        if inner:
            return _find_text_input(inner)
    raise AssertionError(f"no text input in {components}")


async def _drain() -> list[discord.Message]:
    out = []
    while not dpytest.sent_queue.empty():
        out.append(await dpytest.sent_queue.get())
    return out


def _budget(sub: str, options: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return slash("edit-budget", [{"name": sub, "type": 1, "options": options or []}])


async def test_budget_set_passes_manage_server_as_admin(rig: Rig) -> None:
    options = [
        {"name": "cap_usd", "type": 3, "value": "25"},
        {"name": "period", "type": 3, "value": "week"},
    ]
    adapter = RecordingWebhookAdapter(rig.channel)
    plain = discord.Permissions(send_messages=True)
    manager = discord.Permissions(send_messages=True, manage_guild=True)
    for perms in (plain, manager):
        payload = interaction_payload(
            kind=2,
            channel=rig.channel,
            member=rig.member,
            permissions=perms,
            data=_budget("set", options),
        )
        await dispatch_interaction(payload, adapter)
    assert [(args, admin) for _, args, admin in rig.service.budget_calls] == [
        ("set 25 week", False),
        ("set 25 week", True),
    ]
    followups = [c for c in adapter.calls if not c.path.endswith("/callback")]
    assert followups[0].payload["content"].startswith("Only an admin")
    assert followups[1].payload["content"].startswith("Budget set: 25 week")
    # Both answers are ephemeral (flag 64), deferred that way inside the 3 s window.
    deferrals = [c for c in adapter.calls if c.path.endswith("/callback")]
    assert all(c.payload["data"]["flags"] & 64 for c in deferrals)


async def test_admin_ids_are_the_cores_rule_not_the_adapters(rig: Rig) -> None:
    # EDITBOT_ADMINS is applied by the core (bot.core.access); the adapter reports only what
    # Discord says (Manage Server), for a listed member too.
    rig.bot.settings = make_settings(EDITBOT_ADMINS=f"42, {rig.member.id}")
    for member in (rig.member, rig.other):
        payload = interaction_payload(
            kind=2,
            channel=rig.channel,
            member=member,
            data=_budget("set", [{"name": "cap_usd", "type": 3, "value": "5"}]),
        )
        await dispatch_interaction(payload, RecordingWebhookAdapter(rig.channel))
    assert [call[1:] for call in rig.service.budget_calls] == [("set 5", False), ("set 5", False)]


async def test_budget_show_is_ephemeral_chart_public_and_usage_csv_ephemeral(rig: Rig) -> None:
    adapter = RecordingWebhookAdapter(rig.channel)
    for sub in ("show", "chart", "usage"):
        payload = interaction_payload(
            kind=2, channel=rig.channel, member=rig.member, data=_budget(sub)
        )
        await dispatch_interaction(payload, adapter)
    followups = [c for c in adapter.calls if not c.path.endswith("/callback")]
    show_text, chart_note, chart, usage = followups
    scope = f"discord:{rig.channel.guild.id}:{rig.channel.id}"
    assert show_text.payload["content"] == "cap 20000000"
    assert [place.scope for place, _, _ in rig.service.budget_calls] == [scope] * 3
    assert show_text.payload.get("flags", 0) & 64 and not show_text.files  # no chart on show
    assert chart_note.payload.get("flags", 0) & 64
    assert [name for name, _ in chart.files] == ["editbot-budget.png"]
    assert not chart.payload.get("flags", 0) & 64  # the chart is for the channel
    assert chart.payload["allowed_mentions"]["parse"] == []
    assert usage.payload.get("flags", 0) & 64
    [(name, csv)] = usage.files
    assert name == "editbot-usage.csv" and scope.encode() in csv


async def test_button_routes_to_press_after_a_restart(rig: Rig, tmp_path: pathlib.Path) -> None:
    # A result with buttons posted by the first bot instance...
    path = write(tmp_path, "a.png", solid((1, 2, 3), (8, 6)))
    from tests.kit.discord.backend import image_attachment

    assert rig.bot.user is not None
    post_message(
        f"<@{rig.bot.user.id}> x",
        channel=rig.channel,
        author=rig.member,
        attachments=[image_attachment(path)],
    )
    await settle()
    job = rig.service.job_ids[-1]
    hq_id = f"editbot:hq:{job}"
    assert hq_id in rig.http.custom_ids()
    components = rig.http.sent[-1][1]["components"]
    result = [m for m in await _drain() if m.attachments][0]
    await dpytest.empty_queue()

    # ...pressed on a new process: a fresh bot whose setup_hook registered the dynamic item.
    fresh = await start_rig(make_settings())
    await fresh.bot.setup_hook()
    for perms, expected_admin in (
        (discord.Permissions(send_messages=True), False),
        (discord.Permissions(manage_guild=True), True),
    ):
        payload = interaction_payload(
            kind=3,
            channel=fresh.channel,
            member=fresh.member,
            permissions=perms,
            data={"custom_id": hq_id, "component_type": 2},
            message=result,
        )
        payload["message"]["channel_id"] = fresh.channel.id
        # Discord sends the pressed message with its components (dpytest's Message has none).
        payload["message"]["components"] = components
        adapter = RecordingWebhookAdapter(fresh.channel)
        await dispatch_interaction(payload, adapter)
        assert adapter.calls[0].payload["type"] == 6  # deferred update, inside 3 s
        press = fresh.service.presses[-1]
        assert (press.action, press.job_id, press.platform_admin) == (
            Action.HIGH_QUALITY,
            job,
            expected_admin,
        )
        assert press.place.user == str(fresh.member.id)
        assert press.event_key == f"discord:i:{payload['id']}"


async def test_setup_hook_syncs_commands_to_the_configured_guild(tmp_path: pathlib.Path) -> None:
    for guild_id, expected in ((None, None), (123456789012345678, 123456789012345678)):
        rig = await start_rig(make_settings(DISCORD_GUILD_ID=guild_id))
        await rig.bot.setup_hook()
        [(synced_guild, commands)] = rig.http.synced
        assert synced_guild == expected
        assert sorted(c["name"] for c in commands) == ["Edit image", "edit", "edit-budget"]
        assert EditbotButton in rig.bot._connection._view_store._dynamic_items.values()
        await dpytest.empty_queue()


async def test_each_interaction_defer_is_timed_in_ack_seconds() -> None:
    registry = Registry()
    rig = await start_rig(make_settings(), metrics=registry)
    acks = registry.histogram("ack_seconds")
    payload = interaction_payload(
        kind=2, channel=rig.channel, member=rig.member, data=_budget("show")
    )
    adapter = RecordingWebhookAdapter(rig.channel)
    await dispatch_interaction(payload, adapter)
    [defer] = [c for c in adapter.calls if c.path.endswith("/callback")]
    assert defer.payload["type"] == 5  # the ack that was timed
    assert acks.count(platform="discord") == 1
    # A /edit without an image (nothing to download): its defer is the second ack timed.
    edit = slash("edit", [{"name": "prompt", "type": 3, "value": "brighter"}])
    payload = interaction_payload(kind=2, channel=rig.channel, member=rig.member, data=edit)
    await dispatch_interaction(payload, RecordingWebhookAdapter(rig.channel))
    assert acks.count(platform="discord") == 2
    assert acks.count(platform="slack") == 0
    await dpytest.empty_queue()
