"""What dpytest lacks for editbot's tests, filled in on dpytest's own seams.

- Outgoing text with files: discord.py sends it as multipart `payload_json`, dpytest reads only
  `payload` and drops it. `CaptionKeepingHttp` (a subclass of dpytest's FakeHttp, installed the
  way dpytest installs its own) reads `payload_json` back, so captions reach the test.
- Message edits go to the stored message (dpytest's edit needs a full Message; we edit through a
  PartialMessage, as production does).
- Command sync: recorded instead of NotImplementedError.
- Interactions: dpytest has none. `RecordingWebhookAdapter` stands in for discord.py's
  AsyncWebhookAdapter (interaction responses and followups all go through it) via discord.py's
  own `async_context` variable; interactions are built from raw INTERACTION_CREATE payloads and
  fed to the real ConnectionState, exactly as the gateway would.
- Threads: dpytest has none. `make_thread` creates a discord.Thread from a THREAD_CREATE payload
  through the real ConnectionState; the ChatPort's thread opener is stood in for with it.
- Incoming messages with attachments and a reply reference: payloads built here, because
  dpytest's helper sets no content type, size or reference.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import pathlib
import re
from dataclasses import dataclass, field
from typing import Any

import discord
import discord.ext.test as dpytest
from discord.ext.test import backend as back
from discord.ext.test import factories as facts
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

from tests.kit.discord.editing import EditingHttp

APPLICATION_ID = 900_000_000_000_000_001
_ids = itertools.count(700_000_000_000_000_000)


def next_id() -> int:
    return next(_ids)


class CaptionKeepingHttp(EditingHttp):
    """dpytest's FakeHttp, keeping message text sent with files and recording command syncs."""

    synced: list[tuple[int | None, list[dict[str, Any]]]]

    async def send_message(self, channel_id: int, *, params: Any) -> Any:
        # dpytest finds the channel in its caller's frame: keep a local named `channel`.
        channel = back._get_higher_locs(1).get("channel")  # noqa: F841
        if params.payload is None and params.multipart:
            for part in params.multipart:
                if part.get("name") == "payload_json":
                    payload = json.loads(part["value"])
                    params = params._replace(payload=payload)
        self.sent.append((channel_id, dict(params.payload or {})))
        sent = await super().send_message(channel_id, params=params)
        self.order.append(("send", int(sent["id"])))
        return sent

    async def bulk_upsert_global_commands(self, application_id: int, payload: Any) -> Any:
        self.synced.append((None, payload))
        return [_command_reply(application_id, p) for p in payload]

    async def bulk_upsert_guild_commands(
        self, application_id: int, guild_id: int, payload: Any
    ) -> Any:
        self.synced.append((guild_id, payload))
        return [_command_reply(application_id, p, guild_id=guild_id) for p in payload]

    sent: list[tuple[int, dict[str, Any]]]

    def custom_ids(self, index: int = -1) -> list[str]:
        """custom_ids of the buttons on a sent message (dpytest's Message drops components)."""
        _, payload = self.sent[index]
        return [c["custom_id"] for row in payload.get("components", []) for c in row["components"]]


def _command_reply(app_id: int, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        **payload,
        "id": str(next_id()),
        "application_id": str(app_id),
        "version": "1",
        "description": payload.get("description", ""),
        **{k: str(v) for k, v in extra.items()},
    }


@dataclass
class WebhookCall:
    """One interaction response or followup, as discord.py would have sent it."""

    method: str
    path: str
    payload: dict[str, Any]
    files: list[tuple[str, bytes]] = field(default_factory=list)


class RecordingWebhookAdapter(AsyncWebhookAdapter):
    """Answers interaction callbacks and followups locally and records them."""

    def __init__(self, channel_for_followups: Any) -> None:
        super().__init__()
        self.calls: list[WebhookCall] = []
        self._channel = channel_for_followups

    async def request(self, route: Any, session: Any, **kwargs: Any) -> Any:
        payload = kwargs.get("payload")
        if payload is None and kwargs.get("multipart"):
            for part in kwargs["multipart"]:
                if part.get("name") == "payload_json":
                    payload = json.loads(part["value"])
        files = []
        for f in kwargs.get("files") or []:
            f.reset()
            files.append((f.filename, f.fp.read()))
        call = WebhookCall(route.method, route.path, payload or {}, files)
        self.calls.append(call)
        if route.path.endswith("/callback"):
            # The interaction callback answer (`with_response=true`).
            kind = (payload or {}).get("type", 0)
            flags = ((payload or {}).get("data") or {}).get("flags", 0)
            return {
                "interaction": {
                    "id": str(route.webhook_id or next_id()),
                    "type": 2,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(flags & 64),
                },
                "resource": {"type": kind},
            }
        # Followups and edits of the original response answer with a message payload.
        user = back.get_state().user
        content = (payload or {}).get("content") or ""
        return facts.make_message_dict(self._channel, user, next_id(), content=content)


