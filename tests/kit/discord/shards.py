"""The kit's fake Discord (rest.FakeDiscord) with guilds and shards, as Discord routes them.

A session that IDENTIFYs as shard `[id, count]` gets READY for that shard and GUILD_CREATE
for the guilds with `(guild_id >> 22) % count == id` only; `mention(guild)` sends a guild's
MESSAGE_CREATE to the sessions running that guild's shard, and no other. What the test then
shows is what the client did: which shards it asked for, and which events reached it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.kit.discord.rest import BOT_USER_ID, FakeDiscord

_ids = itertools.count(1_100_000_000_000_000_000)


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (guild_id >> 22) % shard_count


@dataclass
class ShardSession:
    """One IDENTIFYed gateway connection: its shard and its socket."""

    shard: tuple[int, int]
    ws: web.WebSocketResponse
    seq: int = 1

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        self.seq += 1
        await self.ws.send_json({"op": 0, "t": event, "s": self.seq, "d": data})


class ShardedFakeDiscord(FakeDiscord):
    """`async with ShardedFakeDiscord(token=..., guilds=[...])`; one text channel per guild."""

    def __init__(self, *, token: str, guilds: list[int]) -> None:
        super().__init__(token=token)
        self.guilds = guilds
        self.shards: list[ShardSession] = []

    @property
    def gateway_url(self) -> str:
        return self.base.replace("http", "ws") + "/gateway"

    @staticmethod
    def channel_of(guild_id: int) -> int:
        return guild_id + 1

    async def mention(self, guild_id: int, *, text: str = "make it purple") -> int:
        """A person mentions the bot in the guild's channel; how many sessions got it."""
        data = {
            "id": str(next(_ids)),
            "channel_id": str(self.channel_of(guild_id)),
            "guild_id": str(guild_id),
            "author": _person(next(_ids)),
            "member": {"roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "flags": 0},
            "content": f"<@{BOT_USER_ID}> {text}",
            "timestamp": "2026-12-01T12:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self._user()],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
        }
        targets = [s for s in self.shards if s.shard[0] == shard_of(guild_id, s.shard[1])]
        for session in targets:
            await session.dispatch("MESSAGE_CREATE", data)
        return len(targets)

    async def _answer(self, ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
        if frame.get("op") != 2:  # heartbeats and resumes as the plain fake answers them
            await super()._answer(ws, frame)
            return
        self.identified += 1
        shard_id, count = frame["d"].get("shard", [0, 1])
        session = ShardSession(shard=(shard_id, count), ws=ws)
        mine = [g for g in self.guilds if shard_of(g, count) == shard_id]
        ready = {
            "v": 10,
            "user": self._user(),
            "guilds": [{"id": str(g), "unavailable": True} for g in mine],
            "session_id": f"session-{self.identified}",
            "resume_gateway_url": self.gateway_url,
            "shard": [shard_id, count],
            "application": {"id": self._application()["id"], "flags": 0},
        }
        await ws.send_json({"op": 0, "t": "READY", "s": 1, "d": ready})
        for guild in mine:
            await session.dispatch("GUILD_CREATE", _guild(guild, self.channel_of(guild)))
        self.shards.append(session)


def _person(user_id: int) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": "alice",
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": False,
    }


def _guild(guild_id: int, channel_id: int) -> dict[str, Any]:
    everyone = {
        "id": str(guild_id),
        "name": "@everyone",
        "permissions": "68608",
        "position": 0,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }
    channel = {
        "id": str(channel_id),
        "type": 0,
        "name": "general",
        "position": 0,
        "guild_id": str(guild_id),
        "permission_overwrites": [],
        "nsfw": False,
    }
    return {
        "id": str(guild_id),
        "name": f"guild {guild_id}",
        "owner_id": "1",
        "unavailable": False,
        "member_count": 2,
        "roles": [everyone],
        "channels": [channel],
        "members": [],
        "threads": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "nsfw_level": 0,
        "afk_timeout": 300,
    }
