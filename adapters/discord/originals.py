"""An `/edit`'s original response as the anchor of its thread, also for a restarted process.

The request goes into the inbox before the deferred response has an id, so its anchor is
first a reference to that response: the interaction's webhook (application id and token,
which Discord keeps for 15 minutes). The process that defers replaces it with the response's
id; a process that takes the request over from a dead one resolves it here, editing the
response to say what is being edited, and opens the thread on it. The reference holds the
interaction token: it is kept in the inbox only, never logged.
"""

from __future__ import annotations

import logging

import discord
from discord.http import Route

log = logging.getLogger(__name__)

PREFIX = "@original:"


def original_anchor(interaction: discord.Interaction) -> str:
    """The anchor of an interaction's original response, before its id is known."""
    return f"{PREFIX}{interaction.application_id}:{interaction.token}"


def _webhook(anchor: str) -> tuple[int, str] | None:
    """(application id, interaction token) of a reference; None for a plain message id."""
    if not anchor.startswith(PREFIX):
        return None
    app_id, _, token = anchor.removeprefix(PREFIX).partition(":")
    if not app_id.isdigit() or not token:
        return None
    return int(app_id), token


async def anchor_message(client: discord.Client, anchor: str | None, *, title: str) -> int | None:
    """The message id a thread opens on: `anchor` itself, or the original response it refers
    to, edited to say `Editing: title` (None once the response is gone or its token expired:
    the thread then opens bare in the channel)."""
    if anchor is None:
        return None
    webhook = _webhook(anchor)
    if webhook is None:
        return int(anchor) if anchor.isdigit() else None
    app_id, token = webhook
    route = Route(
        "PATCH",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        webhook_id=app_id,
        webhook_token=token,
    )
    payload = {"content": f"Editing: {title}", "allowed_mentions": {"parse": []}}
    try:
        data = await client.http.request(route, json=payload)
    except discord.HTTPException as exc:
        log.warning("the /edit response to anchor on is gone (HTTP %s)", exc.status)
        return None
    return int(data["id"])
