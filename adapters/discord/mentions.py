"""Who a Discord message editbot sends may ping: nobody, or the person it answers.

discord.py sends `allowed_mentions` only when told (the client's default or per send); without
it Discord pings every mention in the content, `@everyone` and roles included, and prompts,
file names and provider messages end up in what editbot posts.
"""

from __future__ import annotations

import discord

from bot.core.domain import Place


def requester_only(place: Place) -> discord.AllowedMentions:
    """A mention of the person the message answers (place.user) pings them; nothing else does."""
    if not place.user.isdigit():
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(
        everyone=False, roles=False, replied_user=False, users=[discord.Object(int(place.user))]
    )
