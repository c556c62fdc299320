"""The platform-neutral HTTP side of a running editbot: /healthz, /metrics, and Slack's events."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.core.metrics import CONTENT_TYPE, Registry

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HealthCheck = Callable[[], Awaitable[dict[str, Any]]]

SLACK_EVENTS_PATH = "/slack/events"
SLACK_OAUTH_PATHS = ("/slack/install", "/slack/oauth_redirect")


def build_web_app(
    *,
    health: HealthCheck | None,
    metrics: Registry,
    slack_handler: Handler | None = None,
    slack_oauth_handler: Handler | None = None,
    scrape: Callable[[], Awaitable[None]] | None = None,
) -> web.Application:
    """GET /healthz, GET /metrics, and POST /slack/events when a Slack handler is given.

    Args:
        health: extra facts for /healthz; a check that raises, or answers `"ok": False`,
            turns the answer into a 503.
        slack_handler: Slack's HTTP-mode endpoint (adapters.slack.http.slack_events_handler).
        slack_oauth_handler: GET /slack/install and /slack/oauth_redirect, for installs in many
            workspaces (adapters.slack.oauth.oauth_handler).
        scrape: sets the gauges read from the database, before each /metrics answer.
    """

    async def healthz(_: web.Request) -> web.Response:
        try:
            extra = await health() if health is not None else {}
        except Exception as exc:  # any failing dependency means "not healthy", said plainly
            return web.json_response({"ok": False, "error": type(exc).__name__}, status=503)
        # A check may say it is not healthy (a platform away past its grace): 503, with why.
        healthy = extra.pop("ok", True) is not False
        return web.json_response({"ok": healthy, **extra}, status=200 if healthy else 503)

    async def metrics_text(_: web.Request) -> web.Response:
        if scrape is not None:
            try:
                await scrape()
            except Exception as exc:  # the process's own counters are still worth serving
                log.warning("metrics: reading the database failed (%s)", type(exc).__name__)
        return web.Response(body=metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_text)
    if slack_handler is not None:
        app.router.add_post(SLACK_EVENTS_PATH, _timed_ack(slack_handler, metrics))
    if slack_oauth_handler is not None:
        for path in SLACK_OAUTH_PATHS:
            app.router.add_get(path, slack_oauth_handler)
    return app


def _timed_ack(handler: Handler, metrics: Registry) -> Handler:
    """Slack's events handler, timed: its answer is the ack Slack waits 3 seconds for."""
    ack = metrics.histogram("ack_seconds", "Seconds to answer (ack) a platform's event")

    async def timed(request: web.Request) -> web.StreamResponse:
        start = time.perf_counter()
        try:
            return await handler(request)
        finally:
            ack.observe(time.perf_counter() - start, platform="slack")

    return timed