def install(bot: discord.Client) -> CaptionKeepingHttp:
    """After dpytest.configure: swap in the caption-keeping HTTP fake, as dpytest swaps its own."""
    state = back.get_state()
    http = CaptionKeepingHttp(loop=asyncio.get_running_loop())
    http.state = state
    http.synced = []
    http.edits = []
    http.sent = []
    http.edit_files = []
    http.deleted = []
    http.order = []
    bot.http = http
    state.http = http
    # What the gateway's READY would have told the client.
    state.application_id = APPLICATION_ID
    # The CommandTree attached itself to the ConnectionState and HTTP client dpytest replaced;
    # attach it to the new ones the way CommandTree.__init__ does.
    tree = getattr(bot, "tree", None)
    if tree is not None:
        state._command_tree = tree
        tree._http = http
    # GUILD_CREATE always lists the bot's own member, cached even without the members intent;
    # dpytest's guilds arrive without it, so permission checks on sends had no member.
    me = state.user
    assert me is not None
    for guild in state.guilds:
        if guild.get_member(me.id) is None:
            data = facts.make_member_dict(guild, me, [])
            guild._add_member(discord.Member(data=data, guild=guild, state=state))
    return http


def image_attachment(
    path: pathlib.Path,
    *,
    content_type: str | None = "image/png",
    host: str = "cdn.discordapp.com",
    size: int | None = None,
) -> discord.Attachment:
    """An attachment whose URL is on `host`; dpytest's CDN fake reads the file at the URL's path."""
    url = f"https://{host}{path.resolve()}"
    data = facts.make_attachment_dict(
        path.name,
        path.stat().st_size if size is None else size,
        url,
        url,
        content_type=content_type,
    )
    return discord.Attachment(state=back.get_state(), data=data)


def post_message(
    content: str,
    *,
    channel: Any,
    author: discord.abc.User,
    attachments: list[discord.Attachment] | None = None,
    reply_to: discord.Message | None = None,
) -> discord.Message:
    """A message from `author`, dispatched through the real ConnectionState (MESSAGE_CREATE).

    Built here because editbot runs without the members intent (dpytest then caches no members
    and cannot resolve mentions) and dpytest's helper sets no content type or reply reference.
    """
    state = back.get_state()
    guild = channel.guild
    mentioned = []
    for raw in re.findall(r"<@!?([0-9]+)>", content):
        user = state.user if state.user and int(raw) == state.user.id else state.get_user(int(raw))
        if user is not None:
            mentioned.append(facts.dict_from_user(user))
    data = facts.make_message_dict(
        channel, author, next_id(), content=content, attachments=attachments or []
    )
    data["guild_id"] = guild.id
    data["mentions"] = mentioned
    # Discord sends the author's guild membership with every guild message.
    data["member"] = {
        "roles": [],
        "joined_at": discord.utils.utcnow().isoformat(),
        "deaf": False,
        "mute": False,
        "flags": 0,
    }
    if reply_to is not None:
        data["message_reference"] = {
            "message_id": reply_to.id,
            "channel_id": reply_to.channel.id,
            "guild_id": guild.id,
        }
        data["type"] = 19
        data["referenced_message"] = facts.dict_from_message(reply_to) | {
            "channel_id": reply_to.channel.id,
            "timestamp": reply_to.created_at.isoformat(),
            "tts": False,
        }
    back._cur_config.messages.setdefault(channel.id, []).append(data)
    state.parse_message_create(data)
    message = state._get_message(data["id"])
    assert message is not None
    return message


