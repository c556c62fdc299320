"""Hostile names, file names and prompts through real discord.py, the real core and the fakes.

Every payload editbot hands to Discord's REST API (messages, edits, interaction responses and
followups) must carry allowed_mentions that ping nobody but the requester, whatever the text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.adapters.discord.test_e2e import edit_command
from tests.kit.discord.backend import (
    RecordingWebhookAdapter,
    image_attachment,
    post_message,
    settle,
)
from tests.kit.discord.e2e import CHEAP, Core, Instance, drain_sent, start_instance
from tests.kit.images import split
from tests.kit.settings import make_settings

HOSTILE = "@everyone @here <@&123> <@999> <!channel> &lt;!channel&gt;"


def unsafe(payload: dict[str, Any], *, requester: int) -> str | None:
    """Why a REST payload could ping someone other than the requester, or None when it cannot."""
    mentions = payload.get("allowed_mentions")
    if mentions is None:
        return "no allowed_mentions: Discord would parse every mention in the content"
    if mentions.get("parse"):
        return f"parse={mentions['parse']}"
    if mentions.get("roles"):
        return f"roles={mentions['roles']}"
    users = {int(u) for u in mentions.get("users") or []}
    if users - {requester}:
        return f"users={sorted(users)}"
    if mentions.get("replied_user"):
        return "replied_user"
    return None


def every_payload(bot: Instance, adapters: list[RecordingWebhookAdapter]) -> list[dict[str, Any]]:
    """What the fake REST API and the interaction webhooks received that carries content."""
    payloads = [p for _, p in bot.http.sent] + [p for _, p in bot.http.edits]
    payloads += [
        c.payload.get("data") or c.payload if c.path.endswith("/callback") else c.payload
        for a in adapters
        for c in a.calls
    ]
    return [p for p in payloads if p.get("content") is not None or "attachments" in p]


async def test_hostile_text_pings_nobody_in_anything_editbot_sends(
    core: Core, tmp_path: Path
) -> None:
    bot = await start_instance(core)
    good = tmp_path / "@everyone <@&123> plan.png"
    good.write_bytes(split())
    bad = tmp_path / "<@999> @here notes.png"
    bad.write_bytes(b"not an image at all")

    # A prompt that goes all the way: status, thread name, caption, edits.
    post_message(
        bot.mention(f"make it blue {HOSTILE} {CHEAP}"),
        channel=bot.channel,
        author=bot.alice,
        attachments=[image_attachment(good)],
    )
    # A file name echoed in its error; an option value echoed in its error.
    post_message(
        bot.mention("make it blue"),
        channel=bot.channel,
        author=bot.alice,
        attachments=[image_attachment(bad)],
    )
    post_message(
        bot.mention("make it blue bg=@everyone"),
        channel=bot.channel,
        author=bot.alice,
        attachments=[image_attachment(good)],
    )
    await settle()
    adapter = await edit_command(bot, good, f"beige wall {HOSTILE} {CHEAP}")
    await bot.worker.drain()
    await settle()

    sent = await drain_sent()
    contents = "\n".join(m.content for m in sent)
    # The hostile text reached Discord (people see what they wrote) ...
    assert "@everyone" in contents and "@here" in contents  # mentions markup is dropped
    assert "notes.png" in contents and "bg=@everyone" in contents
    assert sum(1 for m in sent if m.attachments) == 2
    # ... and no payload of any kind lets it ping.
    payloads = every_payload(bot, [adapter])
    assert len(payloads) >= 6
    problems = [
        (p.get("content"), why)
        for p in payloads
        if (why := unsafe(p, requester=bot.alice.id)) is not None
    ]
    assert problems == []


async def test_the_client_default_pings_nobody() -> None:
    from adapters.discord.bot import build_discord_bot
    from tests.kit.service import FakeEditService

    bot = build_discord_bot(settings=make_settings(), service=FakeEditService(chats={}))
    mentions = bot.allowed_mentions
    assert mentions is not None
    assert mentions.to_dict() == {"parse": []}
