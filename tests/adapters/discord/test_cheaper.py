"""On Discord, through the real EditBot and core: a budget refusal offers the cheaper edit that
fits as a button, and pressing it runs that edit (once, charged only its cost); the warning
goes to the guild's admins directly too."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import discord
import pytest
from discord.ext.test import backend as back
from discord.ext.test import callbacks
from discord.ext.test import factories as facts

from bot.core.domain import Place
from bot.core.jobs import JobStatus
from tests.adapters.discord import test_e2e
from tests.adapters.discord.test_e2e import job_rows, mention_with_image, scope
from tests.kit.discord.backend import (
    RecordingWebhookAdapter,
    add_member,
    dispatch_interaction,
    next_id,
)
from tests.kit.discord.e2e import Core, Instance, drain_sent, start_instance
from tests.kit.settings import make_settings
from tests.kit.workers import read_ledger

HIGH = "make it pop quality=high size=1024x640"
CAP = "0.05"
"""quality=high (~$0.15) and quality=medium (~$0.066) do not fit; quality=low (~$0.041) does."""


@dataclass
class Refused:
    bot: Instance
    message: discord.Message
    custom_id: str
    job_id: str


async def refused_edit(core: Core, tmp_path: Path) -> Refused:
    """Alice's quality=high edit, refused over the channel's budget."""
    settings = make_settings(tmp_path, EDITBOT_DEFAULT_BUDGET_USD=CAP)
    bot = await start_instance(core, settings=settings)
    await mention_with_image(bot, tmp_path, HIGH)
    [message] = await drain_sent()
    [job] = await job_rows(core)
    # Button 2: quality=low is the second cheaper edit (after quality=medium, which does not fit).
    return Refused(bot, message, f"editbot:cheaper:{job.id}:2", job.id)


async def press(r: Refused, member: discord.User) -> RecordingWebhookAdapter:
    components = test_e2e.sent_components(r.bot, r.custom_id)
    payload = test_e2e.button_press(
        r.bot, custom_id=r.custom_id, message=r.message, components=components, member=member
    )
    answers = RecordingWebhookAdapter(r.bot.channel)
    await dispatch_interaction(payload, answers)
    await r.bot.worker.drain()
    return answers


async def test_a_refusal_offers_the_cheaper_edit_that_fits_as_a_button(
    core: Core, tmp_path: Path
) -> None:
    r = await refused_edit(core, tmp_path)
    assert r.message.content.startswith("Not run") and "Nothing was charged" in r.message.content
    assert r.bot.http.custom_ids() == [r.custom_id]  # medium does not fit: no button for it
    [[button]] = [row["components"] for row in test_e2e.sent_components(r.bot, r.custom_id)]
    assert button["label"] == "Run at quality=low ~$0.041"
    [job] = await job_rows(core)
    assert (job.status, job.error) == (JobStatus.CANCELLED, "budget refused")
    ledger = await read_ledger(core.sessions, scope(r.bot))
    assert (ledger.reserved, ledger.spent, ledger.settled) == (0, 0, {})
    assert core.emu.requests == []


async def test_pressing_runs_it_at_low_once_and_a_stranger_is_told_privately(
    core: Core, tmp_path: Path
) -> None:
    r = await refused_edit(core, tmp_path)
    stranger = await press(r, r.bot.bob)
    [told] = [c for c in stranger.calls if not c.path.endswith("/callback")]
    assert told.payload["flags"] & 64 and told.payload["allowed_mentions"]["parse"] == []
    assert told.payload["content"].startswith(f"Only {r.bot.alice.display_name} ")
    assert core.emu.requests == [] and await drain_sent() == []

    await press(r, r.bot.alice)
    [result] = [m for m in await drain_sent() if m.attachments]
    assert result.channel.id == r.message.channel.id  # in the edit's thread
    assert " · 1024x640 low · $" in result.content
    [call] = core.emu.routes("openai_edit")
    assert call.fields["quality"] == "low"
    [mark] = [p for mid, p in r.bot.http.edits if mid == r.message.id]
    [[shown]] = [row["components"] for row in mark["components"]]
    assert (shown["label"], shown["disabled"]) == ("Running at quality=low...", True)

    await press(r, r.bot.alice)  # again: nothing more is run or paid
    assert len(core.emu.routes("openai_edit")) == 1
    assert [m for m in await drain_sent() if m.attachments] == []
    refused, cheaper = await job_rows(core)
    assert refused.error == "budget refused; ran cheaper" and cheaper.parent_job_id == refused.id
    ledger = await read_ledger(core.sessions, scope(r.bot))
    assert ledger.settled == {cheaper.id: cheaper.cost_micros} and ledger.reserved == 0


async def test_the_guild_admins_are_named_as_who_can_raise_the_cap(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(
        core, settings=make_settings(tmp_path, EDITBOT_DEFAULT_BUDGET_USD="0.001")
    )
    guild = bot.channel.guild
    place = Place(
        platform="discord", workspace=str(guild.id), channel=str(bot.channel.id), user="1"
    )
    assert await bot.bot.chat.admins(place) == []  # Alice and Bob may not manage the server
    robot = back.get_state().store_user(
        facts.make_user_dict("robot", "0003", None, next_id(), bot=True)
    )
    manage = discord.Permissions(manage_guild=True)
    add_member(guild, robot, permissions=manage)  # a bot is nobody to ask
    add_member(guild, bot.bob, permissions=manage)
    guild.owner_id = bot.alice.id
    assert await bot.bot.chat.admins(place) == [str(bot.alice.id), str(bot.bob.id)]

    await mention_with_image(bot, tmp_path, HIGH)
    [refusal] = await drain_sent()
    who = f"ask {bot.alice.display_name}, {bot.bob.display_name} or someone with Manage Server."
    assert refusal.content.endswith(who)
    assert "<@" not in refusal.content


async def test_crossing_the_warning_is_said_in_the_channel_and_to_each_guild_admin_directly(
    core: Core, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    bot = await start_instance(
        core, settings=make_settings(tmp_path, EDITBOT_DEFAULT_BUDGET_USD=CAP)
    )
    add_member(bot.channel.guild, bot.bob, permissions=discord.Permissions(manage_guild=True))
    opened: list[int] = []  # whom a DM channel was opened with (POST /users/@me/channels)

    async def recording(user: discord.User) -> None:
        opened.append(user.id)

    callbacks.set_callback(recording, "start_private_message")
    request.addfinalizer(lambda: callbacks.remove_callback("start_private_message"))
    await mention_with_image(bot, tmp_path, "make it pop quality=low size=1024x640")  # ~82%
    warned = [m for m in await drain_sent() if "Heads up" in m.content]
    in_channel = [m for m in warned if m.channel.id == bot.channel.id]
    direct = [m for m in warned if isinstance(m.channel, discord.DMChannel)]
    assert len(in_channel) == 1 and "of it held for edits running" in in_channel[0].content
    assert len(direct) == 1 and direct[0].content.startswith(f"#{bot.channel.name}: Heads up")
    assert opened == [bot.bob.id]  # Bob manages the server; Alice, who asked, does not
    assert all("<@" not in m.content for m in warned)