def make_thread(
    parent: discord.TextChannel, *, owner_id: int, name: str, thread_id: int | None = None
) -> discord.Thread:
    """A public thread under `parent`, created through the real ConnectionState (THREAD_CREATE).

    `thread_id` re-creates a known thread (a restarted bot sees the same ids); default a new id.
    """
    thread_id = next_id() if thread_id is None else thread_id
    data = {
        "id": str(thread_id),
        "guild_id": str(parent.guild.id),
        "parent_id": str(parent.id),
        "owner_id": str(owner_id),
        "name": name,
        "type": discord.ChannelType.public_thread.value,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": discord.utils.utcnow().isoformat(),
            "locked": False,
        },
        "newly_created": True,
    }
    back.get_state().parse_thread_create(data)
    thread = parent.guild.get_thread(thread_id)
    assert thread is not None
    return thread


def add_member(
    guild: discord.Guild, user: discord.abc.User, *, permissions: discord.Permissions | None = None
) -> discord.Member:
    """Cache `user` as a member of `guild` (as a gateway event would), holding a role that
    grants `permissions` when given (GUILD_ROLE_CREATE through the real ConnectionState)."""
    roles = []
    if permissions is not None:
        roles = [back.make_role(f"role-{next_id()}", guild, permissions=permissions.value).id]
    data = facts.make_member_dict(guild, user, roles)  # type: ignore[arg-type]
    member = discord.Member(data=data, guild=guild, state=back.get_state())  # type: ignore[arg-type]
    guild._add_member(member)
    return member


def member_payload(user: discord.abc.User, *, permissions: discord.Permissions) -> dict[str, Any]:
    return {
        "user": facts.dict_from_user(user),
        "roles": [],
        "joined_at": discord.utils.utcnow().isoformat(),
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": str(permissions.value),
    }


def interaction_payload(
    *,
    kind: int,
    data: dict[str, Any],
    channel: Any,
    member: discord.abc.User,
    permissions: discord.Permissions | None = None,
    message: discord.Message | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload as Discord sends it."""
    perms = permissions or discord.Permissions(send_messages=True)
    payload: dict[str, Any] = {
        "id": str(next_id()),
        "application_id": str(APPLICATION_ID),
        "type": kind,
        "token": "interaction-token",
        "version": 1,
        "guild_id": str(channel.guild.id),
        "channel_id": str(channel.id),
        "channel": {
            "id": str(channel.id),
            "type": channel.type.value,
            "guild_id": str(channel.guild.id),
            "name": channel.name,
        },
        "member": member_payload(member, permissions=perms),
        "app_permissions": str(discord.Permissions.all().value),
        "locale": "en-US",
        "guild_locale": "en-US",
        "attachment_size_limit": 10 * 1024 * 1024,
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(channel.guild.id)},
        "context": 0,
        "data": data,
    }
    if message is not None:
        payload["message"] = facts.dict_from_message(message) | {
            "channel_id": message.channel.id,
            "timestamp": message.created_at.isoformat(),
            "tts": False,
        }
    return payload


async def dispatch_interaction(payload: dict[str, Any], adapter: RecordingWebhookAdapter) -> None:
    """Feed a payload to the real ConnectionState and wait for its handlers to finish."""
    token = async_context.set(adapter)
    try:
        back.get_state().parse_interaction_create(payload)  # type: ignore[arg-type]
        await settle()
    finally:
        async_context.reset(token)


async def settle() -> None:
    """Let every task discord.py started (events, command and item callbacks) run to the end."""
    for _ in range(50):
        await dpytest.run_all_events()
        pending = [
            t
            for t in asyncio.all_tasks()
            if t is not asyncio.current_task()
            and not t.done()
            and t.get_name().startswith(("discord", "CommandTree"))
        ]
        if not pending:
            await asyncio.sleep(0)
            return
        await asyncio.wait(pending, timeout=5)


def attachment_dict(path: pathlib.Path) -> dict[str, Any]:
    """An app command's resolved attachment on Discord's CDN (dpytest reads the URL's path)."""
    url = f"https://cdn.discordapp.com{path.resolve()}"
    return facts.make_attachment_dict(
        path.name, path.stat().st_size, url, url, next_id(), content_type="image/png"
    )


def slash(name: str, options: list[dict[str, Any]], **resolved: Any) -> dict[str, Any]:
    """The `data` of a chat-input command interaction."""
    data: dict[str, Any] = {"id": str(next_id()), "name": name, "type": 1, "options": options}
    if resolved:
        data["resolved"] = resolved
    return data
