"""One bot token per workspace (OAuth installs): downloads and deliveries with the right one.

With a single SLACK_BOT_TOKEN everything uses it. With OAuth installs, bolt hands each request
its workspace's token (context.bot_token); files are downloaded with it (`attach_for`), and the
workers deliver through `TeamChatPort`, which sends each call to a SlackChatPort holding the
token of the place's workspace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from adapters.slack.chat import SlackChatPort
from adapters.slack.downloads import SlackDownloader
from adapters.slack.translate import PLATFORM, AttachmentFactory
from bot.core.domain import Place
from bot.core.errors import PlatformError
from bot.core.origins import Origin
from bot.core.ports import MessageRef

TokenOf = Callable[[str], Awaitable[str | None]]
"""A workspace id to its bot token now (None: editbot is not installed there)."""


class Downloaders:
    """SlackDownloaders by bot token, made on one httpx client (OAuth mode)."""

    def __init__(
        self, *, http: httpx.AsyncClient, max_bytes: int, hosts: frozenset[Origin]
    ) -> None:
        self._http = http
        self._max_bytes = max_bytes
        self._hosts = hosts
        self._by_token: dict[str, SlackDownloader] = {}

    def for_token(self, token: str) -> SlackDownloader:
        found = self._by_token.get(token)
        if found is None:
            found = self._by_token[token] = SlackDownloader(
                http=self._http, token=token, max_bytes=self._max_bytes, hosts=self._hosts
            )
        return found


def attach_for(downloader: SlackDownloader | Downloaders, token: str | None) -> AttachmentFactory:
    """How a request's files become Attachments: with the one bot token, or the request's
    workspace's (`token`, bolt's context.bot_token) in OAuth mode."""
    if isinstance(downloader, SlackDownloader):
        return downloader.attachment
    if not token:
        raise PlatformError("no bot token for this workspace: is editbot installed there?")
    return downloader.for_token(token).attachment


class TeamChatPort:
    """The Slack ChatPort of OAuth mode: every call goes to the place's workspace's port.

    Each ChatPort method (whatever bot.core.ports.ChatPort lists) takes the Place or the
    MessageRef it acts on first; its workspace names the token, looked up (and renewed when
    token rotation is on) on every call, so a re-install or a rotation takes effect at once.
    """

    platform = PLATFORM

    def __init__(self, *, token_of: TokenOf, make_port: Callable[[str], SlackChatPort]) -> None:
        self._token_of = token_of
        self._make_port = make_port
        self._ports: dict[str, tuple[str, SlackChatPort]] = {}

    async def port_for(self, team: str) -> SlackChatPort:
        """The SlackChatPort with `team`'s current bot token."""
        token = await self._token_of(team)
        if token is None:
            raise PlatformError(f"editbot is not installed in Slack workspace {team or '?'}")
        held = self._ports.get(team)
        if held is None or held[0] != token:
            held = self._ports[team] = (token, self._make_port(token))
        return held[1]

    async def flush(self) -> None:
        """Wait for every workspace's pending chat.update."""
        for _, port in list(self._ports.values()):
            await port.flush()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not callable(getattr(SlackChatPort, name, None)):
            raise AttributeError(name)

        async def call(first: Place | MessageRef, *args: Any, **kwargs: Any) -> Any:
            place = first.place if isinstance(first, MessageRef) else first
            port = await self.port_for(place.workspace)
            return await getattr(port, name)(first, *args, **kwargs)

        call.__name__ = name
        return call
