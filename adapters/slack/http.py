"""HTTP mode: Slack's POST /slack/events as an aiohttp handler over bolt's request conversion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""An aiohttp request handler."""


def slack_events_handler(app: AsyncApp) -> Handler:
    """The handler to mount at /slack/events (bot.app.web.build_web_app's slack_handler)."""

    async def handle(request: web.Request) -> web.Response:
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    return handle
