"""HTTP mode: Slack's POST /slack/events as an aiohttp handler over bolt's request conversion.

A request bolt cannot read (a timestamp that is not a number, a body that is not what its
content type says) is answered 401 or 400 here with one log line, before bolt would fail on
it with a 500 and a traceback. bolt checks the signature of everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
"""An aiohttp request handler."""


def _refuse(status: int, why: str, request: web.Request) -> web.Response:
    log.warning("slack: answered %d to a request from %s: %s", status, request.remote, why)
    # X-Slack-No-Retry: a request that is malformed now is malformed when Slack resends it.
    return web.Response(status=status, text=why, headers={"X-Slack-No-Retry": "1"})


def slack_events_handler(app: AsyncApp) -> Handler:
    """The handler to mount at /slack/events (bot.app.web.build_web_app's slack_handler)."""

    async def handle(request: web.Request) -> web.Response:
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        if not timestamp.isascii() or not timestamp.isdigit():
            return _refuse(401, "missing or malformed x-slack-request-timestamp", request)
        if not request.headers.get("x-slack-signature"):
            return _refuse(401, "missing x-slack-signature", request)
        try:
            bolt_request = await to_bolt_request(request)
        except Exception as exc:  # noqa: BLE001 - only parsing happens here, no I/O but the read
            # Not UTF-8, not JSON, JSON that is not an object: bolt assumes all of them away.
            return _refuse(400, f"unreadable body ({type(exc).__name__})", request)
        bolt_response = await app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    return handle
