"""The private side of SlackChatPort: ephemeral answers, direct messages, people's names.

A mixin so the ChatPort keeps one class; it needs only the Web API client.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.escape import private
from adapters.slack.views import message_blocks
from bot.core.domain import Place
from bot.core.errors import PlatformError
from bot.core.ports import ActionButton, PrivateFile

ADMINS_TTL_S = 300.0
"""How long a workspace's admins are remembered: users.list pages through everyone, and a
refusal names who can raise the cap every time."""
_PAGE = 1000
_MAX_PAGES = 5
"""users.list is rate limited (Tier 2): past 5,000 people the admins found so far are named
(the warning and the refusal still say "a workspace admin" in words)."""


async def _api(method: Callable[..., Awaitable[Any]], **kwargs: object) -> dict[str, Any]:
    """A Web API call without None arguments; SlackApiError becomes PlatformError."""
    try:
        resp = await method(**{k: v for k, v in kwargs.items() if v is not None})
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        raise PlatformError(f"Slack refused the call: {error or 'unknown error'}") from exc
    data = getattr(resp, "data", resp)
    return data if isinstance(data, dict) else {}


def name_of(user: Mapping[str, Any]) -> str:
    """What Slack shows for a person: the display name, else the real name, else the handle."""
    profile = user.get("profile") or {}
    for candidate in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if candidate:
            return str(candidate)
    return str(user.get("id") or "")


def is_workspace_admin(user: Mapping[str, Any]) -> bool:
    """A person (not a bot, not deactivated) who is a workspace admin or owner."""
    if user.get("is_bot") or user.get("deleted") or user.get("id") == "USLACKBOT":
        return False
    return bool(user.get("is_admin") or user.get("is_owner"))


class SlackPeople:
    """post_private, send_direct, display_names, channel_name, thread_link and admins over the
    Web API."""

    _client: AsyncWebClient
    _admins: dict[str, tuple[float, list[str]]]

    async def post_private(
        self, place: Place, text: str, *, actions: Sequence[ActionButton] = ()
    ) -> None:
        """chat.postEphemeral: only place.user sees it, in the thread when there is one."""
        text = private(text)
        await _api(
            self._client.chat_postEphemeral,
            channel=place.channel,
            user=place.user,
            thread_ts=place.thread,
            text=text,
            blocks=message_blocks(text, actions),
        )

    async def tell_outcome(self, place: Place, outcome: str) -> None:
        """A Slack request has no reply of its own besides the thread: nothing to update."""

    async def send_direct(
        self, place: Place, user: str, text: str, *, file: PrivateFile | None = None
    ) -> None:
        """conversations.open with the person, then a message (or a file) in that DM."""
        text = private(text)
        opened = await _api(self._client.conversations_open, users=user)
        channel = str((opened.get("channel") or {}).get("id") or "")
        if not channel:
            raise PlatformError("Slack opened no direct message channel")
        if file is None:
            await _api(self._client.chat_postMessage, channel=channel, text=text)
            return
        await _api(
            self._client.files_upload_v2,
            content=file.data,
            filename=file.filename,
            title=file.filename,
            channel=channel,
            initial_comment=text,
        )

    async def display_names(self, place: Place, users: Sequence[str]) -> Mapping[str, str]:
        names: dict[str, str] = {}
        for user in dict.fromkeys(users):
            try:
                info = await _api(self._client.users_info, user=user)
            except PlatformError:
                names[user] = user
                continue
            names[user] = name_of(info.get("user") or {"id": user})
        return names

    async def channel_name(self, place: Place) -> str:
        try:
            info = await _api(self._client.conversations_info, channel=place.channel)
        except PlatformError:
            return place.channel
        name = (info.get("channel") or {}).get("name")
        return f"#{name}" if name else place.channel

    async def thread_link(self, place: Place) -> str | None:
        if not place.thread:
            return None
        try:
            got = await _api(
                self._client.chat_getPermalink, channel=place.channel, message_ts=place.thread
            )
        except PlatformError:
            return None
        link = got.get("permalink")
        return str(link) if link else None

    async def admins(self, place: Place) -> list[str]:
        """The workspace's admins and owners (users.list, every page), remembered a while."""
        held = self._admins.get(place.workspace)
        if held is not None and time.monotonic() - held[0] < ADMINS_TTL_S:
            return list(held[1])
        found: list[str] = []
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            # The token is the workspace's (adapters.slack.teams), so it names the workspace.
            page = await _api(self._client.users_list, limit=_PAGE, cursor=cursor)
            found += [str(u["id"]) for u in page.get("members") or [] if is_workspace_admin(u)]
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        self._admins[place.workspace] = (time.monotonic(), found)
        return list(found)
