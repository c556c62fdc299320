"""Trust on Discord through the real EditBot and core: mistakes, help and budget views are
answered to the person only (ephemeral, flag 64), and /edit offers only the n editbot takes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from discord.webhook.async_ import async_context

from tests.adapters.discord import test_e2e
from tests.adapters.discord.test_e2e import edit_command, edit_v1, input_file, job_rows
from tests.kit.discord.backend import (
    RecordingWebhookAdapter,
    dispatch_interaction,
    interaction_payload,
    slash,
)
from tests.kit.discord.e2e import Core, drain_sent, start_instance
from tests.kit.settings import make_settings


async def test_a_mistake_in_edit_is_answered_privately_without_a_thread(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core)
    adapter = await edit_command(bot, input_file(tmp_path, "bag.png"), "beige wall qualty=high")
    # The public "Editing: ..." reply is taken back and the mistake told to Alice only.
    assert [c.method for c in adapter.calls if c.path.endswith("/messages/@original")] == [
        "PATCH",
        "DELETE",
    ]
    [told] = [c for c in adapter.calls if c.path.endswith("/webhooks/{webhook_id}/{webhook_token}")]
    assert told.payload["flags"] & 64 and "quality" in told.payload["content"]
    assert bot.threads_opened == [] and await drain_sent() == []
    assert await job_rows(core) == [] and core.emu.requests == []


async def test_edit_offers_only_the_n_editbot_takes(core: Core, tmp_path: Path) -> None:
    bot = await start_instance(core, settings=make_settings(tmp_path, EDITBOT_MAX_N=3))
    await bot.bot.setup_hook()
    [(_, commands)] = bot.http.synced[-1:]
    [edit] = [c for c in commands if c["name"] == "edit"]
    [n] = [o for o in edit["options"] if o["name"] == "n"]
    assert [c["value"] for c in n["choices"]] == [1, 2, 3]
    assert "max_value" not in n or n["max_value"] is None


async def test_help_by_edit_command_is_private_and_free(core: Core, tmp_path: Path) -> None:
    bot = await start_instance(core)
    payload = interaction_payload(
        kind=2,
        channel=bot.channel,
        member=bot.alice,
        data=slash("edit", [{"name": "prompt", "type": 3, "value": "help"}]),
    )
    adapter = RecordingWebhookAdapter(bot.channel)
    await dispatch_interaction(payload, adapter)
    [told] = [c for c in adapter.calls if c.path.endswith("/webhooks/{webhook_id}/{webhook_token}")]
    assert told.payload["flags"] & 64 and "`undo`" in told.payload["content"]
    assert bot.threads_opened == [] and await drain_sent() == []
    assert await job_rows(core) == []


async def test_budget_show_is_ephemeral_and_names_people_without_pings(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core)
    await edit_v1(core, bot, tmp_path)
    adapter = RecordingWebhookAdapter(bot.channel)
    data = slash("edit-budget", [{"name": "show", "type": 1, "options": []}])
    payload = interaction_payload(kind=2, channel=bot.channel, member=bot.bob, data=data)
    await dispatch_interaction(payload, adapter)
    deferral, shown = adapter.calls
    assert deferral.payload["data"]["flags"] & 64  # deferred ephemeral: only Bob sees it
    text = shown.payload["content"]
    assert f"1. {bot.alice.display_name} - $0." in text
    assert "<@" not in text and not shown.files  # no chart unless asked with `chart`
    assert await drain_sent() == []


async def test_retry_pressed_twice_runs_once_and_the_message_says_so(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core)
    v1, _ = await edit_v1(core, bot, tmp_path)
    [job1] = await job_rows(core)
    retry = f"editbot:retry:{job1.id}"
    components = test_e2e.sent_components(bot, retry)
    for _ in range(2):  # Alice presses Retry twice, two interactions
        press = test_e2e.button_press(
            bot, custom_id=retry, message=v1, components=components, member=bot.alice
        )
        await dispatch_interaction(press, RecordingWebhookAdapter(bot.channel))
    await bot.worker.drain()
    assert len(await job_rows(core)) == 2  # v1 and ONE retry
    # The pressed message itself says what is happening: its buttons give way to one
    # disabled button; its caption and image are not touched.
    [mark] = [p for mid, p in bot.http.edits if mid == v1.id]
    [[shown]] = [row["components"] for row in mark["components"]]
    assert (shown["label"], shown["disabled"]) == ("Retrying as v2...", True)
    assert "content" not in mark and "attachments" not in mark


async def _slash_edit(bot: Any, tmp_path: Path, prompt: str) -> RecordingWebhookAdapter:
    adapter = await edit_command(bot, input_file(tmp_path, "bag.png"), prompt, quality="low")
    token = async_context.set(adapter)  # the worker's calls on the interaction's webhook too
    try:
        await bot.worker.drain()
    finally:
        async_context.reset(token)
    return adapter


def _replies(adapter: RecordingWebhookAdapter) -> list[str]:
    """What the `/edit` response said, edit by edit."""
    calls = [c for c in adapter.calls if c.path.endswith("/messages/@original")]
    return [c.payload["content"] for c in calls if c.method == "PATCH"]


async def test_the_edit_reply_says_done_or_failed(core: Core, tmp_path: Path) -> None:
    bot = await start_instance(core)
    done = await _slash_edit(bot, tmp_path, "beige wall size=1024x640")
    assert _replies(done) == ["Editing: beige wall size=1024x640", "Done: v1 in the thread"]
    core.emu.fail_next("refuse", on="openai_edit")
    failed = await _slash_edit(bot, tmp_path, "red wall size=1024x640")
    [editing, outcome] = _replies(failed)
    assert editing == "Editing: red wall size=1024x640"
    [job] = [j for j in await job_rows(core) if j.prompt.startswith("red wall")]
    assert outcome.startswith("Failed: ") and outcome[len("Failed: ") :] in (job.error or "")
    assert job.id not in outcome  # a short reference, never the job id


async def test_the_edit_reply_says_refused_over_the_budget(core: Core, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, EDITBOT_DEFAULT_BUDGET_USD="0.001")
    bot = await start_instance(core, settings=settings)
    refused = await _slash_edit(bot, tmp_path, "beige wall size=1024x640")
    assert _replies(refused) == [
        "Editing: beige wall size=1024x640",
        "Refused: over the channel's budget; nothing was charged.",
    ]
    assert await job_rows(core) == [] and core.emu.requests == []
