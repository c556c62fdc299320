"""The Home tab: published on `app_home_opened` (views.publish), and the admins' budget
settings modal opened from it.

The core says what the person sees (EditServicePort.home); Slack adds the pictures and links:
each edit's result thumbnail is the result file editbot shared in its thread (one files.list
of the bot's images), and its link is the thread's permalink.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.edit_command import client_of
from adapters.slack.home_view import home_view, settings_command, settings_modal
from adapters.slack.payloads import BlockActionsBody, ViewSubmissionBody
from adapters.slack.translate import PLATFORM
from adapters.slack.views import view_values
from bot.core.domain import Place
from bot.core.home import HomeView

if TYPE_CHECKING:
    from adapters.slack.listeners import ListenerDeps

log = logging.getLogger(__name__)

FILES_LISTED = 100


async def publish_home(
    event: dict[str, Any], context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """`app_home_opened` on the Home tab (not the Messages tab): publish the person's Home."""
    if event.get("tab", "home") != "home":
        return
    await publish(
        client_of(context, deps),
        team=str(context.team_id or ""),
        user=str(event["user"]),
        bot_user=context.bot_user_id,
        deps=deps,
    )


async def publish(
    client: AsyncWebClient,
    *,
    team: str,
    user: str,
    bot_user: str | None,
    deps: ListenerDeps,
    note: str | None = None,
) -> None:
    """views.publish the Home of `user` in `team`, with `note` on top when given."""
    view = await _home(client, team=team, user=user, deps=deps)
    thumbnails = await _thumbnails(client, view, bot_user)
    links = await _links(client, view)
    deps.events.inc(kind="app_home_opened")
    await client.views_publish(
        user_id=user, view=home_view(view, thumbnails=thumbnails, links=links, note=note)
    )


async def open_budget_settings(
    ack: AsyncAck, body: BlockActionsBody, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """An admin's "Budget settings" on a channel of their Home: the modal, from its budget."""
    await ack()
    client = client_of(context, deps)
    channel = str(((body.get("actions") or [{}])[0]).get("value") or "")
    team, user = _team(body, context), str(body["user"]["id"])
    view = await _home(client, team=team, user=user, deps=deps)
    budget = next((b for b in view.all_channels if b.channel == channel), None)
    if budget is None:  # not an admin (any more), or a channel that is gone
        await publish(client, team=team, user=user, bot_user=context.bot_user_id, deps=deps)
        return
    await client.views_open(
        trigger_id=str(body.get("trigger_id") or ""), view=settings_modal(budget)
    )


async def save_budget_settings(
    ack: AsyncAck, body: ViewSubmissionBody, context: AsyncBoltContext, *, deps: ListenerDeps
) -> None:
    """The settings modal's Save: the core's `set` (it checks the person is an admin), then
    the Home again, saying what happened."""
    await ack()
    client = client_of(context, deps)
    view = body["view"]
    meta = json.loads(view.get("private_metadata") or "{}")
    values: dict[str, Any] = dict(view_values(view))
    team, user = _team(body, context), str(body["user"]["id"])
    place = Place(platform=PLATFORM, workspace=team, channel=str(meta["channel"]), user=user)
    admin = await platform_admin(client, user)
    reply = await deps.service.budget(place, settings_command(values), platform_admin=admin)
    await publish(
        client, team=team, user=user, bot_user=context.bot_user_id, deps=deps, note=reply.text
    )


async def platform_admin(client: AsyncWebClient, user: str) -> bool:
    """What Slack says: a workspace admin or owner (the core adds EDITBOT_ADMINS)."""
    resp = await client.users_info(user=user)
    info = resp.get("user") or {}
    return bool(info.get("is_admin") or info.get("is_owner"))


async def _home(client: AsyncWebClient, *, team: str, user: str, deps: ListenerDeps) -> HomeView:
    admin = await platform_admin(client, user)
    place = Place(platform=PLATFORM, workspace=team, channel="", user=user)
    return await deps.service.home(place, platform_admin=admin)


async def _thumbnails(
    client: AsyncWebClient, view: HomeView, bot_user: str | None
) -> dict[tuple[str, str], str]:
    """The newest image editbot shared in each edit's thread: file ids by (channel, thread)."""
    wanted = {(e.place.channel, e.place.thread) for e in view.edits if e.place.thread}
    if not wanted or not bot_user:
        return {}
    since = int(min(e.created_at for e in view.edits).timestamp()) - 60
    try:
        resp = await client.files_list(
            user=bot_user, types="images", ts_from=str(since), count=FILES_LISTED
        )
    except SlackApiError as exc:
        log.info("slack: no thumbnails for the Home tab: %s", exc.response.get("error"))
        return {}
    found: dict[tuple[str, str], str] = {}
    for f in resp.get("files") or []:  # newest first
        for shares in (f.get("shares") or {}).values():
            for channel, posts in shares.items():
                for post in posts:
                    key = (str(channel), str(post.get("thread_ts") or post.get("ts")))
                    if key in wanted:
                        found.setdefault(key, str(f["id"]))
    return found


async def _links(client: AsyncWebClient, view: HomeView) -> dict[str, str]:
    """Each edit's thread permalink by job id (chat.getPermalink)."""
    links: dict[str, str] = {}
    for e in view.edits:
        if not e.place.thread:
            continue
        try:
            got = await client.chat_getPermalink(channel=e.place.channel, message_ts=e.place.thread)
        except SlackApiError:
            continue
        if got.get("permalink"):
            links[e.job_id] = str(got["permalink"])
    return links


def _team(body: BlockActionsBody | ViewSubmissionBody, context: AsyncBoltContext) -> str:
    team = body.get("team") or {}
    return str(context.team_id or team.get("id") or body["user"].get("team_id") or "")
