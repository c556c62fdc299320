"""Slack in OAuth mode (installs in many workspaces), wired to an App.

Settings.slack_oauth: SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set, no SLACK_BOT_TOKEN. The
installation and state stores are slack_sdk's SQLAlchemy stores on the App's own database
engine (opened by storage, handed over here: adapters never import SQLAlchemy), and every
workspace's results are delivered with its own bot token (adapters.slack.teams.TeamChatPort).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from adapters.slack.app import build_slack_app, build_slack_client, make_team_chat_port
from adapters.slack.downloads import allowed_hosts
from adapters.slack.http import Handler, slack_events_handler
from adapters.slack.oauth import SlackInstalls, oauth_handler
from adapters.slack.serve import serve_slack
from adapters.slack.socket import uses_socket_mode
from adapters.slack.teams import Downloaders, TeamChatPort
from bot.app.root import App

Serve = Callable[[web.Application], Coroutine[Any, Any, None]]


def _parts(app: App) -> tuple[SlackInstalls, Downloaders, TeamChatPort]:
    settings = app.settings
    client = build_slack_client(settings, session=app.slack_session)
    installs = SlackInstalls(settings=settings, engine=app.database.engine, client=client)
    downloaders = Downloaders(
        http=app.http,
        max_bytes=settings.max_input_bytes,
        hosts=allowed_hosts(settings.slack_api_url),
    )
    chat = make_team_chat_port(
        settings=settings, installs=installs, downloaders=downloaders, session=app.slack_session
    )
    return installs, downloaders, chat


def wire_slack_oauth(app: App) -> tuple[Handler | None, Serve, Handler]:
    """The AsyncApp with bolt's install flow on the App's service, and its ChatPort in
    `app.chats`. Returns the /slack/events handler (None in Socket Mode), how to serve, and the
    /slack/install + /slack/oauth_redirect handler."""
    settings = app.settings
    installs, downloaders, chat = _parts(app)
    app.chats["slack"] = chat
    slack = build_slack_app(
        settings=settings,
        client=build_slack_client(settings, session=app.slack_session),
        service=app.service,
        downloader=downloaders,
        metrics=app.metrics,
        installs=installs,
    )
    events = None if uses_socket_mode(settings) else slack_events_handler(slack)

    async def serve(web_app: web.Application) -> None:
        await serve_slack(app=slack, settings=settings, web_app=web_app)

    return events, serve, oauth_handler(slack)


def delivery_chat_oauth(app: App) -> TeamChatPort:
    """`editbot worker`'s Slack ChatPort in OAuth mode: tokens from the installation store."""
    return _parts(app)[2]
