"""The platform-neutral HTTP side of a running editbot: /healthz, /metrics, and Slack's events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.core.metrics import Registry

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
HealthCheck = Callable[[], Awaitable[dict[str, Any]]]

SLACK_EVENTS_PATH = "/slack/events"


def build_web_app(
    *,
    health: HealthCheck | None,
    metrics: Registry,
    slack_handler: Handler | None = None,
) -> web.Application:
    """GET /healthz, GET /metrics, and POST /slack/events when a Slack handler is given.

    Args:
        health: extra facts for /healthz; a check that raises turns the answer into a 503.
        slack_handler: Slack's HTTP-mode endpoint (adapters.slack.http.slack_events_handler).
    """

    async def healthz(_: web.Request) -> web.Response:
        try:
            extra = await health() if health is not None else {}
        except Exception as exc:  # any failing dependency means "not healthy", said plainly
            return web.json_response({"ok": False, "error": type(exc).__name__}, status=503)
        return web.json_response({"ok": True, **extra})

    async def metrics_text(_: web.Request) -> web.Response:
        return web.Response(text=metrics.render(), content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_text)
    if slack_handler is not None:
        app.router.add_post(SLACK_EVENTS_PATH, slack_handler)
    return app
